"""Which of each device's entries are committed: the source of the gateway's receipts.

A receipt (:class:`chain.wire.Receipt`) tells a device the highest
contiguous committed seq, the committed runs above it and the hashes of its
newest commits, so that it can empty its outbox. The book keeps, per signer,
the committed seqs as sorted inclusive runs; a signer's runs are read from
the store's (signer, seq) index the first time it is needed and then kept up
to date as blocks commit.

Which runs a receipt lists: at most :data:`~chain.wire.MAX_RECEIPT_RANGES`,
starting with the first run that reaches the lowest seq the device still
holds: the lowest committed entry it sent again since its last receipt
(:meth:`ReceiptBook.resent`: it still holds that one), else its status's
``low`` (:meth:`ReceiptBook.note_low`), else above the contiguous prefix.
However many holes lie below, the runs that hold the device's entries are
listed: each receipt lets it drop entries, its ``low`` rises, and the next
receipt reaches further. A device without a status (a serial one) gets
there too, because it sends again whatever it still holds.

A book that *holds receipts* (``held=True``: the gateway has mirrors,
:mod:`gateway.mirror_gate`) covers only the entries of the first
:attr:`ReceiptBook.released_size` blocks: those a mirror serves under a
checkpoint the witness quorum cosigned. Blocks committed since wait until
:meth:`ReceiptBook.release`; nothing is kept in memory for them (the store
has them), and a book opened on a store after a restart starts at 0 blocks
released, so it never receipts beyond what a mirror was seen to hold.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable

from chain.block import BlockHeader
from chain.entries import parse_entry
from chain.errors import StorageError
from chain.store import Store
from chain.wire import MAX_RECEIPT_HASHES, MAX_RECEIPT_RANGES, Receipt, entry_digest

__all__ = ["MAX_RELEASE_SCAN", "MAX_RUNS_KEPT", "ReceiptBook"]

MAX_RELEASE_SCAN = 1024
"""Blocks a release reads to find whose receipts changed; beyond, the book reloads lazily."""

MAX_RUNS_KEPT = 4096
"""Runs the book keeps per signer besides its first; a device with more holes
(one that skips seqs, hostile or broken) has its oldest runs dropped from
memory and read again from the store when its ``low`` or a resend reaches
below those kept."""


class _Runs:
    """Sorted, disjoint, non-adjacent inclusive runs of integers."""

    __slots__ = ("dropped_below", "firsts", "lasts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        self.dropped_below = 0
        """Runs between the first and this value were dropped (:meth:`trim`); 0: none."""

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

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect.bisect_right(self.firsts, value) - 1
        return i >= 0 and self.lasts[i] >= value

    def reaching(self, low: int) -> int:
        """The position of the first run whose last value is >= ``low``."""
        return bisect.bisect_left(self.lasts, low)

    def trim(self, keep: int) -> None:
        """Keep the first run and the newest ``keep`` after it; drop the runs between.

        What is kept stays true (each kept run is committed); what was
        dropped is only forgotten (:attr:`dropped_below`).
        """
        extra = len(self.firsts) - 1 - keep
        if extra > 0:
            self.dropped_below = self.firsts[1 + extra]
            del self.firsts[1 : 1 + extra], self.lasts[1 : 1 + extra]

    def misses(self, low: int | None) -> bool:
        """Whether a receipt reaching ``low`` would need runs that were dropped.

        A receipt lists the runs from the first reaching ``low`` (after the
        first run): when ``low`` lies below :attr:`dropped_below`, the dropped
        runs come first. Without a ``low``, the device drains by resending
        what it holds (:meth:`ReceiptBook.resent` gives one).
        """
        return bool(self.dropped_below) and low is not None and low < self.dropped_below


class ReceiptBook:
    """Committed seqs per signer, answering "what receipt does this device get now?".

    Not thread-safe: the gateway's ingest thread owns it. ``held``: see the
    module docstring.
    """

    def __init__(self, store: Store, *, held: bool = False, max_runs: int = MAX_RUNS_KEPT) -> None:
        self._store = store
        self.held = held
        self._max_runs = max_runs
        self._released = 0  # blocks whose entries receipts cover (held books only)
        self._released_entries = 0
        self._runs: dict[str, _Runs] = {}
        self._lows: dict[str, int] = {}
        self._resends: dict[str, int] = {}
        self._recent: dict[str, deque[tuple[int, str]]] = {}

    def _load(self, signer: str) -> _Runs:
        """``signer``'s runs as kept in memory (read from the store the first time)."""
        runs = self._runs.get(signer)
        if runs is None:
            runs = self._read_runs(signer)
            runs.trim(self._max_runs)
            self._runs[signer] = runs
        return runs

    def _runs_reaching(self, signer: str, low: int | None) -> _Runs:
        """``signer``'s runs, all of them from the store if those reaching ``low`` were dropped.

        Only a device with more than :data:`MAX_RUNS_KEPT` holes below what
        it holds pays this read (of its own entries' index); it is not kept.
        """
        runs = self._load(signer)
        return self._read_runs(signer) if runs.misses(low) else runs

    def _read_runs(self, signer: str) -> _Runs:
        runs = _Runs()
        limit = self._released_entries if self.held else None
        if limit is not None and limit >= self._store.entry_count:
            limit = None  # everything committed is released
        for seq in self._store.signer_seqs(signer):
            if limit is not None:
                index = self._store.lookup(signer, seq)
                if index is None or index >= limit:
                    continue
            runs.add(seq)
        return runs

    @property
    def released_size(self) -> int | None:
        """Blocks whose entries receipts may cover (None: every committed block)."""
        return self._released if self.held else None

    @property
    def held_entries(self) -> int:
        """Committed entries whose receipts wait for a mirror (0 for a book that holds none)."""
        if not self.held:
            return 0
        return max(0, self._store.entry_count - self._released_entries)

    def release(self, size: int) -> set[str]:
        """Let receipts cover the first ``size`` blocks (a mirror serves them cosigned).

        Returns the signers whose receipts changed (publish theirs). Only
        the last :data:`MAX_RELEASE_SCAN` newly released blocks are read: after
        a longer wait (a restart, a long outage) the signers of older ones
        are forgotten and reloaded when next asked, and their devices get
        their receipts when they next send or report (a duplicate, a
        status's ``low``). A size at or below the released one does nothing.

        Raises:
            ValueError: ``size`` exceeds the store's blocks, or the book holds no receipts.
            StorageError: the store failed.
        """
        if not self.held:
            raise ValueError("this receipt book holds no receipts")
        if size > self._store.size:
            raise ValueError(f"cannot release {size} blocks: the store has {self._store.size}")
        if size <= self._released:
            return set()
        start = max(self._released, size - MAX_RELEASE_SCAN)
        if start > self._released:
            self._runs.clear()
        by_signer: dict[str, list[tuple[int, str]]] = {}
        for height in range(start, size):
            for raw in self._store.block_entries(height):
                entry = parse_entry(raw)
                by_signer.setdefault(entry.kid, []).append((entry.seq, entry_digest(raw)))
        self._released = size
        header = BlockHeader.from_bytes(self._store.block_raw(size - 1))
        self._released_entries = header.first_index + header.count
        for signer, pairs in by_signer.items():
            runs = self._runs.get(signer)
            if runs is not None:
                for seq, _ in pairs:
                    runs.add(seq)
                runs.trim(self._max_runs)
            for seq, digest in pairs[-MAX_RECEIPT_HASHES:]:
                self.confirm(signer, seq, digest)
        return set(by_signer)

    def committed(
        self, signer: str, seqs: Iterable[int], digests: Iterable[tuple[int, str]] = ()
    ) -> None:
        """Record that ``signer``'s entries ``seqs`` are now in the log (idempotent).

        ``digests`` are ``(seq, hex SHA-256 of the JWS)`` of those entries,
        oldest first; the newest :data:`~chain.wire.MAX_RECEIPT_HASHES` are
        named in the signer's receipts. A book that holds receipts ignores
        the call: :meth:`release` reads the block when a mirror has it.
        """
        if self.held:
            return
        runs = self._load(signer)
        for seq in seqs:
            runs.add(seq)
        runs.trim(self._max_runs)
        for seq, digest in digests:
            self.confirm(signer, seq, digest)

    def confirm(self, signer: str, seq: int, digest: str) -> None:
        """Name committed entry ``(signer, seq)`` by ``digest`` in the next receipts.

        For a resend of an entry already committed: the sender waits for its hash.
        Precondition: the entry is committed (the book does not check the store).
        """
        recent = self._recent.get(signer)
        if recent is None:
            recent = self._recent[signer] = deque(maxlen=MAX_RECEIPT_HASHES)
        pair = (seq, digest)
        if pair in recent:
            recent.remove(pair)
        else:
            for old in [p for p in recent if p[0] == seq]:  # one per seq (cannot differ)
                recent.remove(old)
        recent.append(pair)

    def note_low(self, signer: str, low: int | None) -> bool:
        """The lowest seq ``signer`` still holds, from its status; True if it changed.

        None (it holds nothing, or did not say) keeps the last one known: a
        device's ``low`` only rises, so its next entries lie above it.
        """
        if low is None or self._lows.get(signer) == low:
            return False
        self._lows[signer] = low
        return True

    def resent(self, signer: str, seq: int) -> None:
        """``signer`` sent committed entry ``seq`` again: it holds it; the next receipt reaches it.

        Of several resends before that receipt, the lowest counts.
        """
        self._resends[signer] = min(seq, self._resends.get(signer, seq))

    def holds_committed(self, signer: str) -> bool:
        """Whether ``signer`` reported a ``low`` at or below one of its committed seqs."""
        low = self._lows.get(signer)
        if low is None:
            return False
        runs = self._runs_reaching(signer, low)
        return runs.reaching(low) < len(runs.lasts)

    def receipt(self, signer: str) -> Receipt:
        """The receipt for ``signer`` as the log stands (the one to publish now).

        Raises:
            StorageError: the store's indexes disagree with each other.
        """
        low = self._resends.pop(signer, None) or self._lows.get(signer)
        runs = self._runs_reaching(signer, low)
        contiguous = runs.lasts[0] if runs.firsts and runs.firsts[0] == 1 else 0
        start = 1 if contiguous else 0
        if low is not None:
            start = max(start, runs.reaching(low))
        ranges = tuple(
            zip(
                runs.firsts[start : start + MAX_RECEIPT_RANGES],
                runs.lasts[start : start + MAX_RECEIPT_RANGES],
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
        hashes = tuple(sorted(p for p in self._recent.get(signer, ()) if p[0] in runs))
        return Receipt(dev=signer, seq=contiguous, block=block, ranges=ranges, hashes=hashes)
