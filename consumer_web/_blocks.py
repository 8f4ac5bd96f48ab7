"""Which block holds an entry, from each block's first entry index, kept in memory."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from chain.store import Store

__all__ = ["BlockIndex"]


class BlockIndex:
    """The first entry index of every block of ``store`` up to a size, read once each.

    Not thread-safe (callers serialise). Preconditions of the queries: the
    indexes asked about lie in the blocks :meth:`advance` has read.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._firsts: list[int] = []

    def advance(self, size: int) -> None:
        """Read the headers of blocks up to ``size`` not read yet."""
        if size < len(self._firsts):  # the store was replaced by a shorter one
            del self._firsts[size:]
        while len(self._firsts) < size:
            self._firsts.append(self.store.block(len(self._firsts)).first_index)

    def height_of(self, index: int) -> int:
        """The height of the block holding entry ``index``."""
        return bisect_right(self._firsts, index) - 1

    def count(self, indexes: Iterable[int]) -> int:
        """How many distinct blocks hold ``indexes``: O(blocks x log entries) after a sort."""
        ordered = sorted(indexes)
        firsts, blocks, pos = self._firsts, 0, 0
        while pos < len(ordered):
            height = bisect_right(firsts, ordered[pos]) - 1
            blocks += 1
            if height + 1 >= len(firsts):
                break
            pos = bisect_left(ordered, firsts[height + 1], pos)
        return blocks
