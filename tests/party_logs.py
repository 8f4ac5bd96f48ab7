"""Party logs for the cross-log tests: one real LevelDB log per party, cosigned by a witness.

Each :class:`PartyLog` is a data directory made by ``gateway.init`` (log key,
trust root, genesis admin), with one operator registered for the party's
role. :meth:`PartyLog.event` signs an event, commits it as a block and
publishes a checkpoint cosigned by the test witness; :meth:`PartyLog.ref`
makes the reference a writer would put in its event; :meth:`PartyLog.pin`
is its item of a pins file (docs/supply-chain.md section 4).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from server_thread import ServerThread
from werkzeug.serving import make_server

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.crosslog import reference_from_proof
from chain.entries import event_payload, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import LogInfo, create_app

START_MS = 1_767_225_600_000

WITNESS_SKEY, WITNESS_VKEY = generate_cosigner_key("w1.example/witness", seed=b"\x07" * 32)
POLICY = WitnessPolicy(1, (Witness(WITNESS_VKEY),))


def _seed(*names: str) -> bytes:
    return hashlib.sha256("/".join(names).encode()).digest()


class Served:
    """A read API serving one log over real HTTP; :meth:`stop` it when done."""

    def __init__(self, thread: ServerThread) -> None:
        self._thread: ServerThread | None = thread
        self.url = f"http://127.0.0.1:{thread.port}"

    def stop(self) -> None:
        """Stop serving (the port then refuses connections); idempotent."""
        if self._thread is not None:
            self._thread.stop()
            self._thread = None


class PartyLog:
    """One party's own log, with one operator ``role`` signing its events."""

    def __init__(self, root: Path, origin: str, role: str) -> None:
        self.origin, self.role = origin, role
        self.data_dir = DataDir(root)
        admin = SignerKey.generate("admin", seed=_seed(origin, "admin"))
        self.trust = init_data_dir(self.data_dir, origin, [admin], START_MS - 1000)
        self.store = Store.open(self.data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(self.data_dir))
        self.operator = SignerKey.generate(role, seed=_seed(origin, role))
        payload = operator_payload(
            "register", role, 2, START_MS - 500, pubkey=self.operator.public_key, roles=[role]
        )
        self.commit(sign_entry(payload, "admin", admin.seed))
        self.seq = 0

    def commit(self, *raws: bytes) -> int:
        """Commit ``raws`` as one block with a cosigned checkpoint; the index of the first."""
        first = self.store.entry_count
        self.writer.commit_block([parse_entry(raw) for raw in raws], START_MS)
        signed = self.writer.sign_checkpoint()
        text = note.parse(signed).text
        self.store.put_checkpoint(self.store.size, signed + cosign(text, WITNESS_SKEY, 1_780_000))
        return first

    def sign(self, event: str, subjects: list[str], ts: int, **fields: object) -> bytes:
        """``event`` signed by the party's operator, with its next seq (not committed)."""
        self.seq += 1
        payload = event_payload(event, self.seq, ts, subjects, **fields)
        return sign_entry(payload, self.role, self.operator.seed)

    def event(self, event: str, subjects: list[str], ts: int, **fields: object) -> int:
        """Sign ``event`` by the party's operator and commit it; its log index."""
        return self.commit(self.sign(event, subjects, ts, **fields))

    def ref(self, index: int, subject: str) -> dict[str, object]:
        """The reference to entry ``index`` about ``subject`` at the current checkpoint."""
        proof = build_entry_proof(self.store, index, self.store.size)
        return reference_from_proof(proof, subject).to_json()

    def fork(self, root: Path) -> PartyLog:
        """The log as it is now, copied under ``root`` with the same keys, free to diverge.

        What a party does when it restores an old backup and goes on writing.
        """
        twin = copy.copy(self)
        twin.data_dir = DataDir(root)
        shutil.copytree(self.data_dir.keys, twin.data_dir.keys)
        shutil.copyfile(self.data_dir.trust, twin.data_dir.trust)
        self.store.copy_to(twin.data_dir.log)
        twin.store = Store.open(twin.data_dir.log)
        twin.writer = LogWriter(twin.store, read_log_signer(twin.data_dir))
        return twin

    def snapshot(self, root: Path) -> Store:
        """A copy of the log as it is now (opened): to serve later, as if it were rolled back."""
        self.store.copy_to(root)
        return Store.open(root)

    def serve(self, store: Store | None = None) -> Served:
        """The read API over ``store`` (default: the log itself) on a free loopback port."""
        info = LogInfo(
            self.origin,
            self.trust.log_key,
            (WITNESS_VKEY,),
            store or self.store,
            keeps_ref_checkpoints=True,  # as the party's own gateway serves it
        )
        return Served(ServerThread(make_server("127.0.0.1", 0, create_app(info), threaded=True)))

    def pin(self, pins_dir: Path, sources: list[str], **extra: Any) -> dict[str, Any]:
        """Write its trust root and witness policy under ``pins_dir``; its pins file item."""
        folder = pins_dir / self.origin.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.data_dir.trust, folder / "trust.json")
        (folder / "witnesses.json").write_text(POLICY.to_json())
        return {
            "origin": self.origin,
            "role": extra.pop("role", "other"),
            "trust": f"{folder.name}/trust.json",
            "witnesses": f"{folder.name}/witnesses.json",
            "sources": sources,
            **extra,
        }

    def close(self) -> None:
        self.store.close()


def write_pins(path: Path, items: list[dict[str, Any]]) -> Path:
    """Write a pins file of ``items`` (each from :meth:`PartyLog.pin`, in ``path``'s folder)."""
    path.write_text(json.dumps({"logs": items}, indent=2))
    return path
