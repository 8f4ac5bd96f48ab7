"""Logs built entry by entry, for tests that need precise control over what goes in."""

from __future__ import annotations

import random
from pathlib import Path

from chain.entries import Entry, device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

START_MS = 1_767_225_600_000
KINDS, SUBJECTS = ["temperature"], ["barn:b1"]
"""What :meth:`LogFactory.register` registers devices for: what :meth:`LogFactory.reading` sends."""


class LogFactory:
    """Builds logs entry by entry, for tests that need precise control."""

    def __init__(self, root: Path) -> None:
        self.data_dir = DataDir(root)
        self.admin = SignerKey.generate("admin", seed=bytes(32))
        self.trust: TrustRoot = init_data_dir(
            self.data_dir, "test.example/log", [self.admin], START_MS - 1000
        )
        self.store = Store.open(self.data_dir.log)
        self.writer = LogWriter(self.store, read_log_signer(self.data_dir))
        self.admin_seq = 1
        self.devices: dict[str, tuple[SignerKey, int]] = {}

    def register(self, dev: str, *, ts: int = START_MS - 500) -> SignerKey:
        key = SignerKey.generate(dev, seed=random.Random(dev).randbytes(32))
        self.admin_seq += 1
        payload = device_payload(
            "register",
            dev,
            self.admin_seq,
            ts,
            pubkey=key.public_key,
            kinds=KINDS,
            subjects=SUBJECTS,
        )
        self.commit([parse_entry(sign_entry(payload, "admin", self.admin.seed))])
        self.devices[dev] = (key, 0)
        return key

    def reading(
        self, dev: str, *, seq: int | None = None, ts: int | None = None, value: float = 21.5
    ) -> Entry:
        key, last = self.devices[dev]
        seq = last + 1 if seq is None else seq
        self.devices[dev] = (key, max(last, seq))
        ts = START_MS + seq * 60_000 if ts is None else ts
        payload = reading_payload(dev, seq, ts, "temperature", "barn:b1", value, "Cel")
        return parse_entry(sign_entry(payload, dev, key.seed))

    def commit(self, entries: list[Entry]) -> None:
        self.writer.commit_block(entries, START_MS)
        self.writer.sign_checkpoint()

    def close(self) -> None:
        self.store.close()
