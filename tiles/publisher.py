"""Following a log's read API and publishing it as tlog-tiles files, one round at a time."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chain import merkle
from chain.block import BlockHeader, verify_block_entries, verify_link
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import FarmtraceError, ForkError, RollbackError
from chain.tiles import (
    TILE_WIDTH,
    block_entries_path,
    encode_bundle,
    tile_node_getter,
    tile_writes,
)
from chain.trust import TrustRoot
from readapi.client import FetchedBlock, ReadApiClient
from tiles.files import TileDir
from tiles.store import CHECKPOINT, TileStore

__all__ = ["CHECKPOINT", "Published", "TilePublisher", "follow"]

_FETCHERS = 4
_WRITERS = 8  # a bucket's PUTs take a round trip each: write block files side by side
_WINDOW = 32


@dataclass(frozen=True, slots=True)
class Published:
    """One round: the published tree grew from ``old_size`` to ``size`` blocks;
    ``files`` new files were written (``checkpoint_updated``: the checkpoint file too)."""

    old_size: int
    size: int
    files: int
    checkpoint_updated: bool


class TilePublisher:
    """Publishes the log of ``trust``, read through ``client``, as tiles into ``store``.

    ``store`` is a :class:`~tiles.store.TileStore` (a directory, a bucket:
    :func:`tiles.targets.open_store`); a path means that directory. The
    store is the publisher's only state: a new publisher on the same store
    continues from its ``checkpoint`` file. One publisher per store, one
    round at a time.
    """

    def __init__(self, store: TileStore | Path, trust: TrustRoot, client: ReadApiClient) -> None:
        self.store = store if isinstance(store, TileStore) else TileDir(store)
        self.trust = trust
        self.client = client

    def published(self) -> tuple[Checkpoint, str] | None:
        """The published checkpoint and its note (verified), or None before the first round.

        Raises:
            StorageError: the file cannot be read.
            FarmtraceError: it is not a checkpoint of the log signed by its key.
        """
        if not self.store.exists(CHECKPOINT):
            return None
        note = self.store.read(CHECKPOINT).decode("utf-8", errors="replace")
        return open_checkpoint(note, self.trust.log_key), note

    def publish_once(self) -> Published:
        """Publish the source's latest checkpoint, with every block up to it.

        Nothing is published unless the checkpoint is signed by the log key,
        each new block links to the one before and holds the entries its
        header commits to, and the tree of the published headers has the
        checkpoint's root; then ``block/<N>`` files, entry bundles and hash
        tiles are written, and the checkpoint last. A note for the published
        size and root (e.g. with more cosignatures) replaces the checkpoint file.

        Raises:
            SourceError: the source could not be read.
            RollbackError: the source's checkpoint is smaller than the published one.
            ForkError: it contradicts the published tree.
            FarmtraceError: a bad signature, link, entries root or header.
            StorageError: the store cannot be read or written, or a
                published immutable file would change (reason ``tile_rewrite``).
        """
        note = self.client.checkpoint()
        checkpoint = open_checkpoint(note, self.trust.log_key)
        held = self.published()
        old_size = 0 if held is None else held[0].size
        if checkpoint.size < old_size:
            raise RollbackError(
                f"the source's checkpoint has {checkpoint.size} blocks, {old_size} are published"
            )
        if held is not None and checkpoint.size == old_size:
            if checkpoint.root_hash != held[0].root_hash:
                raise ForkError(f"the source's root at size {old_size} is not the published one")
            changed = note != held[1] and self.store.write(
                CHECKPOINT, note.encode(), immutable=False
            )
            return Published(old_size, old_size, 0, changed)
        edge, bundle = self.store.edge(old_size)
        frontier = merkle.Frontier.from_nodes(
            tile_node_getter(self.store.hashes, old_size), old_size
        )
        prev = (
            None
            if old_size == 0
            else BlockHeader.from_bytes(self.store.leaf(old_size - 1, old_size))
        )
        headers: list[bytes] = []
        files = 0
        pending: deque[Future[bool]] = deque()
        with ThreadPoolExecutor(_WRITERS, thread_name_prefix="tiles-write") as writers:
            for block in self._blocks(old_size, checkpoint.size):
                header = BlockHeader.from_bytes(block.header_raw)
                verify_link(prev, header)
                verify_block_entries(header, block.entries)
                # Not yet published, so a file of another history may be replaced.
                pending.append(
                    writers.submit(
                        self.store.write,
                        block_entries_path(block.height),
                        encode_bundle(block.entries),
                        immutable=False,
                    )
                )
                if len(pending) >= _WINDOW:
                    pending.popleft().result()
                files += 1
                frontier.append(merkle.leaf_hash(block.header_raw))
                headers.append(block.header_raw)
                prev = header
            while pending:
                pending.popleft().result()
        if frontier.root() != checkpoint.root_hash:
            raise ForkError(
                f"the source's blocks up to {checkpoint.size} do not have its checkpoint's root"
            )
        for write in tile_writes(old_size, edge, bundle, headers):
            files += self.store.write(
                write.tile.path, write.data, immutable=write.tile.width == TILE_WIDTH
            )
        self.store.write(CHECKPOINT, note.encode(), immutable=False)
        return Published(old_size, checkpoint.size, files + 1, True)

    def _blocks(self, start: int, stop: int) -> Iterator[FetchedBlock]:
        """Blocks ``start..stop-1`` in order, fetched ahead by a few threads."""
        with ThreadPoolExecutor(_FETCHERS, thread_name_prefix="tiles-fetch") as pool:
            for first in range(start, stop, _WINDOW):
                yield from pool.map(self.client.block, range(first, min(first + _WINDOW, stop)))


def follow(
    publisher: TilePublisher,
    stop: threading.Event,
    *,
    interval_s: float,
    on_round: Callable[[Published | FarmtraceError], None],
) -> None:
    """Publish a round every ``interval_s`` seconds until ``stop`` is set.

    A round that fails (the source down, a bad block, a fork) publishes
    nothing; ``on_round`` gets its error and the next round tries again.
    Only unexpected exceptions propagate.
    """
    while not stop.is_set():
        try:
            on_round(publisher.publish_once())
        except FarmtraceError as exc:
            on_round(exc)
        stop.wait(interval_s)
