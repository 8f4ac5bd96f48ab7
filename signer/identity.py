"""A device's identity: its Ed25519 signer key and its persisted sequence counter.

design.md section 2: a reading carries ``seq`` 1, 2, 3 ... per device,
persisted across reboots, and ``(dev, seq)`` is unique in the log; a second,
different entry for a ``(dev, seq)`` is rejected as an equivocation. So a
device must never hand out a seq twice, even across a crash or power loss.

A state directory holds::

    device.key   the signer key (chain.keyfile format, mode 0600)
    seq.json     {"dev": <id>, "reserved": N}: no seq <= N may be handed out again;
                 with "from": F while a session holds the block F..N, of which
                 some seqs may be unused (gone if it crashes)
    lock         flock'ed while an identity is open: exclusively (one process per
                 device), or shared by every process of a ``shared`` identity
    seq.lock     flock'ed exclusively by a ``shared`` identity for each reservation

:meth:`DeviceIdentity.next_seq` makes the new high-water mark durable (write
a temporary file, fsync it, rename it over ``seq.json``, fsync the directory)
*before* it returns a seq. With ``reserve_block`` = N > 1 it reserves N
numbers per write and hands them out from memory: N times fewer fsyncs, but
a crash skips up to N - 1 unused numbers, never a reuse. A clean
:meth:`DeviceIdentity.close` writes back the exact high-water mark (the last
seq handed out), so that the next start continues without a hole; only a
crash leaves reserved numbers unused. Even with N = 1, a crash between
reserving a seq and storing its entry leaves one. A device declares such
numbers in the log itself, with a signed ``gap`` entry
(:class:`signer.device.Device` does it at start), so that auditors can tell
a declared gap from readings that went missing.

Operators (people) may sign from several processes at once with one state
directory, e.g. a running desk and ``farmtrace operator ...`` on the admin's
key: each opens the identity with ``shared=True``. Those share the ``lock``
(an exclusive opener is refused while any is open, and the other way round)
and allocate every seq atomically: under ``seq.lock`` they re-read
``seq.json``, sign the payload with the seq above it, make that seq durable
and only then release the lock. No seq is ever reserved without being
signed, so a shared identity never leaves a block to declare: a crash
loses at most the signed entries not yet sent (an outbox's job, as for a
device). Its reserve block is always 1.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from chain.entries import reading_payload, sign_entry
from chain.errors import StorageError
from chain.keyfile import SignerKey, load_key, save_key

__all__ = ["KEY_FILE", "SEQ_FILE", "DeviceIdentity"]

KEY_FILE = "device.key"
"""The key file's name inside a state directory."""

SEQ_FILE = "seq.json"
"""The sequence high-water mark's file name inside a state directory."""

_LOCK_FILE = "lock"
_SEQ_LOCK_FILE = "seq.lock"
_T = TypeVar("_T")
_logger = logging.getLogger(__name__)
_SEQ_LIMIT = 2**53 - 1  # the largest integer every JSON reader keeps exact


class DeviceIdentity:
    """A device's key and durable seq counter, owning its state directory while open.

    Build one with :meth:`create`, :meth:`open` or :meth:`open_or_create`; use
    it as a context manager (or call :meth:`close`). Not thread-safe: one
    sampling thread signs.
    """

    def __init__(
        self,
        state_dir: Path,
        key: SignerKey,
        reserved: int,
        lock_fd: int,
        reserve_block: int,
        crashed_block: tuple[int, int] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.key = key
        self.crashed_block = crashed_block
        """``(F, N)``: the block the last session held when it ended without :meth:`close`
        (a crash): some of its seqs may never have been used. None after a clean close."""
        self._reserved = reserved
        self._next = reserved + 1
        self._last = 0
        self._lock_fd: int | None = lock_fd
        self._block = reserve_block
        self._shared = shared

    @classmethod
    def create(
        cls, state_dir: str | Path, key: SignerKey, *, reserve_block: int = 1, shared: bool = False
    ) -> DeviceIdentity:
        """Make ``state_dir`` (mode 0700 if new) the home of ``key``, e.g. one from ``keygen``.

        A seq state already there for the same device id is kept (the counter
        never goes back); the first seq handed out is one above it.

        Raises:
            FileExistsError: ``state_dir`` already holds a key.
            StorageError: the directory is locked by another process, or holds
                the seq state of a different device.
            ValueError: ``reserve_block`` < 1, or > 1 with ``shared``.
        """
        _check_block(reserve_block, shared)
        root = Path(state_dir)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = _lock(root, shared)
        try:
            with _seq_lock(root, shared):
                if (root / KEY_FILE).exists():
                    raise FileExistsError(
                        0, "state directory already holds a key", str(root / KEY_FILE)
                    )
                reserved = _read_seq(root, key.id)[0] if (root / SEQ_FILE).exists() else 0
                _write_seq(root, key.id, reserved)
                save_key(key, root / KEY_FILE)
                _fsync_dir(root)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(root, key, reserved, lock_fd, reserve_block, shared=shared)

    @classmethod
    def open(
        cls, state_dir: str | Path, *, reserve_block: int = 1, shared: bool = False
    ) -> DeviceIdentity:
        """Open the identity kept in ``state_dir``; its next seq follows every one reserved.

        With ``shared``, other processes may have it open (``shared``) too;
        the :attr:`crashed_block` an exclusive session left is then reported
        to the first opener only (taken out of ``seq.json``), so that one
        process declares it.

        Raises:
            FileNotFoundError: ``state_dir`` or its key file does not exist.
            MalformedError: the key file is not a farmtrace key file.
            StorageError: locked by another process (exclusively, or at all
                without ``shared``), or the seq state is missing, unreadable or
                for another device (never silently restart at 1).
            ValueError: ``reserve_block`` < 1, or > 1 with ``shared``.
        """
        _check_block(reserve_block, shared)
        root = Path(state_dir)
        if not (root / KEY_FILE).exists():
            raise FileNotFoundError(0, "no device key in state directory", str(root / KEY_FILE))
        lock_fd = _lock(root, shared)
        try:
            key = load_key(root / KEY_FILE)
            with _seq_lock(root, shared):
                reserved, first = _read_seq(root, key.id)
                if shared and first is not None:  # claim the crashed block: one declares it
                    _write_seq(root, key.id, reserved)
        except BaseException:
            os.close(lock_fd)
            raise
        crashed = None if first is None else (first, reserved)
        return cls(root, key, reserved, lock_fd, reserve_block, crashed, shared=shared)

    @classmethod
    def open_or_create(
        cls,
        state_dir: str | Path,
        device_id: str,
        *,
        seed: bytes | None = None,
        reserve_block: int = 1,
        shared: bool = False,
    ) -> DeviceIdentity:
        """Open ``state_dir``'s identity, or create one with a new key for ``device_id``.

        ``seed`` fixes the new key (reproducible simulations); it is ignored
        when the identity exists.

        Raises:
            StorageError: the existing identity belongs to another device id,
                or as for :meth:`open` / :meth:`create`.
            MalformedError: ``device_id`` is not an id, or ``seed`` not 32 bytes.
        """
        if (Path(state_dir) / KEY_FILE).exists():
            identity = cls.open(state_dir, reserve_block=reserve_block, shared=shared)
            if identity.id != device_id:
                identity.close()
                raise StorageError(
                    f"{state_dir}: expected the identity of {device_id!r}, found {identity.id!r}"
                )
            return identity
        key = SignerKey.generate(device_id, seed=seed)
        return cls.create(state_dir, key, reserve_block=reserve_block, shared=shared)

    @property
    def id(self) -> str:
        """The device id: the JWS ``kid`` and the payload's ``dev``."""
        return self.key.id

    @property
    def reserved(self) -> int:
        """The durable high-water mark: no seq at or below it will be handed out again.

        For a ``shared`` identity it is read from ``seq.json`` (others may
        have gone past what this process signed); as last known if that fails.
        """
        if self._shared and self._lock_fd is not None:
            try:
                self._reserved = max(self._reserved, _read_seq(self.state_dir, self.id)[0])
            except StorageError as exc:
                _logger.warning("%s: %s", self.id, exc)
        return self._reserved

    @property
    def shared(self) -> bool:
        """Whether other processes may sign from this state directory at the same time."""
        return self._shared

    @property
    def last_seq(self) -> int:
        """The seq most recently handed out by this instance (0 before the first)."""
        return self._last

    def next_seq(self) -> int:
        """Reserve durably, then return, the next seq.

        Raises:
            StorageError: closed, the seq space is exhausted, or the state
                could not be written (then no seq was handed out).
        """
        if self._shared:
            return self._allocate(lambda first: None, 1)[0]
        seq = self._next
        self._reserve_through(seq)
        self._next = seq + 1
        self._last = seq
        return seq

    def sign_payload(self, make: Callable[[int], Mapping[str, object]]) -> bytes:
        """Sign ``make(seq)`` with the next seq as this signer; return the compact JWS.

        Any entry type works (a device's reading, an operator's registration
        or event): every signer has one seq stream. The payload is validated
        before the seq is reserved, so a bad payload uses no seq; the seq is
        durable before this returns and is :attr:`last_seq` afterwards.

        Raises:
            MalformedEntryError: ``make(seq)`` is not a valid entry payload
                for this signer.
            StorageError: as for :meth:`next_seq`.
        """
        if self._shared:
            return self._allocate(lambda seq: sign_entry(make(seq), self.id, self.key.seed), 1)[1]
        raw = sign_entry(make(self._next), self.id, self.key.seed)
        self.next_seq()  # reserves exactly the seq signed, or raises having handed out nothing
        return raw

    def sign_reading(self, kind: str, subject: str, value: float, unit: str, ts: int) -> bytes:
        """Sign a ``reading`` entry with the next seq; return the compact JWS.

        Raises:
            MalformedEntryError: the fields would not make a valid reading
                (unknown unit for ``kind``, bad subject, non-finite value ...).
            StorageError: as for :meth:`next_seq`.
        """
        return self.sign_payload(
            lambda seq: reading_payload(self.id, seq, ts, kind, subject, value, unit)
        )

    def sign_readings(
        self, readings: Sequence[tuple[str, str, float, str, int]]
    ) -> list[tuple[int, bytes]]:
        """Sign many ``(kind, subject, value, unit, ts)`` readings with consecutive seqs.

        For backfills: the seqs are reserved with one durable write for the
        whole batch (not one per reading). A crash before the entries are
        stored leaves a gap of up to ``len(readings)`` seqs, never a reuse.
        Returns ``(seq, jws)`` pairs in order.

        Raises:
            MalformedEntryError: a reading is invalid; no seq was used.
            StorageError: as for :meth:`next_seq` (no seq was handed out).
        """

        def sign_all(first: int) -> list[tuple[int, bytes]]:
            return [
                (
                    seq,
                    sign_entry(
                        reading_payload(self.id, seq, ts, kind, subj, value, unit),
                        self.id,
                        self.key.seed,
                    ),
                )
                for seq, (kind, subj, value, unit, ts) in enumerate(readings, start=first)
            ]

        if self._shared:
            return self._allocate(sign_all, len(readings))[1] if readings else []
        signed = sign_all(self._next)
        if signed:
            self._reserve_through(signed[-1][0])
            self._next = signed[-1][0] + 1
            self._last = signed[-1][0]
        return signed

    def _allocate(self, sign: Callable[[int], _T], count: int) -> tuple[int, _T]:
        """Under ``seq.lock``: ``sign(first)`` for the next seq on disk, then reserve ``count``.

        Returns ``(first, sign(first))``; nothing is reserved if ``sign`` raises.
        """
        if self._lock_fd is None:
            raise StorageError(f"{self.state_dir}: identity is closed")
        with _seq_lock(self.state_dir, True):
            first = _read_seq(self.state_dir, self.id)[0] + 1
            high = first + count - 1
            if high > _SEQ_LIMIT:
                raise StorageError(f"{self.id}: seq space exhausted at {first - 1}")
            signed = sign(first)
            try:
                _write_seq(self.state_dir, self.id, high)
            except OSError as exc:
                raise StorageError(f"{self.state_dir}: cannot persist seq {high}: {exc}") from exc
        self._reserved, self._next, self._last = high, high + 1, high
        return first, signed

    def _reserve_through(self, seq: int) -> None:
        if self._lock_fd is None:
            raise StorageError(f"{self.state_dir}: identity is closed")
        if seq <= self._reserved:
            return
        high = min(max(seq, self._next + self._block - 1), _SEQ_LIMIT)
        if seq > high:
            raise StorageError(f"{self.id}: seq space exhausted at {self._reserved}")
        try:
            _write_seq(self.state_dir, self.id, high, self._next)
        except OSError as exc:
            raise StorageError(f"{self.state_dir}: cannot persist seq {high}: {exc}") from exc
        self._reserved = high

    def close(self) -> None:
        """Write back the exact high-water mark, then release the state directory.

        The numbers reserved but not handed out are given back, so that the
        next start continues at :attr:`last_seq` + 1 (no hole). Should that
        write fail, the block stays reserved (a hole the device then
        declares, never a reuse): it is logged, not raised. Later calls to
        :meth:`next_seq` raise.
        """
        if self._lock_fd is None:
            return
        used = self._next - 1  # every seq handed out is <= used
        try:
            # Not after no seq (keep what the file says: a crash's block stays
            # undeclared), nor when shared (a shared identity reserves none unused).
            if self._last and not self._shared:
                _write_seq(self.state_dir, self.id, used)
                self._reserved = used
        except OSError as exc:
            _logger.warning(
                "%s: cannot give back seqs %d..%d: %s", self.id, used + 1, self._reserved, exc
            )
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> DeviceIdentity:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_block(reserve_block: int, shared: bool) -> None:
    if reserve_block < 1:
        raise ValueError(f"reserve_block: expected >= 1, found {reserve_block}")
    if shared and reserve_block != 1:
        raise ValueError(f"reserve_block: expected 1 for a shared identity, found {reserve_block}")


def _lock(root: Path, shared: bool) -> int:
    fd = os.open(root / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        users = "only shared users" if shared else "no other user"
        raise StorageError(f"{root}: expected {users}, found it locked by another") from exc
    return fd


@contextmanager
def _seq_lock(root: Path, shared: bool) -> Iterator[None]:
    """Hold ``seq.lock`` exclusively (``shared`` identities only; others own ``lock``)."""
    if not shared:
        yield
        return
    fd = os.open(root / _SEQ_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for one read, sign and fsync'ed write
        yield
    finally:
        os.close(fd)


def _read_seq(root: Path, device_id: str) -> tuple[int, int | None]:
    path = root / SEQ_FILE
    try:
        state = json.loads(path.read_text())
        dev, reserved = state["dev"], state["reserved"]
    except FileNotFoundError as exc:
        raise StorageError(
            f"{path}: expected the seq state beside the key, found none "
            "(refusing to restart at seq 1)"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{path}: expected seq state JSON, found error: {exc}") from exc
    if dev != device_id:
        raise StorageError(f"{path}: expected the seq state of {device_id!r}, found {dev!r}")
    if type(reserved) is not int or not 0 <= reserved <= _SEQ_LIMIT:
        raise StorageError(f"{path}: expected reserved in [0, 2**53), found {reserved!r}")
    first = state.get("from")
    if first is not None and (type(first) is not int or not 1 <= first <= reserved + 1):
        raise StorageError(f"{path}: expected from in [1, reserved + 1], found {first!r}")
    return reserved, first


def _write_seq(root: Path, device_id: str, reserved: int, first: int | None = None) -> None:
    state: dict[str, object] = {"dev": device_id, "reserved": reserved}
    if first is not None:
        state["from"] = first
    data = json.dumps(state).encode() + b"\n"
    tmp = root / f".{SEQ_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, root / SEQ_FILE)
    _fsync_dir(root)


def _fsync_dir(root: Path) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
