"""The live audit's memory between runs: the last checkpoint it verified.

The state file is that checkpoint's signed note, exactly as the log served
it (so ``cat`` shows what was verified, and any C2SP tool can read it). The
next run must find the log consistent with it: the same root at that size,
and never a smaller served checkpoint. It is replaced atomically (a
temporary file in the same directory, fsynced, renamed over it), so a crash
leaves either the old state or the new one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import FarmtraceError, StorageError

__all__ = ["SavedCheckpoint", "read_state", "write_state"]

_MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """The checkpoint a previous run verified: its ``note`` and what it says."""

    note: str
    checkpoint: Checkpoint


def read_state(path: Path, log_key: str) -> SavedCheckpoint | None:
    """The checkpoint stored at ``path`` (None if there is no such file).

    Raises:
        StorageError: the file cannot be read, or is not a checkpoint signed
            by ``log_key`` (another log's state, or a damaged file).
    """
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read the state file {path}: {exc}") from exc
    if len(raw) > _MAX_BYTES:
        raise StorageError(f"state file {path}: longer than {_MAX_BYTES} bytes")
    try:
        note = raw.decode("utf-8")
        return SavedCheckpoint(note, open_checkpoint(note, log_key))
    except (UnicodeDecodeError, FarmtraceError) as exc:
        raise StorageError(
            f"state file {path} is not a checkpoint of this log signed by the trusted key: {exc}"
        ) from exc


def write_state(path: Path, note: str) -> None:
    """Replace the state at ``path`` with ``note``, atomically and durably.

    Raises:
        StorageError: the directory is not writable or the disk failed.
    """
    directory = path.parent
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(note.encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
    except OSError as exc:
        raise StorageError(f"cannot write the state file {path}: {exc}") from exc
