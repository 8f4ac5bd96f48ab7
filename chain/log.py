"""Appending to a log: blocks from verified entries, then a signed checkpoint.

The gateway calls this after it has verified entries; tools and tests use it to
build logs directly. Time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chain import note
from chain.block import BlockHeader, build_header
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError, MalformedNoteError, StorageError
from chain.registry import Registry
from chain.registry_commitment import RegistryTree
from chain.store import Store
from chain.trust import TrustRoot

__all__ = ["LogWriter", "load_registry_tree", "replay_registrations"]


def load_registry_tree(store: Store) -> RegistryTree:
    """The registry tree of every registration entry ``store`` holds (via its index).

    Raises:
        StorageError: the index names a missing entry, or one that does not parse.
    """
    tree = RegistryTree()
    for index in store.registration_indexes():
        try:
            tree.add_entries([parse_entry(store.entry(index))], index)
        except (KeyError, FarmtraceError) as exc:
            raise StorageError(f"registration entry {index} cannot be read: {exc}") from exc
    return tree


def replay_registrations(store: Store, trust: TrustRoot) -> tuple[Registry, RegistryTree]:
    """The log's registry, replayed as an auditor would, and its registry tree: one read.

    Raises:
        StorageError: the registration index names a missing entry, or a stored
            registration does not parse or apply (the store is damaged: run the audit).
    """
    registry = Registry.from_trust_root(trust)
    tree = RegistryTree()
    for index in store.registration_indexes():
        try:
            entry = parse_entry(store.entry(index))
            registry.apply(entry, index)
        except (FarmtraceError, KeyError) as exc:
            raise StorageError(
                f"stored registration entry {index} cannot be replayed: {exc}"
            ) from exc
        tree.add_entries([entry], index)
    return registry, tree


class LogWriter:
    """Commits blocks to a :class:`~chain.store.Store` and signs checkpoints.

    ``log_signer_key`` is the log's C2SP signed-note signer key, whose name
    must be the store's origin. Every checkpoint it signs carries the registry
    commitment line (:mod:`chain.registry_commitment`), kept up to date as
    blocks are committed through it: the store must only grow through this
    writer while it is open.
    """

    def __init__(
        self, store: Store, log_signer_key: str, registry_tree: RegistryTree | None = None
    ) -> None:
        """``registry_tree``: the store's, if the caller already read it
        (:func:`replay_registrations`); else it is read here.

        Raises MalformedNoteError if the key is malformed or not named after the origin,
        StorageError if a stored registration entry is missing or does not parse."""
        key = note.parse_signer_key(log_signer_key)
        if key.name != store.origin:
            raise MalformedNoteError(
                f"log key is named {key.name!r}, expected the store's origin {store.origin!r}"
            )
        self.store = store
        self._signer_key = key
        self.registry_tree = load_registry_tree(store) if registry_tree is None else registry_tree

    def commit_block(
        self, entries: Sequence[Entry], closed_at: int, *, release: Iterable[int] = ()
    ) -> BlockHeader:
        """Append ``entries`` as the next block, closed at ``closed_at`` (ms).

        ``release``: ids of pending records the block takes (see
        :meth:`chain.store.Store.append_block`).

        Preconditions: every entry's signature and authority were verified.

        Raises:
            ConflictError: an entry's (signer, seq) is already in the log.
            StorageError: the store failed; nothing was written.
        """
        header = build_header(
            log=self.store.origin,
            prev=self.store.head(),
            entries=[e.raw for e in entries],
            closed_at=closed_at,
        )
        self.store.append_block(header, entries, release=release)
        self.registry_tree.add_entries(entries, header.first_index)
        return header

    def sign_checkpoint(self) -> str:
        """Sign and store a checkpoint of the log as it is now; return the note.

        Raises:
            StorageError: the log is empty, or the store failed.
        """
        size = self.store.size
        checkpoint = Checkpoint(
            origin=self.store.origin,
            size=size,
            root_hash=self.store.root(size),
            extensions=(self.registry_tree.commitment().to_line(),),
        )
        note = sign_checkpoint(checkpoint, self._signer_key)
        self.store.put_checkpoint(size, note)
        return note
