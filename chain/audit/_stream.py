"""Reading a store for the audit: blocks in height order, with the entries they hold.

One pass over the stored headers and one over the stored entries, both in
order (a LevelDB scan is cheaper than a lookup per entry), through the
store's queries (:meth:`~chain.store.Store.header_records`,
:meth:`~chain.store.Store.entry_records`). Each header is parsed once. What
is missing or malformed is reported as it is met, and so is every stray
header or entry record (one no block accounts for); the records of every
key family are counted too, so that the final count check catches extra
index records.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from operator import itemgetter

from chain.audit._blocks import BlockTask
from chain.audit._report import Finding
from chain.block import BlockHeader
from chain.errors import FarmtraceError
from chain.store import Family, Store

__all__ = ["StoreReader"]

_Parsed = tuple[int, bytes, BlockHeader | None, FarmtraceError | None]
_Record = tuple[int | None, bytes]


class StoreReader:
    """Streams a store's blocks as :class:`BlockTask` batches, reporting through ``fail``."""

    def __init__(self, store: Store, fail: Callable[[Finding], None]) -> None:
        self._store = store
        self._fail = fail
        self._entries: Iterator[_Record] = store.entry_records()
        self._pending = next(self._entries, None)
        self._counts: dict[Family, int] = {}

    def batches(self, entries_per_batch: int, expected_total: int) -> Iterator[list[BlockTask]]:
        """Every stored block in height order, in batches of about ``entries_per_batch``.

        Batches shrink towards ``expected_total`` entries (a hint), so that the
        last ones, which some process finishes while the others wait, are short.
        """
        batch: list[BlockTask] = []
        size = done = 0
        smallest = entries_per_batch // 8
        for task in self._blocks():
            batch.append(task)
            size += len(task.entries) + 1
            if size >= min(entries_per_batch, max(smallest, (expected_total - done) // 8)):
                yield batch
                done += size
                batch, size = [], 0
        if batch:
            yield batch

    def record_counts(self) -> dict[Family, int]:
        """How many records each key family holds. Call after :meth:`batches` is done.

        Reports the entry records that follow the last block's entries first.
        Counted once (later calls return the same counts).
        """
        if not self._counts:
            while self._pending is not None:
                self._stray(Family.ENTRIES, self._pending[0])
                self._pending = next(self._entries, None)
            self._counts = self._store.record_counts()
        return self._counts

    def _stray(self, family: Family, number: int | None) -> None:
        what = "a key that is not a number" if number is None else f"number {number}"
        self._fail(
            Finding(
                "extra_record",
                f"a record under {family.label!r} with {what}, which no block accounts for",
            )
        )

    def _headers(self) -> Iterator[_Parsed]:
        for height, raw in self._store.header_records():
            if height is None:
                self._stray(Family.BLOCKS, None)
            else:
                yield _parse(height, raw)

    def _blocks(self) -> Iterator[BlockTask]:
        headers = self._headers()
        following = next(headers, None)
        next_index = 0
        expected_height = 0
        while following is not None:
            height, raw, header, error = following
            following = next(headers, None)
            if height != expected_height:
                self._fail(
                    Finding(
                        "missing_block",
                        f"expected block {expected_height}, next stored is {height}",
                        block=expected_height,
                    )
                )
            expected_height = height + 1
            if header is None:
                assert error is not None
                self._fail(Finding(error.reason, str(error), block=height))
                successor = None if following is None else following[2]
                nxt = next_index if successor is None else successor.first_index
                count = max(0, nxt - next_index)
            else:
                count = header.count
                if header.height != height:
                    self._fail(
                        Finding(
                            "broken_link",
                            f"stored at height {height}, header says {header.height}",
                            block=height,
                        )
                    )
            entries = self._take(height, next_index, count)
            yield BlockTask(height, raw, header, next_index, entries)
            next_index += count

    def _take(self, height: int, first: int, count: int) -> tuple[bytes, ...]:
        """The stored entries ``first .. first + count - 1`` (``b""`` for a missing one)."""
        pending, scan = self._pending, self._entries
        if count and pending is not None and pending[0] == first:
            run = [pending, *itertools.islice(scan, count - 1)]
            # Sorted, distinct, all numbers, from the first index to the last:
            # exactly the indexes first .. first + count - 1, none missing.
            if (
                len(run) == count
                and run[-1][0] == first + count - 1
                and None not in map(itemgetter(0), run)
            ):
                self._pending = next(scan, None)
                return tuple(map(itemgetter(1), run))
            self._entries = itertools.chain(run[1:], scan)  # read them again, one by one
        return self._take_each(height, first, count)

    def _take_each(self, height: int, first: int, count: int) -> tuple[bytes, ...]:
        entries = []
        pending, scan = self._pending, self._entries
        for index in range(first, first + count):
            while pending is not None and (pending[0] is None or pending[0] < index):
                self._stray(Family.ENTRIES, pending[0])
                pending = next(scan, None)
            if pending is not None and pending[0] == index:
                entries.append(pending[1])
                pending = next(scan, None)
            else:
                self._fail(
                    Finding("missing_entry", "entry is not stored", block=height, entry=index)
                )
                entries.append(b"")
        self._pending = pending
        return tuple(entries)


def _parse(height: int, raw: bytes) -> _Parsed:
    try:
        return height, raw, BlockHeader.from_bytes(raw), None
    except FarmtraceError as exc:
        return height, raw, None, exc
