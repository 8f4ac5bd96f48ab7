"""Reading a store for the audit: blocks in height order, with the entries they hold.

One pass over the ``b:`` headers and one over the ``e:`` entries, both in key
order (a LevelDB scan is cheaper than a lookup per entry). Each header is
parsed once. What is missing or malformed is reported as it is met; stray
``e:`` records are counted, so that the final count check catches them, and
so are the records of every other key family.
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from collections.abc import Callable, Iterator
from operator import itemgetter

from chain.audit._blocks import BlockTask
from chain.audit._report import Finding
from chain.block import BlockHeader
from chain.errors import FarmtraceError
from chain.store import Store

__all__ = ["StoreReader"]

_u64 = struct.Struct(">Q").pack
_Parsed = tuple[bytes, bytes, BlockHeader | None, FarmtraceError | None]
_COUNTED = (b"b:", b"h:", b"d:", b"s:", b"g:", b"v:", b"n:")


class StoreReader:
    """Streams a store's blocks as :class:`BlockTask` batches, reporting through ``fail``."""

    def __init__(self, store: Store, fail: Callable[[Finding], None]) -> None:
        self._store = store
        self._fail = fail
        self._entries = store.iterate(b"e:")
        self._pending = next(self._entries, None)
        self._entry_records = 0
        self._counts: dict[bytes, int] = {}

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

    def record_counts(self) -> dict[bytes, int]:
        """How many records each key family holds. Call after :meth:`batches` is done.

        Counted once (later calls return the same counts); ``e:`` records
        were counted while the entries were read.
        """
        if not self._counts:
            for prefix in _COUNTED:
                counter = itertools.count()
                records = self._store.iterate(prefix)
                deque(zip(records, counter, strict=False), maxlen=0)  # counts in C
                self._counts[prefix] = next(counter)
            while self._pending is not None:
                self._entry_records += 1
                self._pending = next(self._entries, None)
            self._counts[b"e:"] = self._entry_records
        return self._counts

    def _blocks(self) -> Iterator[BlockTask]:
        headers = map(_parse, self._store.iterate(b"b:"))
        following = next(headers, None)
        next_index = 0
        expected_height = 0
        while following is not None:
            key, raw, header, error = following
            following = next(headers, None)
            height = int.from_bytes(key[2:], "big")
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
        if count and pending is not None and pending[0] == b"e:" + _u64(first):
            run = [pending, *itertools.islice(scan, count - 1)]
            # Sorted, distinct, all 10 bytes, from the first key to the last:
            # exactly the keys first .. first + count - 1, none missing.
            if (
                len(run) == count
                and run[-1][0] == b"e:" + _u64(first + count - 1)
                and set(map(len, map(itemgetter(0), run))) == {10}
            ):
                self._entry_records += count
                self._pending = next(scan, None)
                return tuple(map(itemgetter(1), run))
            self._entries = itertools.chain(run[1:], scan)  # read them again, one by one
        return self._take_each(height, first, count)

    def _take_each(self, height: int, first: int, count: int) -> tuple[bytes, ...]:
        entries = []
        pending, records, scan = self._pending, self._entry_records, self._entries
        for index in range(first, first + count):
            key = b"e:" + _u64(index)
            while pending is not None and pending[0] < key:  # a stray record: counted
                records += 1
                pending = next(scan, None)
            if pending is not None and pending[0] == key:
                entries.append(pending[1])
                records += 1
                pending = next(scan, None)
            else:
                self._fail(
                    Finding("missing_entry", "entry is not stored", block=height, entry=index)
                )
                entries.append(b"")
        self._pending, self._entry_records = pending, records
        return tuple(entries)


def _parse(record: tuple[bytes, bytes]) -> _Parsed:
    key, raw = record
    try:
        return key, raw, BlockHeader.from_bytes(raw), None
    except FarmtraceError as exc:
        return key, raw, None, exc
