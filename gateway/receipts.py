"""Which of each device's entries are committed: the source of the gateway's receipts.

A receipt (:class:`chain.wire.Receipt`) tells a device the highest
contiguous committed seq and the committed runs above it, so that it can
empty its outbox. The book keeps, per signer, the committed seqs as sorted
inclusive runs; a signer's runs are read from the store's (signer, seq)
index the first time it is needed and then kept up to date as blocks commit.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from chain.errors import StorageError
from chain.store import Store
from chain.wire import MAX_RECEIPT_RANGES, Receipt

__all__ = ["ReceiptBook"]


class _Runs:
    """Sorted, disjoint, non-adjacent inclusive runs of integers."""

    __slots__ = ("firsts", "lasts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []

    def add(self, value: int) -> None:
        firsts, lasts = self.firsts, self.lasts
        if lasts and lasts[-1] + 1 == value:  # the common case: the next seq in order
            lasts[-1] = value
            return
        i = bisect.bisect_right(firsts, value) - 1
        if i >= 0 and lasts[i] >= value:
            return
        joins_left = i >= 0 and lasts[i] + 1 == value
        joins_right = i + 1 < len(firsts) and firsts[i + 1] == value + 1
        if joins_left and joins_right:
            lasts[i] = lasts[i + 1]
            del firsts[i + 1], lasts[i + 1]
        elif joins_left:
            lasts[i] = value
        elif joins_right:
            firsts[i + 1] = value
        else:
            firsts.insert(i + 1, value)
            lasts.insert(i + 1, value)


class ReceiptBook:
    """Committed seqs per signer, answering "what receipt does this device get now?".

    Not thread-safe: the gateway's ingest thread owns it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._runs: dict[str, _Runs] = {}

    def _load(self, signer: str) -> _Runs:
        runs = self._runs.get(signer)
        if runs is None:
            runs = _Runs()
            for seq in self._store.signer_seqs(signer):
                runs.add(seq)
            self._runs[signer] = runs
        return runs

    def committed(self, signer: str, seqs: Iterable[int]) -> None:
        """Record that ``signer``'s entries ``seqs`` are now in the log (idempotent)."""
        runs = self._load(signer)
        for seq in seqs:
            runs.add(seq)

    def receipt(self, signer: str) -> Receipt:
        """The receipt for ``signer`` as the log stands.

        Raises:
            StorageError: the store's indexes disagree with each other.
        """
        runs = self._load(signer)
        contiguous = runs.lasts[0] if runs.firsts and runs.firsts[0] == 1 else 0
        first_above = 1 if contiguous else 0
        ranges = tuple(
            zip(
                runs.firsts[first_above : first_above + MAX_RECEIPT_RANGES],
                runs.lasts[first_above : first_above + MAX_RECEIPT_RANGES],
                strict=True,
            )
        )
        block = None
        if contiguous:
            index = self._store.lookup(signer, contiguous)
            if index is not None:
                block = self._store.block_of_entry(index)
        if contiguous and block is None:
            raise StorageError(f"({signer}, seq {contiguous}) is committed but not indexed")
        return Receipt(dev=signer, seq=contiguous, block=block, ranges=ranges)
