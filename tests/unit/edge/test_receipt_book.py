"""The receipt book against a plain set model, and against a real store."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from chain.wire import MAX_RECEIPT_HASHES, MAX_RECEIPT_RANGES, parse_receipt
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


def _drain_by_lows(book: ReceiptBook, committed: set[int], held: set[int]) -> None:
    """A device holding ``held`` reports its lowest held seq on connect, and again after a
    receipt that lists as many ranges as a receipt can; it must end up holding nothing,
    and no receipt may claim a seq that is not ``committed``."""
    held = set(held)
    book.note_low("dev", min(held, default=None))
    for _ in range(2 + len(committed) // MAX_RECEIPT_RANGES):
        receipt = book.receipt("dev")
        assert len(receipt.ranges) <= MAX_RECEIPT_RANGES
        claimed = {s for s in range(1, 2001) if receipt.covers(s)}
        assert claimed <= committed
        held -= claimed
        if len(receipt.ranges) < MAX_RECEIPT_RANGES or not held:
            break
        book.note_low("dev", min(held))
    assert not held


class _FakeStore:
    """What the book asks a store: nothing committed before, and where an entry is."""

    def signer_seqs(self, signer: str) -> list[int]:
        return []

    def lookup(self, signer: str, seq: int) -> int:
        return seq

    def block_of_entry(self, index: int) -> int:
        return 7


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.integers(min_value=1, max_value=2000), min_size=1, max_size=600),
    st.data(),
)
def test_a_device_holding_committed_entries_behind_many_holes_drains(
    committed: set[int], data: st.DataObject
) -> None:
    """The protocol of chain.wire and signer.mqtt_link, against a set model.

    The device holds some committed entries (the rest of its seqs are holes:
    never sent, declared, or already released). It reports its lowest held
    seq on connect, and again after a receipt that lists as many ranges as a
    receipt can. Each receipt may claim only committed seqs, and the device
    must end up holding none of them, however many holes there are.
    """
    held = set(data.draw(st.lists(st.sampled_from(sorted(committed)), unique=True)))
    book = ReceiptBook(_FakeStore())  # type: ignore[arg-type]
    book.committed("dev", sorted(committed))
    _drain_by_lows(book, committed, held)


def test_receipts_name_the_newest_commits_and_confirmed_resends_by_hash() -> None:
    book = ReceiptBook(_FakeStore())  # type: ignore[arg-type]
    digests = [(seq, f"{seq:064x}") for seq in range(1, 41)]
    book.committed("dev", range(1, 41), digests)
    receipt = book.receipt("dev")
    assert receipt.hashes == tuple(digests[-MAX_RECEIPT_HASHES:])
    assert receipt.names(40, f"{40:064x}") and not receipt.names(40, f"{41:064x}")
    assert not receipt.names(3, f"{3:064x}")  # committed, but not named any more
    book.confirm("dev", 3, f"{3:064x}")  # its sender sent it again
    receipt = book.receipt("dev")
    assert receipt.names(3, f"{3:064x}") and len(receipt.hashes) == MAX_RECEIPT_HASHES
    assert parse_receipt(receipt.to_json()) == receipt


def test_a_status_low_moves_the_ranges_only_upwards_and_a_missing_low_keeps_it() -> None:
    book = ReceiptBook(_FakeStore())  # type: ignore[arg-type]
    book.committed("dev", range(2, 400, 2))  # 199 runs of one seq each
    assert book.receipt("dev").ranges[0] == (2, 2)
    assert book.note_low("dev", 301) and not book.note_low("dev", 301)
    assert book.receipt("dev").ranges[0] == (302, 302)
    assert book.holds_committed("dev")
    assert not book.note_low("dev", None)  # "I hold nothing": my next entries lie above
    assert book.receipt("dev").ranges[0] == (302, 302)
    book.note_low("dev", 1000)
    assert book.receipt("dev").ranges == () and not book.holds_committed("dev")


@settings(max_examples=100, deadline=None)
@given(
    st.sets(st.integers(min_value=1, max_value=2000), min_size=1, max_size=600),
    st.data(),
)
def test_a_device_without_a_status_drains_by_sending_again_what_it_holds(
    committed: set[int], data: st.DataObject
) -> None:
    """A serial device reports no ``low``; it resends everything it holds, in seq order."""
    held = set(data.draw(st.lists(st.sampled_from(sorted(committed)), unique=True)))
    book = ReceiptBook(_FakeStore())  # type: ignore[arg-type]
    book.committed("dev", sorted(committed))
    for _ in range(len(held) + 1):
        if not held:
            break
        book.resent("dev", min(held))  # the gateway found the resend already committed
        receipt = book.receipt("dev")
        assert {s for s in held if receipt.covers(s)} <= committed
        assert receipt.covers(min(held))
        held -= {s for s in held if receipt.covers(s)}
    assert not held


class _KnowingStore(_FakeStore):
    """A store whose index holds ``seqs``: what the book reads again after dropping runs."""

    def __init__(self) -> None:
        self.seqs: set[int] = set()
        self.reads = 0

    def signer_seqs(self, signer: str) -> list[int]:
        self.reads += 1
        return sorted(self.seqs)


def test_a_device_with_endless_holes_costs_the_book_a_bounded_number_of_runs() -> None:
    store = _KnowingStore()
    book = ReceiptBook(store, max_runs=16)  # type: ignore[arg-type]
    for seq in range(1, 2_000, 2):  # every other seq: a run each
        store.seqs.add(seq)
        book.committed("dev", [seq])
    kept = book._load("dev")
    assert len(kept.firsts) == 1 + 16  # the first run, and the newest 16
    assert kept.firsts[0] == 1 and kept.lasts[-1] == 1_999
    receipt = book.receipt("dev")
    assert receipt.seq == 1 and all(
        book_seq % 2 for first, _ in receipt.ranges for book_seq in [first]
    )


@settings(max_examples=100, deadline=None)
@given(
    st.sets(st.integers(min_value=1, max_value=2000), min_size=1, max_size=600),
    st.data(),
    st.integers(min_value=1, max_value=40),
)
def test_a_device_behind_dropped_runs_still_drains(
    committed: set[int], data: st.DataObject, max_runs: int
) -> None:
    """As the test above, with a book that keeps few runs: the dropped ones are read again."""
    held = set(data.draw(st.lists(st.sampled_from(sorted(committed)), unique=True)))
    store = _KnowingStore()
    book = ReceiptBook(store, max_runs=max_runs)  # type: ignore[arg-type]
    for seq in sorted(committed):  # committed one at a time, as blocks come
        store.seqs.add(seq)
        book.committed("dev", [seq])
    assert len(book._load("dev").firsts) <= 1 + max_runs
    _drain_by_lows(book, committed, held)
