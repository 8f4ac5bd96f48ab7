"""A batch (block) as its page shows it: header, entries, and its place in the checkpoint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chain import merkle, note
from chain.block import BlockHeader
from chain.checkpoint import Checkpoint
from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.store import Store

__all__ = ["SHOWN_ENTRIES", "BatchEntry", "BatchView", "batch_view"]

SHOWN_ENTRIES = 200
"""Entries listed on a batch's page (the JSON has them all)."""


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One entry of a batch: its global ``index``, type, signer, time and a short summary."""

    index: int
    type: str
    signer: str
    ts: int
    summary: str


@dataclass(frozen=True, slots=True)
class BatchView:
    """Block ``header`` (hash ``block_hash``) and what covers it.

    ``checkpoint_size`` is the latest checkpoint's size when it covers the
    block (else None); ``path_hashes`` the length of the block's audit path
    in it, ``included`` whether that path leads to the checkpoint's root.
    """

    block_hash: str
    header: BlockHeader
    checkpoint_size: int | None
    path_hashes: int
    included: bool
    entries: tuple[BatchEntry, ...]


def _summary(payload: dict[str, object] | object) -> str:
    if not isinstance(payload, dict):
        return ""
    if payload.get("type") == "reading":
        return f"{payload.get('kind')} {payload.get('subject')} = {payload.get('value')}"
    if payload.get("type") == "event":
        subjects = payload.get("subjects")
        shown = ", ".join(str(s) for s in subjects) if isinstance(subjects, tuple) else ""
        return f"{payload.get('event')} {shown}"
    if payload.get("type") == "gap":  # a device declares seqs it reserved but never used
        return f"seqs {payload.get('from')}-{payload.get('to')} declared unused"
    name = payload.get("dev") or payload.get("op")
    return f"{payload.get('action')} {name}"


def batch_view(store: Store, block_hash: str) -> BatchView | None:
    """The batch whose header hashes to ``block_hash`` (lowercase hex), or None."""
    try:
        height = store.height_of(block_hash)
        raw = store.block_raw(height)
    except KeyError:
        return None
    header = BlockHeader.from_bytes(raw)
    if hashlib.sha256(raw).hexdigest() != block_hash:
        return None
    latest = store.latest_checkpoint()
    size: int | None = None
    path: list[bytes] = []
    included = False
    if latest is not None and height < latest[0]:
        size = latest[0]
        path = store.inclusion_proof(height, size)
        try:
            root = Checkpoint.from_text(note.parse(latest[1]).text).root_hash
            merkle.verify_inclusion(height, size, merkle.leaf_hash(raw), path, root)
            included = True
        except FarmtraceError:
            included = False
    rows = []
    for offset, entry_raw in enumerate(store.block_entries(height)[:SHOWN_ENTRIES]):
        index = header.first_index + offset
        try:
            entry = parse_entry(entry_raw)
        except FarmtraceError:
            rows.append(BatchEntry(index, "?", "?", 0, ""))
            continue
        rows.append(
            BatchEntry(index, entry.type, entry.kid, entry.ts, _summary(dict(entry.payload)))
        )
    return BatchView(block_hash, header, size, len(path), included, tuple(rows))
