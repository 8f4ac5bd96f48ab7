"""The gateway's ingest pipeline, without the network: admit, keep durably, block, checkpoint.

design.md sections 2 to 4. One message goes through::

    admit (size → parse → topic → authority → signature → duplicate/equivocation → clock
           → lifecycle rules → cross-log references, :mod:`gateway.ref_check`)
      → pending (in memory) → flush (one synced batch of p: records) → the caller acks
      → block closes by count or time (the block's batch deletes the p: records)
      → checkpoint signed → receipts for every device in the block

A message is acknowledged to the broker only after :meth:`Ingest.flush` has
made it durable, and a pending entry reaches the log exactly once: the p:
records and the block that takes them are swapped in one atomic batch, and
:meth:`Ingest.open` re-admits whatever is still pending after a crash.

Time is passed in; nothing here talks to the network but the check of an
event's cross-log references (bounded; :mod:`gateway.ref_check`). Not
thread-safe: one ingest thread owns an :class:`Ingest` (HTTP readers use the
store directly).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from chain.block import BlockHeader
from chain.entries import Entry, parse_entry
from chain.errors import (
    FarmtraceError,
    MalformedError,
    SourceError,
    StorageError,
    VerificationError,
)
from chain.lifecycle import LifecycleState
from chain.log import LogWriter, replay_registrations
from chain.registry import Registry
from chain.store import Store
from chain.trust import TrustRoot
from chain.wire import MAX_RECEIPT_HASHES, Receipt, entry_digest
from gateway.admission import AdmissionPolicy, Decision, Verdict, admit
from gateway.receipts import ReceiptBook
from gateway.ref_check import RefCheck

__all__ = ["CommittedBlock", "Ingest", "IngestConfig", "load_lifecycle", "load_registry"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """When blocks close, and the admission limits.

    A block closes when it holds ``max_block_entries`` entries, or
    ``block_interval_ms`` after its first entry arrived, whichever comes first.
    ``hold_receipts``: receipts cover only blocks a mirror released
    (:class:`gateway.receipts.ReceiptBook`, ``held``).
    """

    max_block_entries: int = 10_000
    block_interval_ms: int = 1_000
    policy: AdmissionPolicy = field(default_factory=AdmissionPolicy)
    hold_receipts: bool = False

    def __post_init__(self) -> None:
        if self.max_block_entries < 1 or self.block_interval_ms < 0:
            raise ValueError("max_block_entries must be >= 1 and block_interval_ms >= 0")


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """A block that was just committed, its checkpoint, and the signers it touched.

    ``received_ms`` holds, per entry, when the gateway received it (for the
    commit latency metric).
    """

    header: BlockHeader
    checkpoint: str
    signers: frozenset[str]
    received_ms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Pending:
    pending_id: int
    index: int  # the log index the entry will have: pending entries commit in order
    entry: Entry
    received_ms: int


def load_registry(store: Store, trust: TrustRoot) -> Registry:
    """Replay the log's registrations into a registry, as an auditor would.

    Raises:
        StorageError: a registration index points at a missing entry, or a
            stored registration does not parse or apply (run the audit).
    """
    return replay_registrations(store, trust)[0]


def load_lifecycle(store: Store) -> LifecycleState:
    """Replay the log's events (found through the event index) into a lifecycle state.

    The committed log is trusted here (it is the gateway's own): events are
    recorded without being judged again; the audit judges them.

    Raises:
        StorageError: the event index names a missing entry.
        FarmtraceError: a stored event does not parse (run the audit).
    """
    state = LifecycleState()
    for index in store.event_indexes():
        try:
            raw = store.entry(index)
        except KeyError as exc:
            raise StorageError(f"event index names missing entry {index}") from exc
        state.apply(parse_entry(raw), index)
    return state


class Ingest:
    """Turns received messages into committed blocks. Build it with :meth:`open`.

    ``lifecycle`` holds the state of every entry the log and the pending
    queue hold, in log order (default: empty, for an empty log). ``refs``
    checks events' cross-log references (default: no other log is pinned,
    so an event with references is refused ``ref_unknown_log``).
    """

    def __init__(
        self,
        writer: LogWriter,
        registry: Registry,
        config: IngestConfig,
        next_pending_id: int,
        lifecycle: LifecycleState | None = None,
        refs: RefCheck | None = None,
    ) -> None:
        self.store = writer.store
        self.refs = RefCheck(None, self.store) if refs is None else refs
        self._writer = writer
        self.registry = registry
        self.lifecycle = LifecycleState() if lifecycle is None else lifecycle
        self.config = config
        self.receipts = ReceiptBook(self.store, held=config.hold_receipts)
        self._log_entries = self.store.entry_count
        self._pending: list[_Pending] = []
        self._by_key: dict[tuple[str, int], _Pending] = {}
        self._flushed = 0
        self._next_pending_id = next_pending_id
        self._stale: list[int] = []  # pending records to drop with the next block
        self.counts: Counter[str] = Counter()
        """Outcomes so far: accepted, duplicate, late, committed, and each reject reason."""

    @classmethod
    def open(
        cls,
        store: Store,
        trust: TrustRoot,
        log_signer_key: str,
        config: IngestConfig,
        now_ms: int,
        refs: RefCheck | None = None,
    ) -> Ingest:
        """Load the registry and lifecycle state from the log; recover what a crash left pending.

        ``refs``: see the class. Recovered entries are admitted again, in their
        order, as durable pending entries of the next block (their references
        are not fetched again: they held before the entry was made durable).
        One that no longer passes (it
        cannot happen unless the store was edited) is logged and counted
        as ``recovery_<reason>``, and its record is released with that block.

        Raises:
            StorageError: the store failed. FarmtraceError: the log's
            registrations are inconsistent, or the key is not the log's.
        """
        registry, registry_tree = replay_registrations(store, trust)
        writer = LogWriter(store, log_signer_key, registry_tree)
        stored = store.pending()
        ingest = cls(
            writer,
            registry,
            config,
            next_pending_id=(stored[-1][0] + 1) if stored else 0,
            lifecycle=load_lifecycle(store),
            refs=refs,
        )
        for pending_id, raw in stored:
            decision = ingest._admit(raw, None, now_ms, check_refs=False)
            if decision.verdict is Verdict.ACCEPTED and decision.entry is not None:
                ingest._add(pending_id, decision.entry, now_ms)
            else:
                _logger.error("pending entry %d dropped on recovery: %s", pending_id, decision)
                ingest.counts[f"recovery_{decision.reason}"] += 1
                ingest._stale.append(pending_id)
        ingest._flushed = len(ingest._pending)
        if ingest._pending:
            _logger.info("recovered %d pending entries", len(ingest._pending))
        return ingest

    # -- state ---------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        """Entries accepted but not yet in a block (the queue depth)."""
        return len(self._pending)

    @property
    def unflushed_count(self) -> int:
        """Accepted entries not yet durable (never acknowledge these)."""
        return len(self._pending) - self._flushed

    def oldest_pending_ms(self) -> int | None:
        """When the oldest pending entry was received, or None."""
        return self._pending[0].received_ms if self._pending else None

    def _held(self, signer: str, seq: int) -> tuple[int, bytes] | None:
        item = self._by_key.get((signer, seq))
        if item is not None:
            return item.index, item.entry.raw
        index = self.store.lookup(signer, seq)
        return None if index is None else (index, self.store.entry(index))

    # -- the pipeline ----------------------------------------------------------

    def _admit(
        self,
        raw: bytes,
        publisher: str | None,
        now_ms: int,
        verified_key: bytes | None = None,
        *,
        check_refs: bool = True,
    ) -> Decision:
        next_index = self._log_entries + len(self._pending)
        decision = admit(
            raw,
            publisher=publisher,
            registry=self.registry,
            held=self._held,
            next_index=next_index,
            now_ms=now_ms,
            policy=self.config.policy,
            lifecycle=self.lifecycle,
            verified_key=verified_key,
        )
        if decision.verdict is Verdict.ACCEPTED and decision.entry is not None:
            try:
                if check_refs:  # a StorageError (keeping a note) propagates, like flush's
                    self.refs.check(decision.entry)
            except (VerificationError, MalformedError, SourceError) as exc:
                return Decision(Verdict.REJECTED, exc.reason, str(exc), decision.entry)
            try:
                self.registry.apply(decision.entry, next_index)
            except FarmtraceError as exc:
                return Decision(Verdict.REJECTED, exc.reason, str(exc), decision.entry)
            self.lifecycle.apply(decision.entry, next_index)
        return decision

    def offer(
        self, raw: bytes, publisher: str | None, now_ms: int, verified_key: bytes | None = None
    ) -> Decision:
        """Admit one message from ``publisher`` (its topic's device id; None: trusted local path).

        ``verified_key``: see :func:`gateway.admission.admit`. An accepted
        entry becomes pending but is NOT durable until :meth:`flush`. Never
        raises for bad input: see the Decision.
        """
        decision = self._admit(raw, publisher, now_ms, verified_key)
        if decision.verdict is Verdict.ACCEPTED and decision.entry is not None:
            self._add(self._next_pending_id, decision.entry, now_ms)
            self._next_pending_id += 1
            self.counts["accepted"] += 1
            if decision.late:
                self.counts["late"] += 1
        elif decision.verdict is Verdict.DUPLICATE:
            self.counts["duplicate"] += 1
            entry, index = decision.entry, decision.existing_index
            if entry is not None and index is not None and index < self._log_entries:
                # The sender still holds it, and may wait for its hash: name and reach it.
                self.receipts.confirm(entry.kid, entry.seq, entry_digest(entry.raw))
                self.receipts.resent(entry.kid, entry.seq)
        else:
            self.counts[str(decision.reason)] += 1
        return decision

    def _add(self, pending_id: int, entry: Entry, received_ms: int) -> None:
        index = self._log_entries + len(self._pending)
        item = _Pending(pending_id, index, entry, received_ms)
        self._pending.append(item)
        self._by_key[entry.key] = item

    def flush(self) -> int:
        """Make every accepted entry durable (one synced batch); return how many were written.

        Raises:
            StorageError: the write failed; the entries stay unflushed (do not ack them).
        """
        fresh = self._pending[self._flushed :]
        if fresh:
            self.store.put_pending([(p.pending_id, p.entry.raw) for p in fresh])
            self._flushed = len(self._pending)
        return len(fresh)

    def block_due(self, now_ms: int) -> bool:
        """Whether the durable pending entries should be closed into a block now."""
        if not self._flushed:
            return False
        if self._flushed >= self.config.max_block_entries:
            return True
        return now_ms - self._pending[0].received_ms >= self.config.block_interval_ms

    def ms_until_due(self, now_ms: int) -> int | None:
        """Milliseconds until :meth:`block_due` turns true by time, or None with nothing pending."""
        if not self._pending:
            return None
        return max(0, self._pending[0].received_ms + self.config.block_interval_ms - now_ms)

    def close_blocks(self, now_ms: int) -> Iterator[CommittedBlock]:
        """Commit every durable pending entry, ``max_block_entries`` per block, each checkpointed.

        Raises:
            StorageError: a write failed; what was not committed stays pending.
        """
        while self._flushed:
            yield self._close_one(now_ms)

    def _close_one(self, now_ms: int) -> CommittedBlock:
        taken = self._pending[: min(self._flushed, self.config.max_block_entries)]
        release = [p.pending_id for p in taken] + self._stale
        header = self._writer.commit_block([p.entry for p in taken], now_ms, release=release)
        self._stale = []  # only now: a failed commit keeps them for the next block
        del self._pending[: len(taken)]
        self._log_entries = header.next_index
        self._flushed -= len(taken)
        by_signer: dict[str, list[Entry]] = {}
        for item in taken:
            del self._by_key[item.entry.key]
            by_signer.setdefault(item.entry.kid, []).append(item.entry)
        for signer, entries in by_signer.items():
            newest = entries[-MAX_RECEIPT_HASHES:]
            self.receipts.committed(
                signer, [e.seq for e in entries], [(e.seq, entry_digest(e.raw)) for e in newest]
            )
        self.counts["committed"] += len(taken)
        checkpoint = self._writer.sign_checkpoint()
        return CommittedBlock(
            header, checkpoint, frozenset(by_signer), tuple(p.received_ms for p in taken)
        )

    def receipt(self, signer: str) -> Receipt:
        """The receipt ``signer`` should see now (what the log holds of its entries)."""
        return self.receipts.receipt(signer)
