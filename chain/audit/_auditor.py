"""The offline audit of a whole store: every record checked, every problem located.

Order of work:

1. Replay the registration entries (found through the registration index) into a
   :class:`~chain.registry.Registry`; whether that index is complete is checked
   in step 3.
2. Stream the blocks and their entries out of the store
   (:mod:`chain.audit._stream`) and check every block on its own
   (:mod:`chain.audit._blocks`), on every core, this process included
   (:mod:`chain.audit._parallel`).
3. In log order: hash links, the block-by-hash, (signer, seq), subject,
   registration and event indexes (:mod:`chain.audit._indexes`), duplicate
   and equivocating ``(signer, seq)`` pairs, the lifecycle rules
   (:mod:`chain.lifecycle`) over every verified event, the stored Merkle
   nodes against the recomputed log tree, and every stored checkpoint's
   signature, root and registry commitment line (recomputed from the
   registrations in the blocks it covers: :mod:`chain.registry_commitment`).
4. Count every key family and list every record outside them, so that no
   extra record hides anywhere, and report per-signer sequence gaps.

A store that cannot be read to the end (LevelDB finds a corrupt or
unreadable file) ends the audit with an incomplete report, never an
exception.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator

from chain import merkle
from chain.audit._blocks import BatchResult, BlockResult, BlockTask
from chain.audit._gaps import report_gaps
from chain.audit._indexes import check_index_records
from chain.audit._parallel import check_in_order
from chain.audit._report import AuditReport, Finding
from chain.audit._stream import StoreReader
from chain.block import BlockHeader, verify_link
from chain.checkpoint import open_checkpoint
from chain.entries import parse_entry, verify_entry
from chain.errors import FarmtraceError, LifecycleError, StorageError
from chain.lifecycle import LifecycleState
from chain.registry import Registry
from chain.registry_commitment import RegistryTree, check_checkpoint_registry, has_registry_line
from chain.store import Family, Store
from chain.trust import TrustRoot

__all__ = ["audit_store"]

_TASK_ENTRIES = 2048
_INLINE_BELOW = 4096
_MAX_LISTED_FOREIGN = 100
WITHDRAWAL = "withdrawal_period"
"""Warning reason: a bird slaughtered inside a treatment's withdrawal period (chain.lifecycle)."""


def audit_store(
    store: Store,
    trust: TrustRoot,
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Verify everything in ``store`` against ``trust``, offline.

    ``jobs`` processes check blocks: this one and ``jobs - 1`` workers
    (default: one per core; small logs are checked in this process alone).
    ``progress`` is called with the number of entries each time a batch is done.

    Never raises for what it finds: every problem is a :class:`Finding` in
    the returned report's ``failures``. When the store cannot be read to the
    end (a :class:`~chain.errors.StorageError`, e.g. a corrupt file), the
    audit stops there: the report holds what was found so far and a failure
    with reason ``"unreadable"``, and is incomplete (``exit_code`` 2); so is
    it when the store holds a record it never writes (``"unknown_record"``).
    """
    started = time.monotonic()
    try:
        audit = _Audit(store, trust, progress)
    except StorageError as exc:
        return AuditReport.unreadable(trust.origin, exc)
    try:
        return audit.run(jobs, started)
    except StorageError as exc:
        return audit.unreadable(exc, started)


class _Audit:
    def __init__(
        self, store: Store, trust: TrustRoot, progress: Callable[[int], None] | None
    ) -> None:
        self.store = store
        self.trust = trust
        self.progress = progress or (lambda n: None)
        self.report = AuditReport(origin=store.origin)
        self.fail = self.report.failures.append
        self.seqs: dict[str, array[int]] = {}
        self.declared: list[tuple[str, int, int, int, int]] = []  # verified gap entries
        self.registrations_seen: set[int] = set()
        self.subject_keys = 0
        self.events_seen: set[int] = set()
        self.lifecycle = LifecycleState()
        self.frontier = merkle.Frontier()
        self.prev_header: BlockHeader | None = None
        self.prev_raw: bytes | None = None
        self.block_firsts: list[int] = []
        self.checkpoint_sizes = set(store.checkpoint_sizes())
        self.verified_roots: dict[int, bytes] = {}
        self.registry_tree = RegistryTree()  # the registrations of the blocks walked so far
        self.registry_adopted = False  # a checkpoint with a registry line was seen
        self.registrations_due: deque[int] = deque()  # their indexes, not yet added

    def run(self, jobs: int | None, started: float) -> AuditReport:
        if self.store.origin != self.trust.origin:
            self.fail(
                Finding(
                    "wrong_log",
                    f"store holds log {self.store.origin!r}, trust root "
                    f"is for {self.trust.origin!r}",
                )
            )
        registry = self._replay_registrations()
        reader = StoreReader(self.store, self.fail)
        for result, tasks in self._check_all(reader, registry, jobs):
            self._in_order(result, tasks)
            self.progress(sum(len(task.entries) for task in tasks))
        self._final_counts(reader)
        self._latest_checkpoint()
        self.report.blocks = self.frontier.size
        self.report.signers = len(self.seqs)
        report_gaps(self.report, self.seqs, self.declared)
        self._locate_and_sort()
        self.report.seconds = time.monotonic() - started
        return self.report

    def unreadable(self, error: StorageError, started: float) -> AuditReport:
        """The report so far, ended by ``error``: incomplete, with ``error`` last.

        Precondition: the audit stopped on ``error``.
        """
        self.report.blocks = self.frontier.size
        self._locate_and_sort()
        self.fail(Finding("unreadable", str(error)))
        self.report.seconds = time.monotonic() - started
        return self.report

    # -- step 1 ----------------------------------------------------------------

    def _replay_registrations(self) -> Registry:
        registry = Registry.from_trust_root(self.trust)
        for index in self.store.registration_indexes():
            try:
                raw = self.store.entry(index)
            except KeyError:
                self.fail(Finding("index", f"registration index names missing entry {index}"))
                continue
            try:
                entry = parse_entry(raw)
                verify_entry(entry, registry.authorize(entry, index))
            except FarmtraceError:
                continue  # reported, with its block, by the block check
            try:
                registry.apply(entry, index)
            except FarmtraceError as exc:
                self.fail(Finding(exc.reason, str(exc), entry=index))
        return registry

    # -- step 2 ----------------------------------------------------------------

    def _check_all(
        self, reader: StoreReader, registry: Registry, jobs: int | None
    ) -> Iterator[tuple[BatchResult, list[BlockTask]]]:
        jobs = jobs or os.cpu_count() or 1
        try:
            expected = self.store.entry_count
        except StorageError:  # a corrupt count is reported at the end
            expected = 0
        if expected < _INLINE_BELOW:
            jobs = 1
        batches = reader.batches(_TASK_ENTRIES, expected)
        # The record counts need no result: take them while the workers finish.
        return check_in_order(batches, registry.grants(), jobs, reader.record_counts)

    # -- step 3 ----------------------------------------------------------------

    def _in_order(self, batch: BatchResult, tasks: list[BlockTask]) -> None:
        self.registrations_due.extend(batch.registrations)
        for task, result in zip(tasks, batch.blocks, strict=True):
            self._block_in_order(task, result)
        for signer, seqs in batch.seqs.items():
            known = self.seqs.get(signer)
            if known is None:
                known = self.seqs[signer] = array("Q")
            known.extend(seqs)
        self.registrations_seen.update(batch.registrations)
        self.subject_keys += batch.subject_keys
        self.events_seen.update(batch.events)
        self.declared += batch.declared

    def _block_in_order(self, task: BlockTask, result: BlockResult) -> None:
        height = task.height
        self.report.failures.extend(result.findings)
        self.block_firsts.append(task.first_index)
        self._check_link(task.header, task)
        block_hash = hashlib.sha256(task.header_raw).digest()
        if self.store.block_hash_height(block_hash) != height:
            self.fail(
                Finding("index", "block-by-hash index does not name this block", block=height)
            )
        for level, index, node in self.frontier.append(merkle.leaf_hash(task.header_raw)):
            if self.store.node(level, index) != node:
                self.fail(
                    Finding(
                        "bad_node",
                        f"stored Merkle node ({level}, {index}) differs from the recomputed one",
                        block=height,
                    )
                )
        self._add_registrations(task)
        if self.frontier.size in self.checkpoint_sizes:
            self._check_checkpoint(self.frontier.size, self.frontier.root())
        check_index_records(self.store, height, result, self.fail)
        self._replay_events(task, result)
        self.report.entries += len(task.entries)
        self.prev_header, self.prev_raw = task.header, task.header_raw

    def _replay_events(self, task: BlockTask, result: BlockResult) -> None:
        # Every verified event is judged, then recorded even when it breaks a
        # rule, so that one bad event is one finding, not a cascade.
        for index in result.events:
            entry = parse_entry(task.entries[index - task.first_index])
            try:
                self.lifecycle.check(entry, index)
            except LifecycleError as exc:
                self.fail(Finding(exc.reason, str(exc), block=task.height, entry=index))
            breach = self.lifecycle.withdrawal_breach(entry, index)
            if breach is not None:
                self.report.warnings.append(
                    Finding(WITHDRAWAL, breach.describe(), block=task.height, entry=index)
                )
            self.lifecycle.apply(entry, index)

    def _check_link(self, header: BlockHeader | None, task: BlockTask) -> None:
        if header is None:
            return
        try:
            if self.prev_raw is None or self.prev_header is not None:
                verify_link(self.prev_header, header)
            elif header.prev != hashlib.sha256(self.prev_raw).hexdigest():
                self.fail(
                    Finding(
                        "broken_link",
                        "prev is not the hash of the stored previous header",
                        block=task.height,
                    )
                )
            if header.first_index != task.first_index:
                self.fail(
                    Finding(
                        "broken_link",
                        f"first_index {header.first_index}, entries stored from {task.first_index}",
                        block=task.height,
                    )
                )
        except FarmtraceError as exc:
            self.fail(Finding(exc.reason, str(exc), block=task.height))

    def _check_checkpoint(self, size: int, root: bytes) -> None:
        note = self.store.checkpoint_raw(size) or b""
        try:
            checkpoint = open_checkpoint(note.decode("utf-8"), self.trust.log_key)
        except (FarmtraceError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "reason", "malformed_note")
            self.fail(Finding(reason, f"checkpoint for size {size}: {exc}", block=size - 1))
            return
        if checkpoint.size != size or checkpoint.root_hash != root:
            self.fail(
                Finding(
                    "bad_proof",
                    f"checkpoint for size {size} says size "
                    f"{checkpoint.size}, root {checkpoint.root_hash.hex()}; the log "
                    f"has root {root.hex()}",
                    block=size - 1,
                )
            )
            return
        if has_registry_line(checkpoint):
            try:
                check_checkpoint_registry(checkpoint, self.registry_tree.commitment())
            except FarmtraceError as exc:
                self.fail(Finding(exc.reason, f"checkpoint for size {size}: {exc}", block=size - 1))
                return
            self.registry_adopted = True
        elif self.registry_adopted:
            self.fail(
                Finding(
                    "registry_commitment",
                    f"checkpoint for size {size} has no registry line, though an earlier "
                    "checkpoint of this log has one",
                    block=size - 1,
                )
            )
            return
        self.report.checkpoints_verified += 1
        self.verified_roots[size] = root

    def _add_registrations(self, task: BlockTask) -> None:
        """Add the block's parsed registration entries to the registry tree."""
        end = task.first_index + len(task.entries)
        due = self.registrations_due
        while due and due[0] < end:
            index = due.popleft()
            try:
                entry = parse_entry(task.entries[index - task.first_index])
                self.registry_tree.add_entries([entry], index)
            except (FarmtraceError, ValueError, IndexError):
                continue  # reported by the block check

    # -- step 4 ----------------------------------------------------------------

    def _final_counts(self, reader: StoreReader) -> None:
        counts = reader.record_counts()
        blocks, entries = self.frontier.size, self.report.entries
        expected = {
            Family.BLOCKS: blocks,
            Family.BLOCK_HASHES: blocks,
            Family.ENTRIES: entries,
            Family.SIGNER_SEQS: entries,
            Family.SUBJECTS: self.subject_keys,
            Family.REGISTRATIONS: len(self.registrations_seen),
            Family.EVENTS: len(self.events_seen),
            Family.NODES: _node_count(blocks),
            Family.CHECKPOINTS: len(self.checkpoint_sizes),
        }
        for family, want in expected.items():
            found = counts[family]
            if found != want:
                self.fail(
                    Finding("index", f"{found} records under {family.label!r}, expected {want}")
                )
        self._foreign_records()
        stray = set(self.store.registration_indexes()) - self.registrations_seen
        for index in sorted(stray):
            self.fail(
                Finding(
                    "index",
                    "registration index names an entry that is not a registration",
                    entry=index,
                )
            )
        for index in sorted(set(self.store.event_indexes()) - self.events_seen):
            self.fail(
                Finding("index", "event index names an entry that is not an event", entry=index)
            )
        for sizes in (set(self.checkpoint_sizes) - set(range(1, blocks + 1)),):
            for size in sorted(sizes):
                self.fail(Finding("index", f"checkpoint for size {size} beyond the log"))
        for name, want in (("blocks", blocks), ("entries", entries)):
            stored = self.store.meta_raw(name)
            if stored != str(want).encode():
                self.fail(Finding("storage", f"meta {name!r} is {stored!r}, the log has {want}"))

    def _foreign_records(self) -> None:
        # Every record the store never writes, under whatever key: listed one
        # by one up to a bound, then counted.
        total = 0
        for key in self.store.foreign_records():
            total += 1
            if total <= _MAX_LISTED_FOREIGN:
                shown = repr(key[:64]) + ("…" if len(key) > 64 else "")
                self.fail(
                    Finding("unknown_record", f"a record the store never writes, at key {shown}")
                )
        if total > _MAX_LISTED_FOREIGN:
            self.fail(
                Finding(
                    "unknown_record",
                    f"… and {total - _MAX_LISTED_FOREIGN:,} more records the store never writes",
                )
            )

    def _latest_checkpoint(self) -> None:
        latest = self.store.meta_raw("checkpoint")
        blocks = self.frontier.size
        if latest is None:
            if blocks:
                self.fail(Finding("no_checkpoint", "the log has blocks but no signed checkpoint"))
            return
        size = int(latest) if latest.isdigit() else -1
        if size not in self.checkpoint_sizes or size != max(self.checkpoint_sizes):
            self.fail(
                Finding(
                    "storage",
                    f"latest checkpoint pointer {latest!r} does not name "
                    "the newest stored checkpoint",
                )
            )
            return
        self.report.checkpoint_size = size
        root = self.verified_roots.get(size)
        self.report.checkpoint_root = None if root is None else root.hex()
        if size < blocks:
            self.report.warnings.append(
                Finding(
                    "unchecked_tail", f"{blocks - size} newest blocks are not yet in a checkpoint"
                )
            )

    def _locate_and_sort(self) -> None:
        located = []
        for f in self.report.failures:
            if f.block is None and f.entry is not None and self.block_firsts:
                block = bisect.bisect_right(self.block_firsts, f.entry) - 1
                f = Finding(f.reason, f.message, block=block, entry=f.entry)
            located.append(f)
        located.sort(key=lambda f: (f.block if f.block is not None else -1, f.entry or -1))
        self.report.failures[:] = located


def _node_count(size: int) -> int:
    """Number of perfect subtrees (all levels) fully inside a tree of ``size`` leaves."""
    total = 0
    while size:
        total += size
        size //= 2
    return total
