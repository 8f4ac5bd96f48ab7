"""A small log with every case the in-browser verifier must tell apart.

Built entry by entry (like a gateway would commit them, but including entries
a gateway would refuse), one checkpoint per block, the last one cosigned by
one of two witnesses. ``BrowserLog.entries`` names the interesting indexes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from chain import checkpoint, note
from chain._encoding import b64url_decode, b64url_encode
from chain.entries import (
    Entry,
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import LogInfo

ORIGIN = "browser.example/log"
START_MS = 1_767_225_600_000
_MINUTE = 60_000


def _key(name: str) -> SignerKey:
    return SignerKey.generate(name, seed=random.Random(name).randbytes(32))


@dataclass
class BrowserLog:
    """The built log, open; ``entries`` maps a case name to its global index."""

    data_dir: DataDir
    trust: TrustRoot
    store: Store
    witness_signers: tuple[str, ...]
    witnesses: tuple[str, ...]
    entries: dict[str, int] = field(default_factory=dict)

    @property
    def source(self) -> LogInfo:
        trust = self.trust
        return LogInfo(trust.origin, trust.log_key, self.witnesses, self.store, trust.admins)

    def close(self) -> None:
        self.store.close()


class _Builder:
    def __init__(self, root: Path) -> None:
        self.data_dir = DataDir(root)
        self.admin = _key("farm-admin")
        self.trust = init_data_dir(self.data_dir, ORIGIN, [self.admin], START_MS - 60 * _MINUTE)
        self.store = Store.open(self.data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(self.data_dir))
        self.seqs: dict[str, int] = {"farm-admin": 1}
        self.entries: dict[str, int] = {"genesis": 0}
        self.pending: list[Entry] = []

    def sign(self, name: str, payload: dict[str, object], key: SignerKey, kid: str = "") -> Entry:
        entry = parse_entry(sign_entry(payload, kid or key.id, key.seed))
        self.entries[name] = self.store.entry_count + len(self.pending)
        self.pending.append(entry)
        return entry

    def seq(self, signer: str) -> int:
        self.seqs[signer] = self.seqs.get(signer, 0) + 1
        return self.seqs[signer]

    def operator(self, name: str, op: SignerKey, roles: list[str], ts: int) -> None:
        payload = operator_payload(
            "register", op.id, self.seq("farm-admin"), ts, pubkey=op.public_key, roles=roles
        )
        self.sign(name, payload, self.admin)

    def device(self, name: str, by: SignerKey, dev: SignerKey, ts: int, action: str) -> None:
        pubkey = dev.public_key if action == "register" else None
        register = action == "register"
        payload = device_payload(
            action,
            dev.id,
            self.seq(by.id),
            ts,
            pubkey=pubkey,
            location="barn:b1",
            kinds=["temperature"] if register else None,
            subjects=["barn:b1"] if register else None,
        )
        self.sign(name, payload, by)

    def reading(self, name: str, key: SignerKey, dev: str, ts: int, value: float = 21.5) -> Entry:
        payload = reading_payload(dev, self.seq(dev), ts, "temperature", "barn:b1", value, "Cel")
        return self.sign(name, payload, key, dev)

    def commit(self) -> None:
        self.writer.commit_block(self.pending, START_MS)
        self.writer.sign_checkpoint()
        self.pending = []


def _forged(entry: Entry) -> Entry:
    """``entry`` with one bit of its signature flipped: well formed, but not validly signed."""
    head, payload, signature = entry.raw.decode().split(".")
    flipped = bytearray(b64url_decode(signature))
    flipped[10] ^= 0x01
    return parse_entry(f"{head}.{payload}.{b64url_encode(bytes(flipped))}".encode())


def build_browser_log(root: Path) -> BrowserLog:
    """Build the log under ``root`` (see the module docstring and the comments below)."""
    b = _Builder(root)
    farm_op, vet = _key("farm-op"), _key("vet")
    sensor, rotated, rogue = _key("barn1-temp"), _key("barn1-temp-v2"), _key("rogue")
    t = START_MS
    b.operator("farm_op_registered", farm_op, ["farm"], t - 30 * _MINUTE)
    b.operator("vet_registered", vet, ["vet"], t - 30 * _MINUTE)
    b.commit()
    b.device("device_registered", farm_op, sensor, t - 20 * _MINUTE, "register")
    b.commit()
    for minute in range(5):
        b.reading(f"reading{minute}", sensor, "barn1-temp", t + minute * _MINUTE)
    event = event_payload("vaccinated", b.seq("vet"), t + 6 * _MINUTE, ["bird:b1"], vaccine="ND")
    b.sign("event", event, vet)
    forged = b.reading("forged", sensor, "barn1-temp", t + 7 * _MINUTE)
    b.pending[-1] = _forged(forged)
    b.commit()
    # The sensor's key is rotated at t + 60 min. A reading signed with the old
    # key before that, but logged after it (buffered offline), still counts.
    b.sign(
        "rotation",
        device_payload(
            "register",
            "barn1-temp",
            b.seq("farm-op"),
            t + 60 * _MINUTE,
            pubkey=rotated.public_key,
            kinds=["temperature"],
            subjects=["barn:b1"],
        ),
        farm_op,
    )
    b.commit()
    b.reading("buffered_old_key", sensor, "barn1-temp", t + 50 * _MINUTE)
    b.reading("new_key", rotated, "barn1-temp", t + 70 * _MINUTE)
    b.reading("old_key_after_rotation", sensor, "barn1-temp", t + 80 * _MINUTE)
    b.commit()
    b.device("revocation", farm_op, sensor, t + 90 * _MINUTE, "revoke")
    b.commit()
    b.reading("after_revocation", rotated, "barn1-temp", t + 100 * _MINUTE)
    # A vet may not register devices: neither the registration nor its readings count.
    b.device("rogue_registered", vet, rogue, t + 100 * _MINUTE, "register")
    b.commit()
    b.reading("rogue_reading", rogue, "rogue", t + 110 * _MINUTE)
    b.commit()
    signers, verifiers = zip(
        *(checkpoint.generate_cosigner_key(f"witness{n}.example") for n in (1, 2)), strict=True
    )
    size, signed = b.store.latest_checkpoint() or (0, "")
    cosignature = checkpoint.cosign(note.parse(signed).text, signers[0], 1_767_300_000)
    b.store.put_checkpoint(size, signed + cosignature)
    return BrowserLog(b.data_dir, b.trust, b.store, signers, verifiers, b.entries)
