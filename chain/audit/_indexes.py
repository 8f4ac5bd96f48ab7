"""The audit's check of every index record an entry needs: (signer, seq), subject,
registration and event.

Workers name the records as the store's opaque keys (:class:`~chain.audit._blocks.BlockResult`);
here each is looked up. A (signer, seq) record that names another entry means the
log holds that ``(signer, seq)`` twice: a duplicate when both copies are the
same bytes, an equivocation when they differ.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.audit._blocks import BlockResult
from chain.audit._report import Finding
from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.store import Store, index_key_kind, signer_seq_of_key

__all__ = ["check_index_records"]


def check_index_records(
    store: Store, height: int, result: BlockResult, fail: Callable[[Finding], None]
) -> None:
    """Look up every index record the entries of block ``height`` need; report what is wrong."""
    found = store.get_many(result.pointers)
    if found != result.indexes:
        for key, want, pointer in zip(result.pointers, result.indexes, found, strict=True):
            if pointer != want:
                _explain_pointer(store, height, key, want, pointer, fail)
    listed = store.get_many(result.listed)
    if None not in listed:
        return
    for key, value in zip(result.listed, listed, strict=True):
        if value is None:
            index = int.from_bytes(key[-8:], "big")
            kind, subject = index_key_kind(key)
            if kind == "subject":
                message = f"subject index lacks {subject!r}"
            else:
                message = f"{kind} index lacks this {kind}"
            fail(Finding("index", message, block=height, entry=index))


def _explain_pointer(
    store: Store,
    height: int,
    key: bytes,
    want: bytes,
    pointer: bytes | None,
    fail: Callable[[Finding], None],
) -> None:
    signer, seq = signer_seq_of_key(key)
    index = int.from_bytes(want, "big")
    other = None if pointer is None or len(pointer) != 8 else int.from_bytes(pointer, "big")
    other_raw = None if other is None else _entry_or_none(store, other)
    try:
        other_entry = None if other_raw is None else parse_entry(other_raw)
    except FarmtraceError:
        other_entry = None
    if other_entry is not None and (other_entry.kid, other_entry.seq) == (signer, seq):
        mine = _entry_or_none(store, index)
        reason = "duplicate" if mine == other_raw else "equivocation"
        fail(
            Finding(reason, f"{signer} seq {seq} is also entry {other}", block=height, entry=index)
        )
    else:
        fail(
            Finding(
                "index",
                f"(signer, seq) index for {signer} seq {seq} points to {other}, not here",
                block=height,
                entry=index,
            )
        )


def _entry_or_none(store: Store, index: int) -> bytes | None:
    try:
        return store.entry(index)
    except KeyError:
        return None
