"""Checks of one block on its own: header, entries root, every entry's signature.

Pure and independent per block, so the audit runs it on all cores. What needs
the whole log in order (links, duplicates, gaps, indexes, the log tree) is the
orchestrator's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.audit._report import Finding
from chain.block import BlockHeader, verify_block_entries
from chain.entries import parse_entry, verify_entry
from chain.errors import FarmtraceError
from chain.registry import Grant, Registry
from chain.store import entry_subjects

__all__ = ["BlockResult", "BlockTask", "EntryFacts", "check_blocks", "init_worker"]

# (index, signer, seq, ts, type, subjects): a tuple, not a class, because
# millions of them cross the process boundary.
EntryFacts = tuple[int, str, int, int, str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class BlockTask:
    """A block as stored: its height, header bytes, and the entries the store
    holds from ``first_index`` on for it."""

    height: int
    header_raw: bytes
    first_index: int
    entries: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What :func:`check_blocks` found in one block.

    ``header`` is None when the header bytes did not parse; ``facts`` has one
    tuple per entry that parsed (signature failures included: their facts
    still feed the duplicate and index checks).
    """

    height: int
    header: BlockHeader | None
    findings: tuple[Finding, ...]
    facts: tuple[EntryFacts, ...]


_registry: Registry | None = None


def init_worker(grants: Sequence[Grant]) -> None:
    """Process-pool initializer: install the registry every check uses."""
    global _registry
    _registry = Registry.from_grants(grants)


def check_blocks(tasks: Sequence[BlockTask]) -> list[BlockResult]:
    """Check each block in ``tasks`` against the installed registry.

    Precondition: :func:`init_worker` ran in this process.
    """
    assert _registry is not None, "init_worker() was not called"
    return [_check_block(task, _registry) for task in tasks]


def _check_block(task: BlockTask, registry: Registry) -> BlockResult:
    findings: list[Finding] = []
    header: BlockHeader | None = None
    try:
        header = BlockHeader.from_bytes(task.header_raw)
        if header.height != task.height:
            findings.append(
                Finding(
                    "broken_link",
                    f"stored at height {task.height}, header says {header.height}",
                    block=task.height,
                )
            )
        verify_block_entries(header, task.entries)
    except FarmtraceError as exc:
        findings.append(Finding(exc.reason, str(exc), block=task.height))
    facts: list[EntryFacts] = []
    for offset, raw in enumerate(task.entries):
        index = task.first_index + offset
        try:
            entry = parse_entry(raw)
        except FarmtraceError as exc:
            findings.append(Finding(exc.reason, str(exc), block=task.height, entry=index))
            continue
        facts.append((index, entry.kid, entry.seq, entry.ts, entry.type, entry_subjects(entry)))
        try:
            verify_entry(entry, registry.authorize(entry, index))
        except FarmtraceError as exc:
            findings.append(
                Finding(
                    exc.reason,
                    f"{entry.kid} seq {entry.seq}: {exc}",
                    block=task.height,
                    entry=index,
                )
            )
    return BlockResult(task.height, header, tuple(findings), tuple(facts))
