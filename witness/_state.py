"""The witness's durable state: the latest cosigned checkpoint per log, and kept evidence.

One JSON file per origin, ``state/<sha256(origin) hex>.json``, holding a
:class:`~witness._core.LogState`. A file is replaced whole: written to a
temporary file, fsynced, renamed over the old one, and the directory fsynced.
A kill -9 at any point leaves the old file or the new one, never a torn one;
a left-over temporary file is ignored and removed at the next start.

A state file that does not parse or contradicts its own note stops the
witness from starting (:class:`~chain.errors.StorageError`): forgetting a
log's state would let the witness cosign a rolled-back or forked history.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain import note
from chain.checkpoint import Checkpoint
from chain.errors import MalformedNoteError, StorageError
from witness._core import LogState

__all__ = ["LOCK_FILE", "MAX_EVIDENCE_FILES", "StateStore", "read_states"]

LOCK_FILE = "witness.lock"
MAX_EVIDENCE_FILES = 1000


class StateStore:
    """The state directory of one witness, held by this process alone.

    Use :meth:`locked` to read an origin's state and :meth:`save` its
    successor under that origin's lock, so that two requests can never both
    pass the old-size check (the spec's race). Thread-safe.

    Raises:
        StorageError: if another process holds the directory, or a state
            file is unreadable or corrupt.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._state_dir = directory / "state"
        self._evidence_dir = directory / "evidence"
        self._lock_fd = _lock(directory / LOCK_FILE)
        self._mutex = threading.Lock()
        self._origin_locks: dict[str, threading.Lock] = {}
        try:
            self._state_dir.mkdir(exist_ok=True)
            self._evidence_dir.mkdir(exist_ok=True)
            self._states = _load(self._state_dir, cleanup=True)
            self._evidence_count = sum(1 for p in self._evidence_dir.glob("*.txt"))
        except OSError as exc:
            self.close()
            raise StorageError(f"cannot open the witness state in {directory}: {exc}") from exc
        except StorageError:
            self.close()
            raise

    def close(self) -> None:
        """Release the directory lock (idempotent)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def get(self, origin: str) -> LogState | None:
        """The latest cosigned state of ``origin``, or None."""
        with self._mutex:
            return self._states.get(origin)

    def all(self) -> dict[str, LogState]:
        """Every origin's state (a snapshot)."""
        with self._mutex:
            return dict(self._states)

    @contextmanager
    def locked(self, origin: str) -> Iterator[LogState | None]:
        """Hold ``origin``'s lock; yield its current state."""
        with self._mutex:
            lock = self._origin_locks.setdefault(origin, threading.Lock())
        with lock:
            yield self.get(origin)

    def save(self, state: LogState) -> None:
        """Persist ``state`` durably, then make it the origin's current state.

        Precondition: the caller holds ``locked(state.origin)``.

        Raises:
            StorageError: if the file cannot be written (the state is unchanged).
        """
        path = self._state_dir / f"{_file_stem(state.origin)}.json"
        data = (json.dumps(state.to_json(), sort_keys=True, indent=1) + "\n").encode("utf-8")
        try:
            _write_durably(path, data)
        except OSError as exc:
            raise StorageError(f"cannot write the witness state {path}: {exc}") from exc
        with self._mutex:
            self._states[state.origin] = state

    @property
    def evidence_count(self) -> int:
        """How many evidence files the directory holds."""
        with self._mutex:
            return self._evidence_count

    def keep_evidence(self, body: bytes) -> Path | None:
        """Store a refused request ``body`` under ``evidence/``; None once full or on error.

        Files are named by the body's SHA-256, so a resent request is kept once.
        """
        path = self._evidence_dir / f"{hashlib.sha256(body).hexdigest()}.txt"
        with self._mutex:
            if path.exists():
                return path
            if self._evidence_count >= MAX_EVIDENCE_FILES:
                return None
            try:
                _write_durably(path, body)
            except OSError:
                return None
            self._evidence_count += 1
        return path


def read_states(directory: Path) -> dict[str, LogState]:
    """Read every log's state in the witness ``directory`` without taking its lock.

    For tools (``farmtrace witness show``) that inspect a directory a server
    may be using; each file is read whole, so a concurrent update shows the
    old state or the new one.

    Raises:
        StorageError: if a state file is unreadable or corrupt.
    """
    state_dir = directory / "state"
    try:
        return _load(state_dir, cleanup=False) if state_dir.is_dir() else {}
    except OSError as exc:
        raise StorageError(f"cannot read the witness state in {directory}: {exc}") from exc


def _load(state_dir: Path, *, cleanup: bool) -> dict[str, LogState]:
    states: dict[str, LogState] = {}
    for path in sorted(state_dir.iterdir()):
        if path.name.startswith("."):
            if cleanup:
                path.unlink()  # a temporary file a crash left behind
            continue
        state = _parse_state(path)
        if path.stem != _file_stem(state.origin):
            raise StorageError(f"{path}: holds the state of {state.origin!r}, another file's")
        states[state.origin] = state
    return states


def _parse_state(path: Path) -> LogState:
    try:
        doc = json.loads(path.read_bytes())
        root = base64.b64decode(doc["root"], validate=True)
        state = LogState(
            origin=str(doc["origin"]),
            size=int(doc["size"]),
            root=root,
            note=str(doc["note"]),
            received=str(doc["received"]),
            cosigned_at=int(doc["cosigned_at"]),
        )
        checkpoint = Checkpoint.from_text(note.parse(state.note).text)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error, MalformedNoteError) as exc:
        raise StorageError(f"{path}: corrupt witness state ({exc}); refusing to start") from exc
    if (checkpoint.origin, checkpoint.size, checkpoint.root_hash) != (
        state.origin,
        state.size,
        state.root,
    ):
        raise StorageError(f"{path}: corrupt witness state (its note is another checkpoint)")
    return state


def _file_stem(origin: str) -> str:
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot open {path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StorageError(
            f"{path.parent}: another witness process serves this directory (it holds {path.name})"
        ) from exc
    return fd
