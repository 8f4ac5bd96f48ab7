"""Two small real logs for the browser's cross-log tests: a farm's and a plant's.

Each is a real LevelDB store written by the log writer, with one operator
(``op``, one key for both logs) holding the party's role, and every
checkpoint cosigned by both test witnesses (:data:`WITNESSES`).
"""

from __future__ import annotations

from pathlib import Path

from chain import checkpoint, note
from chain.crosslog import LogReference, reference_from_proof
from chain.entries import Entry, event_payload, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import LogInfo

T0 = 1_767_225_600_000
FARM, PLANT = "farm-a.example/log", "plant.example/log"
WITNESSES = [checkpoint.generate_cosigner_key(f"w{n}.example/witness") for n in (1, 2)]
OPERATOR = SignerKey.generate("op", seed=b"\x07" * 32)


class PartyLog:
    """A real log in ``root`` whose operator ``op`` holds ``role``; each checkpoint cosigned.

    The genesis administrator ``admin`` registers ``op`` and may sign one recall.
    """

    def __init__(self, root: Path, origin: str, role: str) -> None:
        data_dir = DataDir(root)
        admin = self.admin = SignerKey.generate("admin")
        self.trust = init_data_dir(data_dir, origin, [admin], T0 - 60_000)
        self.store = Store.open(data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(data_dir))
        self.seq = 0
        register = operator_payload(
            "register", "op", 2, T0 - 30_000, pubkey=OPERATOR.public_key, roles=[role]
        )
        self._commit([parse_entry(sign_entry(register, "admin", admin.seed))])

    def commit(self, *payloads: dict[str, object]) -> list[int]:
        """Commit one block of events signed by ``op``; return their indexes."""
        return self._commit([parse_entry(sign_entry(p, "op", OPERATOR.seed)) for p in payloads])

    def recall(self, ts: int, subjects: list[str], reason: str) -> int:
        """Commit a recall signed by the genesis administrator; return its index."""
        payload = event_payload("recalled", 3, ts, subjects, reason=reason)
        return self._commit([parse_entry(sign_entry(payload, "admin", self.admin.seed))])[0]

    def _commit(self, entries: list[Entry]) -> list[int]:
        first = self.store.entry_count
        self.writer.commit_block(entries, T0)
        signed = self.writer.sign_checkpoint()
        text = note.parse(signed).text
        cosigned = signed + "".join(checkpoint.cosign(text, s, 1_767_300_000) for s, _ in WITNESSES)
        self.store.put_checkpoint(self.store.size, cosigned)
        return list(range(first, first + len(entries)))

    def event(
        self, event: str, ts: int, subjects: list[str], **fields: object
    ) -> dict[str, object]:
        self.seq += 1
        return event_payload(event, self.seq, ts, subjects, **fields)

    def source(self, size: int | None = None) -> LogInfo:
        """The read API's view: the latest checkpoint, or only the one of ``size`` (a rollback)."""
        witnesses = tuple(vkey for _, vkey in WITNESSES)
        fixed = None if size is None else (lambda: (size, self.store.checkpoint(size)))
        trust = self.trust
        return LogInfo(trust.origin, trust.log_key, witnesses, self.store, trust.admins, fixed)

    def close(self) -> None:
        self.store.close()

    def ref(self, index: int, subject: str, size: int | None = None) -> LogReference:
        """The reference a writer makes to entry ``index`` at checkpoint ``size`` (the latest)."""
        return reference_from_proof(build_entry_proof(self.store, index, size), subject)


POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in WITNESSES))
