"""Checks of one block on its own: entries root, every entry's form, authority and signature.

Pure and independent per block, so the audit runs it on all cores. What needs
the whole log in order (links, duplicates, gaps, the log tree) or the store
(every index record) is the orchestrator's job: a worker only says which
index records its entries need, as the store's own opaque keys
(:func:`chain.store.entry_index_keys`), so that the orchestrator can look
each one up.

Tasks and results cross a process boundary once per batch of blocks, so they
are named tuples of bytes, ints and lists, which pickle fast.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import NamedTuple

from chain.audit._report import Finding
from chain.block import BlockHeader
from chain.entries import Entry, parse_entry, verify_entry
from chain.errors import FarmtraceError, ProofError
from chain.registry import Grant, Registry
from chain.store import entry_index_keys

__all__ = ["BatchResult", "BlockResult", "BlockTask", "check_blocks", "entries_root", "init_worker"]

_u64 = struct.Struct(">Q").pack
_sha256 = hashlib.sha256


class BlockTask(NamedTuple):
    """A block as stored: its height, header (bytes, and parsed unless malformed)
    and the entries the store holds from ``first_index`` on for it."""

    height: int
    header_raw: bytes
    header: BlockHeader | None
    first_index: int
    entries: tuple[bytes, ...]


class BlockResult(NamedTuple):
    """What :func:`check_blocks` found in one block, and which index records it needs.

    ``pointers`` are the keys of the entries' ``(signer, seq)`` records and
    ``indexes`` the value each must hold (the entry's index); ``listed`` holds
    the keys of the subject, registration and event index records that must
    exist. All follow entry order, so that findings
    come out in log order. Entries that did not parse have none (they are
    findings). ``events`` are the indexes of the events whose authority and
    signature verified, for the lifecycle replay.
    """

    findings: list[Finding]
    pointers: list[bytes]
    indexes: list[bytes]
    listed: list[bytes]
    events: list[int]


class BatchResult(NamedTuple):
    """The results of a batch of blocks, plus what the orchestrator sums over the log.

    ``seqs`` maps each signer to its sequence numbers in this batch;
    ``registrations`` and ``events`` list the indexes of registration and
    revocation entries, and of events; ``subject_keys`` counts the subject index keys.
    ``declared`` holds ``(signer, index, seq, from, to)`` of each verified ``gap`` entry.
    """

    blocks: list[BlockResult]
    seqs: dict[str, list[int]]
    registrations: list[int]
    subject_keys: int
    events: list[int]
    declared: list[tuple[str, int, int, int, int]]


_registry: Registry | None = None


def init_worker(grants: Sequence[Grant]) -> None:
    """Process-pool initializer: install the registry every check uses."""
    global _registry
    _registry = Registry.from_grants(grants)


def check_blocks(tasks: Sequence[BlockTask]) -> BatchResult:
    """Check each block in ``tasks`` against the installed registry.

    Precondition: :func:`init_worker` ran in this process.
    """
    assert _registry is not None, "init_worker() was not called"
    batch = BatchResult([], {}, [], 0, [], [])
    subject_keys = 0
    for task in tasks:
        subject_keys += _check_block(task, _registry, batch)
    return batch._replace(subject_keys=subject_keys)


def entries_root(entries: Sequence[bytes]) -> bytes:
    """MTH(entries): the RFC 6962 (section 2.1) root of raw leaves, for a non-empty list.

    Hashes level by level, carrying an odd last node up unchanged; this is
    the same tree as RFC 6962's split at the largest power of two below the
    size (at every level below that power the split falls between pairs).
    """
    level = [_sha256(b"\x00" + data).digest() for data in entries]
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _check_root(task: BlockTask, header: BlockHeader) -> Finding | None:
    # The checks of chain.block.verify_block_entries, with the faster root.
    entries = task.entries
    if len(entries) != header.count:
        error = ProofError(
            f"block {header.height}: expected {header.count} entries, found {len(entries)}"
        )
    else:
        calculated, expected = entries_root(entries), bytes.fromhex(header.entries_root)
        if calculated == expected:
            return None
        error = ProofError(
            f"block {header.height}: entries_root mismatch",
            expected=expected,
            calculated=calculated,
        )
    return Finding(error.reason, str(error), block=task.height)


def _check_block(task: BlockTask, registry: Registry, batch: BatchResult) -> int:
    """Check one block into ``batch``; return how many subject index keys it needs."""
    height = task.height
    findings: list[Finding] = []
    pointers: list[bytes] = []
    indexes: list[bytes] = []
    listed: list[bytes] = []
    events: list[int] = []
    batch.blocks.append(BlockResult(findings, pointers, indexes, listed, events))
    if task.header is not None and (finding := _check_root(task, task.header)):
        findings.append(finding)
    seqs = batch.seqs
    subject_keys = 0
    authorized: list[tuple[int, Entry, bytes]] = []
    index = task.first_index - 1
    for raw in task.entries:
        index += 1
        try:
            entry = parse_entry(raw)
        except FarmtraceError as exc:
            findings.append(Finding(exc.reason, str(exc), block=height, entry=index))
            continue
        pointer, needed = entry_index_keys(entry, index)
        pointers.append(pointer)
        indexes.append(_u64(index))
        seqs.setdefault(entry.kid, []).append(entry.seq)
        listed += needed
        subject_keys += len(needed)
        if entry.type in ("device", "operator"):
            batch.registrations.append(index)
            subject_keys -= 1  # the last key is the registration index record
        elif entry.type == "event":
            batch.events.append(index)
            subject_keys -= 1  # the last key is the event index record
        try:
            authorized.append((index, entry, registry.authorize(entry, index)))
        except FarmtraceError as exc:
            findings.append(_entry_finding(exc, entry, height, index))
    # Signatures last, in one tight loop: the verifier's code and tables stay
    # in the core's caches. (At most one finding per entry either way.)
    for index, entry, key in authorized:
        try:
            verify_entry(entry, key)
        except FarmtraceError as exc:
            findings.append(_entry_finding(exc, entry, height, index))
            continue
        if entry.type == "event":
            events.append(index)
        elif entry.type == "gap":
            p = entry.payload
            batch.declared.append((entry.kid, index, entry.seq, p["from"], p["to"]))
    return subject_keys


def _entry_finding(exc: FarmtraceError, entry: Entry, height: int, index: int) -> Finding:
    return Finding(exc.reason, f"{entry.kid} seq {entry.seq}: {exc}", block=height, entry=index)
