"""A device's durable outbox: signed entries kept until the gateway's receipt covers them.

design.md section 4: a broker's PUBACK is not durability, so delivery is end
to end. A device stores each signed entry here *before* sending it, resends
whatever is still here after a reconnect, and deletes entries only when the
gateway's receipt covers them (:meth:`Outbox.release`: every seq up to the
highest contiguous committed ``seq``, cumulatively, plus the committed
``ranges`` above a hole; see :class:`chain.wire.Receipt`).

Storage is SQLite (stdlib :mod:`sqlite3`) in WAL mode with
``synchronous=FULL``: every :meth:`Outbox.put` is one transaction whose
commit fsyncs the write-ahead log before it returns, so an entry that was
put survives ``kill -9`` and power loss (https://sqlite.org/wal.html,
https://sqlite.org/pragma.html#pragma_synchronous). SQLite gives atomic
commits, an ordered scan by seq (the rowid) and a cumulative delete in one
transaction, which a file-per-entry design would have to rebuild by hand.

The bound: ``max_bytes`` caps the total length of the stored entries. On
disk the database takes somewhat more (page overhead, some 10 to 30 %), plus
a write-ahead log that is checkpointed every 256 pages and truncated back to
1 MiB, so about 1 MiB more at most. Freed pages are reused, so the files stop
growing once they have held ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from chain.entries import parse_entry
from chain.errors import FarmtraceError, StorageError
from chain.jws import MAX_ENTRY_BYTES
from signer.errors import OutboxFullError

__all__ = ["DEFAULT_MAX_BYTES", "Outbox", "OutboxEntry"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Default bound: some 200,000 readings, months of backlog for a device sampling each minute."""

_logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_WAL_PAGES = 256  # checkpoint the WAL into the database every ~1 MiB
_WAL_LIMIT = 1024 * 1024
_SQLITE_FULL = 13
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY CHECK (seq >= 1), raw BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One kept entry: its seq and the exact signed bytes to (re)send."""

    seq: int
    raw: bytes


class Outbox:
    """A bounded, crash-safe queue of signed entries keyed by seq.

    Thread-safe (a transport thread may send and acknowledge while the
    sampling thread puts), but one process per outbox: the counters live in
    memory. A device's :class:`~signer.identity.DeviceIdentity` lock
    guarantees that when the outbox sits in its state directory.

    What a device does when it is full: a device must never silently drop a
    signed reading, so it checks :meth:`check_room` *before* it samples and
    signs. While that raises :class:`OutboxFullError` the device stops
    sampling: it takes no reading and reserves no seq (so the seq stream
    stays gap-free; the pause shows as missing readings in time, and the
    warning in the log says why). Receipts that arrive free space and
    sampling resumes. Should :meth:`put` itself refuse (the disk filled up),
    keep the signed entry in memory and put it again after the next receipt;
    do not sign newer readings meanwhile.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._conn = conn
        self._lock = threading.Lock()
        self._full_warned = False
        row = conn.execute("SELECT count(*), coalesce(sum(length(raw)), 0), max(seq) FROM entries")
        count, size, highest = row.fetchone()
        self._count: int = count
        self._bytes: int = size
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        self._acked: int = meta.get("acked", 0)
        self._highest: int = max(self._acked, highest or 0, meta.get("highest", 0))
        lowest = conn.execute("SELECT min(seq) FROM entries").fetchone()[0]
        self._lowest: int | None = lowest

    @classmethod
    def open(cls, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Outbox:
        """Open (creating if needed) the outbox database at ``path``.

        Raises:
            ValueError: ``max_bytes`` is smaller than one maximum-size entry.
            StorageError: the file is not an outbox, or WAL mode is unavailable.
        """
        if max_bytes < MAX_ENTRY_BYTES:
            raise ValueError(f"max_bytes: expected >= {MAX_ENTRY_BYTES}, found {max_bytes}")
        path = Path(path)
        with _storage_errors(path):
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal":
                    raise StorageError(f"{path}: expected journal_mode wal, found {mode}")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT}")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, _FORMAT_VERSION):
                    raise StorageError(
                        f"{path}: expected outbox format {_FORMAT_VERSION}, found {version}"
                    )
                conn.executescript(_SCHEMA + f"PRAGMA user_version={_FORMAT_VERSION};")
                return cls(path, conn, max_bytes)
            except BaseException:
                conn.close()
                raise

    @property
    def count(self) -> int:
        """How many entries are kept (not yet covered by a receipt)."""
        return self._count

    @property
    def bytes_used(self) -> int:
        """Total length of the kept entries, in bytes (what ``max_bytes`` bounds)."""
        return self._bytes

    @property
    def acknowledged(self) -> int:
        """The highest seq a receipt has covered (0 if none); durable."""
        return self._acked

    @property
    def highest_seq(self) -> int:
        """The highest seq ever put or released (0 if none); durable.

        Every seq above it was never stored here, so never sent: a device
        may declare such seqs skipped (see :class:`signer.device.Device`).
        """
        return self._highest

    @property
    def lowest_seq(self) -> int | None:
        """The lowest seq kept (None when empty): the ``low`` a device reports in its status."""
        return self._lowest

    def oldest_ts(self) -> int | None:
        """The ``ts`` of the lowest kept entry (None when empty or unreadable).

        Raises:
            StorageError: the database failed.
        """
        oldest = self.pending(0, 1)
        if not oldest:
            return None
        try:
            return parse_entry(oldest[0].raw).ts
        except FarmtraceError:
            return None

    def has_room(self, size: int = MAX_ENTRY_BYTES) -> bool:
        """Whether an entry of ``size`` bytes (by default the largest possible) would fit."""
        return self._bytes + size <= self.max_bytes

    def check_room(self, size: int = MAX_ENTRY_BYTES) -> None:
        """Return if an entry of ``size`` bytes would fit; call it before signing a reading.

        Raises:
            OutboxFullError: it would not fit; the first refusal since the
                outbox last had room logs a warning.
        """
        with self._lock:
            self._refuse_if_full(size)

    def put(self, seq: int, raw: bytes) -> None:
        """Keep ``raw`` under ``seq``; it is durable when this returns.

        Putting the same bytes under the same seq again is a harmless no-op.

        Raises:
            ValueError: ``seq`` < 1, already acknowledged, or already kept with
                different bytes (a reused seq: the caller's bug, never stored).
            OutboxFullError: ``raw`` does not fit (bound or disk full); nothing
                was stored, and the caller must keep ``raw`` (see the class).
            StorageError: the database failed.
        """
        if seq < 1:
            raise ValueError(f"seq: expected >= 1, found {seq}")
        with self._lock, _storage_errors(self.path, self):
            if seq <= self._acked:
                raise ValueError(f"seq: expected > {self._acked} (acknowledged), found {seq}")
            if self._kept(seq, raw):
                return
            self._refuse_if_full(len(raw))
            self._conn.execute("INSERT INTO entries (seq, raw) VALUES (?, ?)", (seq, raw))
            self._count += 1
            self._bytes += len(raw)
            self._highest = max(self._highest, seq)
            self._lowest = seq if self._lowest is None else min(self._lowest, seq)

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[OutboxEntry]:
        """Up to ``limit`` kept entries with seq > ``after_seq``, in seq order.

        Raises:
            ValueError: ``limit`` < 1.
            StorageError: the database failed.
        """
        if limit < 1:
            raise ValueError(f"limit: expected >= 1, found {limit}")
        with self._lock, _storage_errors(self.path):
            rows = self._conn.execute(
                "SELECT seq, raw FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxEntry(seq, bytes(raw)) for seq, raw in rows]

    def put_many(self, entries: Sequence[OutboxEntry]) -> None:
        """Keep every entry of ``entries`` in one transaction (one fsync): all or none.

        For backfills, where a commit per entry would be far too slow.

        Raises:
            ValueError: as for :meth:`put`, for any entry (nothing was stored).
            OutboxFullError: they do not all fit; nothing was stored.
            StorageError: the database failed (nothing was stored).
        """
        for entry in entries:
            if entry.seq < 1:
                raise ValueError(f"seq: expected >= 1, found {entry.seq}")
        with self._lock, _storage_errors(self.path, self):
            fresh = [e for e in entries if not self._kept(e.seq, e.raw)]
            if len({e.seq for e in fresh}) != len(fresh):
                raise ValueError("seq: expected distinct seqs in one put_many")
            low = min((e.seq for e in fresh), default=self._acked + 1)
            if low <= self._acked:
                raise ValueError(f"seq: expected > {self._acked} (acknowledged), found {low}")
            size = sum(len(e.raw) for e in fresh)
            self._refuse_if_full(size)
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO entries (seq, raw) VALUES (?, ?)", [(e.seq, e.raw) for e in fresh]
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back itself (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise
            self._count += len(fresh)
            self._bytes += size
            self._highest = max([self._highest, *(e.seq for e in fresh)])
            if fresh:
                low = min(e.seq for e in fresh)
                self._lowest = low if self._lowest is None else min(self._lowest, low)

    def acknowledge(self, up_to_seq: int) -> int:
        """Apply a cumulative receipt: delete every entry with seq <= ``up_to_seq``.

        The same as :meth:`release` without ranges.
        """
        return self.release(up_to_seq)

    def release(self, up_to_seq: int, ranges: Iterable[tuple[int, int]] = ()) -> int:
        """Apply a receipt: delete every entry it covers, in one durable transaction.

        A receipt covers every seq <= ``up_to_seq`` (cumulative: a redelivered,
        older one releases nothing new) and every seq inside the inclusive
        ``(first, last)`` ``ranges`` above it (committed entries past a hole
        the device will never fill). Only ``up_to_seq`` is remembered as
        :attr:`acknowledged`. Returns how many entries were deleted.

        Raises:
            StorageError: the database failed (then nothing was deleted).
        """
        spans = [(first, last) for first, last in ranges if first <= last]
        with self._lock, _storage_errors(self.path):
            if up_to_seq > self._acked:
                spans.append((self._acked + 1, up_to_seq))
            spans = [(max(first, self._acked + 1), last) for first, last in spans]
            spans = [(first, last) for first, last in spans if first <= last]
            if not spans:
                return 0
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                count = size = 0
                for first, last in spans:
                    row = conn.execute(
                        "SELECT count(*), coalesce(sum(length(raw)), 0) FROM entries "
                        "WHERE seq BETWEEN ? AND ?",
                        (first, last),
                    ).fetchone()
                    count, size = count + row[0], size + row[1]
                    conn.execute("DELETE FROM entries WHERE seq BETWEEN ? AND ?", (first, last))
                highest = max(self._highest, up_to_seq)
                meta = [("acked", max(self._acked, up_to_seq)), ("highest", highest)]
                # highest: released entries above acked leave no other trace of their seqs.
                conn.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    meta,
                )
                lowest = conn.execute("SELECT min(seq) FROM entries").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back itself (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise
            self._acked = max(self._acked, up_to_seq)
            self._highest = highest
            self._lowest = lowest
            self._count -= count
            self._bytes -= size
            if self._full_warned and self.has_room():
                self._full_warned = False
                _logger.info("outbox %s has room again (%d bytes used)", self.path, self._bytes)
            return int(count)

    def close(self) -> None:
        """Close the database; every put has already been made durable."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _kept(self, seq: int, raw: bytes) -> bool:
        if seq > self._highest:
            return False
        row = self._conn.execute("SELECT raw FROM entries WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return False
        if bytes(row[0]) != raw:
            raise ValueError(f"seq {seq}: expected the bytes already kept for it, found others")
        return True

    def _refuse_if_full(self, size: int) -> None:
        if self.has_room(size):
            return
        message = (
            f"outbox {self.path} is full: {self._count} unacknowledged entries use "
            f"{self._bytes} of {self.max_bytes} bytes; stop sampling until the gateway's "
            "receipts free space"
        )
        self._warn_full(message)
        raise OutboxFullError(message, bytes_used=self._bytes, max_bytes=self.max_bytes)

    def _warn_full(self, message: str) -> None:
        if not self._full_warned:
            self._full_warned = True
            _logger.warning("%s", message)


@contextlib.contextmanager
def _storage_errors(path: Path, outbox: Outbox | None = None) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        if outbox is not None and getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL:
            message = f"outbox {path}: the disk is full ({exc})"
            outbox._warn_full(message)
            raise OutboxFullError(
                message, bytes_used=outbox.bytes_used, max_bytes=outbox.max_bytes
            ) from exc
        raise StorageError(f"outbox {path}: {exc}") from exc
