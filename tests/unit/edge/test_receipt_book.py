"""The receipt book against a plain set model, and against a real store."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.receipts import ReceiptBook, _Runs


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=120))
def test_runs_match_a_set(values: list[int]) -> None:
    runs = _Runs()
    for value in values:
        runs.add(value)
    pairs = list(zip(runs.firsts, runs.lasts, strict=True))
    assert {v for first, last in pairs for v in range(first, last + 1)} == set(values)
    assert all(f <= last for f, last in pairs)
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(pairs))


class _EmptyStore:
    def signer_seqs(self, signer: str) -> list[int]:
        return []


@settings(max_examples=50)
@given(st.sets(st.integers(min_value=2, max_value=300), max_size=80))
def test_receipt_without_seq_1_is_all_ranges(seqs: set[int]) -> None:
    book = ReceiptBook(_EmptyStore())  # type: ignore[arg-type]
    book.committed("dev", seqs)
    receipt = book.receipt("dev")
    assert receipt.seq == 0 and receipt.block is None
    assert all(receipt.covers(s) for s in sorted(seqs)[:30] if s <= receipt.ranges[-1][1])
    assert not any(receipt.covers(s) for s in range(1, 301) if s not in seqs)
