"""Seq gaps of the fleet view: declared (gap entries) vs missing, read incrementally."""

from __future__ import annotations

from chain.entries import gap_payload, reading_payload, sign_entry
from chain.keyfile import SignerKey
from gateway.fleet_view import SeqGaps, SeqSummary

DEV = SignerKey.generate("b1-temp", seed=b"d" * 32)
T0 = 1_767_225_600_000


class _Store:
    """What SeqGaps asks of a store, over a dict of the device's entries by seq."""

    def __init__(self) -> None:
        self.raw: dict[int, bytes] = {}
        self.reads: list[int] = []

    def add_reading(self, seq: int) -> None:
        payload = reading_payload(DEV.id, seq, T0 + seq, "temperature", "barn:b1", 20.0, "Cel")
        self.raw[seq] = sign_entry(payload, DEV.id, DEV.seed)

    def add_gap(self, seq: int, first: int, last: int) -> None:
        self.raw[seq] = sign_entry(
            gap_payload(DEV.id, seq, T0 + seq, first, last), DEV.id, DEV.seed
        )

    def signer_seqs(self, signer: str) -> list[int]:
        return sorted(self.raw) if signer == DEV.id else []

    def lookup(self, signer: str, seq: int) -> int | None:
        return seq if seq in self.raw else None

    def entry(self, index: int) -> bytes:
        self.reads.append(index)
        return self.raw[index]


def test_no_holes_reads_no_entry() -> None:
    store = _Store()
    for seq in (1, 2, 3):
        store.add_reading(seq)
    assert SeqGaps(store).summary(DEV.id) == SeqSummary(3, 3)  # type: ignore[arg-type]
    assert store.reads == []


def test_declared_and_missing_holes_are_told_apart_and_entries_read_once() -> None:
    store = _Store()
    for seq in (1, 4, 7):
        store.add_reading(seq)
    store.add_gap(8, 5, 6)
    gaps = SeqGaps(store)  # type: ignore[arg-type]
    assert gaps.summary(DEV.id) == SeqSummary(committed=4, high=8, declared=2, missing=2)
    assert sorted(store.reads) == [1, 4, 7, 8]
    store.reads.clear()
    store.add_reading(10)  # seq 9 missing too
    assert gaps.summary(DEV.id) == SeqSummary(committed=5, high=10, declared=2, missing=3)
    assert store.reads == [10]  # only what is new
    assert gaps.summary("nobody") == SeqSummary()
