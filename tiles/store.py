"""Where the publisher writes: the seam between it and a directory or a bucket.

A :class:`TileStore` holds the files of a tlog-tiles prefix under their
relative paths (``checkpoint``, ``tile/0/x001/234``, ``block/007``). The
publisher only needs to write a file (an immutable one at most once, never
with other bytes), read one back, and ask whether one exists; reading the
published tree's right edge is built on that here, once for every store.
:func:`serving` says how each file is served (the same for nginx and a
bucket's object metadata).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Self

from chain.errors import MalformedError, StorageError
from chain.tiles import (
    TILE_WIDTH,
    decode_bundle,
    decode_hash_tile,
    entries_path,
    tile_levels,
    tile_path,
    tile_width,
)

__all__ = ["CHECKPOINT", "Serving", "TileStore", "serving"]

CHECKPOINT = "checkpoint"
"""The one mutable file: the latest published checkpoint, written last."""

IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE = "no-cache"


@dataclass(frozen=True, slots=True)
class Serving:
    """How a file is served: its ``Content-Type`` and ``Cache-Control``."""

    content_type: str
    cache_control: str


def serving(path: str) -> Serving:
    """How the file at ``path`` is served (docs/tiles.md, tests/nginx_static.py).

    The checkpoint changes (``no-cache``); hash tiles, entry bundles and
    ``block/<N>`` files never do (a bigger tree uses other names).
    """
    if path == CHECKPOINT:
        return Serving("text/plain; charset=utf-8", CHECKPOINT_CACHE)
    return Serving("application/octet-stream", IMMUTABLE_CACHE)


class TileStore(ABC):
    """The files of one tlog-tiles prefix.

    ``refused`` counts the writes refused, by reason (``tile_rewrite``: an
    immutable file already holds other bytes).

    Raises (every method):
        StorageError: a file cannot be written or read back, or an immutable
            file already holds other bytes.
    """

    def __init__(self) -> None:
        self.refused: Counter[str] = Counter()

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds open (connections)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def name(self, path: str) -> str:
        """Where ``path`` is, for messages (a file name, an ``s3://`` URL)."""

    @abstractmethod
    def write(self, path: str, data: bytes, *, immutable: bool) -> bool:
        """Write ``data`` at ``path``; return False if an immutable file already holds it.

        An immutable file is written once: the same bytes again are a no-op,
        other bytes raise StorageError (reason ``tile_rewrite``) and leave
        it as it was. Otherwise the file is replaced whole (readers see the
        old or the new bytes, never a mix).
        """

    @abstractmethod
    def read(self, path: str) -> bytes:
        """The bytes at ``path`` (StorageError, reason ``tile_read``, if it cannot be read)."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""

    def _refuse_rewrite(self, path: str) -> StorageError:
        """The error for an immutable file that would change, counted."""
        self.refused["tile_rewrite"] += 1
        return StorageError(
            f"{self.name(path)}: a published immutable file holds other bytes "
            "(a fork of the log, or a corrupted copy): refusing to replace it",
            reason="tile_rewrite",
        )

    def hashes(self, level: int, index: int, width: int) -> list[bytes]:
        """The hashes of a published hash tile."""
        path = tile_path(level, index, width)
        try:
            return decode_hash_tile(self.read(path), width)
        except MalformedError as exc:
            raise StorageError(f"{self.name(path)}: {exc}", reason="tile_read") from exc

    def edge(self, size: int) -> tuple[dict[int, list[bytes]], list[bytes]]:
        """The partial tiles of the tree of ``size``: hashes by level, and the bundle's leaves."""
        edge: dict[int, list[bytes]] = {}
        for level in range(tile_levels(size)):
            index = (size >> (8 * level)) // TILE_WIDTH
            width = tile_width(level, index, size)
            if width:
                edge[level] = self.hashes(level, index, width)
        width = size % TILE_WIDTH
        if not width:
            return edge, []
        path = entries_path(size // TILE_WIDTH, width)
        try:
            return edge, decode_bundle(self.read(path), width)
        except MalformedError as exc:
            raise StorageError(f"{self.name(path)}: {exc}", reason="tile_read") from exc

    def leaf(self, index: int, size: int) -> bytes:
        """Leaf ``index`` (a block header) of the published tree of ``size`` leaves."""
        tile, offset = divmod(index, TILE_WIDTH)
        width = tile_width(0, tile, size)
        path = entries_path(tile, width)
        try:
            return decode_bundle(self.read(path), width)[offset]
        except MalformedError as exc:
            raise StorageError(f"{self.name(path)}: {exc}", reason="tile_read") from exc
