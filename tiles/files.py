"""The tiles directory on disk: atomic writes, immutable files never rewritten."""

from __future__ import annotations

import os
from pathlib import Path

from chain.errors import StorageError
from tiles.store import TileStore

__all__ = ["TileDir"]


class TileDir(TileStore):
    """The files under ``root``: write each atomically (temporary file, fsync, rename).

    Raises (every method):
        StorageError: a file cannot be written or read back, or an immutable
            file already holds other bytes.
    """

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)

    def close(self) -> None:
        """Nothing to release: each write opens and closes its file."""

    def name(self, path: str) -> str:
        """The file's name."""
        return str(self.root / path)

    def write(self, path: str, data: bytes, *, immutable: bool) -> bool:
        """Write ``data`` at ``path``; return False if an immutable file already holds it.

        Raises:
            StorageError: ``immutable`` and the file holds other bytes (a
                published tile is never rewritten), or the write failed.
        """
        target = self.root / path
        if immutable and target.exists():
            if self.read(path) != data:
                raise self._refuse_rewrite(path)
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
