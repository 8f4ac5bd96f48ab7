"""The tiles directory on disk: atomic writes, immutable files, reading back the right edge."""

from __future__ import annotations

import os
from pathlib import Path

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

__all__ = ["TileDir"]


class TileDir:
    """The files under ``root``: write each atomically (temporary file, fsync, rename).

    Raises (every method):
        StorageError: a file cannot be written or read back, or an immutable
            file already holds other bytes.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def write(self, path: str, data: bytes, *, immutable: bool) -> bool:
        """Write ``data`` at ``path``; return False if an immutable file already holds it.

        Raises:
            StorageError: ``immutable`` and the file holds other bytes (a
                published tile is never rewritten), or the write failed.
        """
        target = self.root / path
        if immutable and target.exists():
            if self.read(path) != data:
                raise StorageError(
                    f"{target}: a published immutable file would change", reason="tile_rewrite"
                )
            return False
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise StorageError(f"{target}: cannot write: {exc}", reason="tile_write") from exc
        return True

    def read(self, path: str) -> bytes:
        """The bytes at ``path`` (StorageError if it cannot be read)."""
        try:
            return (self.root / path).read_bytes()
        except OSError as exc:
            raise StorageError(
                f"{self.root / path}: cannot read: {exc}", reason="tile_read"
            ) from exc

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return (self.root / path).exists()

    def hashes(self, level: int, index: int, width: int) -> list[bytes]:
        """The hashes of a published hash tile."""
        path = tile_path(level, index, width)
        try:
            return decode_hash_tile(self.read(path), width)
        except MalformedError as exc:
            raise StorageError(f"{self.root / path}: {exc}", reason="tile_read") from exc

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
            raise StorageError(f"{self.root / path}: {exc}", reason="tile_read") from exc

    def leaf(self, index: int, size: int) -> bytes:
        """Leaf ``index`` (a block header) of the published tree of ``size`` leaves."""
        tile, offset = divmod(index, TILE_WIDTH)
        width = tile_width(0, tile, size)
        path = entries_path(tile, width)
        try:
            return decode_bundle(self.read(path), width)[offset]
        except MalformedError as exc:
            raise StorageError(f"{self.root / path}: {exc}", reason="tile_read") from exc
