"""The LevelDB store of a log: blocks, entries, Merkle nodes, indexes, checkpoints.

Only this module imports plyvel, and only it and its private helpers know
the key layout (:mod:`chain._store_keys`, :mod:`chain._store_scan`): every other
module reads through the named queries below. A block and every record that
depends on it are written in one synced ``WriteBatch``, so a crash (even
``kill -9`` or power loss) leaves the whole block or none of it, and reopening
needs no repair step (a store opened with ``sync=False``, for bulk builds
only, keeps the atomicity but not the durability). LevelDB admits one process
per database; inside that process the store is safe for concurrent readers
(committed records never change, and multi-record reads such as proofs go
through a snapshot) and one writer at a time (a lock).

Any LevelDB failure, on open or on a later read (a corrupt or unreadable
file), raises :class:`~chain.errors.StorageError` with reason
``"unreadable"`` and the store's path.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import plyvel

from chain import _store_keys as keys
from chain import _store_scan as scan
from chain import merkle
from chain._store_keys import (
    Family,
    entry_index_keys,
    entry_subjects,
    index_key_kind,
    signer_seq_of_key,
)
from chain.block import BlockHeader, verify_block_entries, verify_link
from chain.entries import Entry
from chain.errors import (
    DuplicateEntryError,
    EquivocationError,
    FarmtraceError,
    StorageError,
)

__all__ = [
    "FORMAT",
    "Family",
    "Store",
    "entry_index_keys",
    "entry_subjects",
    "index_key_kind",
    "signer_seq_of_key",
]

FORMAT = b"farmtrace-store/1"

_PROBES_KEPT = 1 << 16
"""Block headers' first_index values :meth:`Store.block_of_entry` remembers (then starts over)."""


def _storage_error(exc: plyvel.Error, path: Path, doing: str, hint: str = "") -> StorageError:
    """A :class:`StorageError` for LevelDB's ``exc``: "cannot <doing> store <path>: <what>"."""
    detail = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    return StorageError(
        f"cannot {doing} store {path}: {detail}{hint}", reason="unreadable", path=str(path)
    )


def _open_db(path: Path, *, create: bool, paranoid: bool) -> _Db:
    """Open LevelDB at ``path``; ``paranoid`` makes a damaged file an error, never a silent skip.

    Raises:
        StorageError: LevelDB cannot open it (missing, locked, corrupt, unreadable).
    """
    try:
        raw = plyvel.DB(str(path), create_if_missing=create, paranoid_checks=paranoid)
    except plyvel.Error as exc:
        hint = " (is another process, e.g. the gateway, using it?)" if "lock" in str(exc) else ""
        raise _storage_error(exc, path, "open", hint) from exc
    return _Db(raw, path, verify=paranoid)


class _Db:
    """A plyvel database or snapshot whose reads raise StorageError, never plyvel's errors.

    With ``verify``, every read checks LevelDB's block checksums.
    """

    def __init__(self, raw: Any, path: Path, *, verify: bool) -> None:
        self._raw = raw
        self.path = path
        self._verify = verify
        self._get = functools.partial(raw.get, verify_checksums=verify)

    def get(self, key: bytes) -> bytes | None:
        """The value at ``key``, or None. Raises StorageError."""
        try:
            value: bytes | None = self._get(key)
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, "read") from exc
        return value

    def get_many(self, keys: Iterable[bytes]) -> list[bytes | None]:
        """The value at each of ``keys`` (None where there is none). Raises StorageError."""
        try:
            return list(map(self._get, keys))
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, "read") from exc

    def iterator(self, **kwargs: Any) -> Iterator[Any]:
        """plyvel's ``iterator(**kwargs)``; a failure on any step raises StorageError."""
        try:
            yield from self._raw.iterator(verify_checksums=self._verify, **kwargs)
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, "read") from exc

    def first_key(self, start: bytes, stop: bytes | None = None) -> bytes | None:
        """The smallest key in ``[start, stop)`` (no bound: None), or None. Raises StorageError."""
        try:
            records = self._raw.iterator(
                start=start, stop=stop, include_value=False, verify_checksums=self._verify
            )
            try:
                key: bytes | None = next(records, None)
            finally:
                records.close()
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, "read") from exc
        return key

    def count(self, prefix: bytes) -> int:
        """How many keys start with ``prefix`` (counted in C). Raises StorageError."""
        counter = itertools.count()
        try:
            records = self._raw.iterator(
                prefix=prefix, include_value=False, verify_checksums=self._verify
            )
            deque(zip(records, counter, strict=False), maxlen=0)
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, "read") from exc
        return next(counter)

    @contextmanager
    def snapshot(self) -> Iterator[_Db]:
        """A consistent read-only view of the database, closed on exit."""
        snap = self._raw.snapshot()
        try:
            yield _Db(snap, self.path, verify=self._verify)
        finally:
            snap.close()

    def write_batch(self, **kwargs: Any) -> Any:
        """plyvel's ``write_batch(**kwargs)``: the caller maps its ``plyvel.Error``."""
        return self._raw.write_batch(**kwargs)

    def close(self) -> None:
        """Close the database."""
        self._raw.close()


class Store:
    """A log's LevelDB store. Open with :meth:`open`; use as a context manager.

    Raises :class:`~chain.errors.StorageError` for any LevelDB failure (for
    instance, the database is locked by another process).
    """

    def __init__(self, db: _Db, path: Path, *, sync: bool = True) -> None:
        self._db = db
        self.path = path
        self._sync = sync
        self._lock = threading.Lock()
        self.origin = self._meta_str(db, b"origin")
        # Loaded on first use, so that a store with a corrupt record still
        # opens and the audit can name what is wrong.
        self._frontier: merkle.Frontier | None = None
        # first_index of the block headers block_of_entry has read (committed
        # headers never change); the last block it answered, as (height, first, next).
        self._probed: dict[int, int] = {}
        self._last_found = (-1, 0, 0)

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        origin: str | None = None,
        sync: bool = True,
        paranoid: bool = False,
    ) -> Store:
        """Open the store at ``path``; with ``origin``, create it if missing.

        ``paranoid`` (for audits) makes LevelDB check every file it reads:
        a damaged write-ahead log, which LevelDB otherwise skips silently on
        open, raises instead, and every read verifies block checksums.

        ``sync=False`` skips the fsync of every write batch. Only for bulk
        builds, such as a benchmark's: a batch still lands whole or not at all,
        but an OS crash or power loss may lose the newest committed blocks. The
        gateway, and anything else that acknowledges a write, keeps the default.

        Raises:
            StorageError: the directory is not a farmtrace store (or is one for
                another origin), does not exist and no origin was given, or
                LevelDB cannot open it (locked by another process, corrupt).
        """
        path = Path(path)
        db = _open_db(path, create=origin is not None, paranoid=paranoid)
        try:
            fmt = db.get(keys.meta_key(b"format"))
            if fmt is None:
                if origin is None or db.first_key(b"", b"\xff" * 8) is not None:
                    raise StorageError(f"{path} is not a farmtrace store")
                try:
                    with db.write_batch(sync=sync) as wb:
                        wb.put(keys.meta_key(b"format"), FORMAT)
                        wb.put(keys.meta_key(b"origin"), origin.encode())
                        wb.put(keys.meta_key(b"blocks"), b"0")
                        wb.put(keys.meta_key(b"entries"), b"0")
                except plyvel.Error as exc:
                    raise _storage_error(exc, path, "create") from exc
            elif fmt != FORMAT:
                raise StorageError(f"{path}: unsupported store format {fmt!r}")
            stored_origin = cls._meta_str(db, b"origin")
            if origin is not None and stored_origin != origin:
                raise StorageError(f"{path} holds log {stored_origin!r}, not {origin!r}")
            return cls(db, path, sync=sync)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        """Close the database. The store must not be used afterwards."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- meta ----------------------------------------------------------------

    @staticmethod
    def _meta_str(db: _Db, name: bytes) -> str:
        value = db.get(keys.meta_key(name))
        if value is None:
            raise StorageError(f"store meta {name.decode()!r} is missing")
        try:
            return bytes(value).decode()
        except UnicodeDecodeError as exc:
            raise StorageError(f"store meta {name.decode()!r} is not text") from exc

    def _meta_int(self, db: _Db, name: bytes) -> int:
        text = self._meta_str(db, name)
        if not text.isdigit():
            raise StorageError(f"store meta {name.decode()!r} is not a count: {text!r}")
        return int(text)

    @property
    def size(self) -> int:
        """Number of committed blocks (the log's tree size)."""
        return self._meta_int(self._db, b"blocks")

    @property
    def entry_count(self) -> int:
        """Number of committed entries."""
        return self._meta_int(self._db, b"entries")

    def _first_index_of(self, height: int) -> int:
        """The ``first_index`` of block ``height`` (< size), its header read once."""
        first = self._probed.get(height)
        if first is None:
            first = self.block(height).first_index
            if len(self._probed) >= _PROBES_KEPT:
                self._probed.clear()
            self._probed[height] = first
        return first

    # -- writing -------------------------------------------------------------

    def append_block(
        self, header: BlockHeader, entries: Sequence[Entry], *, release: Iterable[int] = ()
    ) -> None:
        """Commit a block with its entries, nodes and indexes, atomically and durably.

        ``release`` names pending records (:meth:`put_pending`) that the block
        takes: they are deleted in the same batch, so an entry is always
        either pending or in the log, never both and never neither.

        Preconditions: each entry's signature and authority were verified.

        Raises:
            ChainLinkError: ``header`` does not follow the current head.
            ProofError: ``entries`` are not the ones ``header`` commits to.
            DuplicateEntryError, EquivocationError: an entry's (signer, seq) is
                already in the log or twice in this block.
            StorageError: LevelDB failed; nothing was written.
        """
        with self._lock:
            head = self.head()
            if header.log != self.origin:
                raise StorageError(f"block for log {header.log!r} in store of {self.origin!r}")
            verify_link(head, header)
            verify_block_entries(header, [e.raw for e in entries])
            self._check_conflicts(entries, header.first_index)
            if self._frontier is None:
                self._frontier = merkle.Frontier.from_nodes(self._node_getter(self._db), self.size)
            frontier = self._frontier.copy()
            try:
                with self._db.write_batch(transaction=True, sync=self._sync) as wb:
                    raw = header.raw
                    wb.put(keys.block_key(header.height), raw)
                    wb.put(keys.hash_key(bytes.fromhex(header.hash)), keys.u64(header.height))
                    for level, index, node in frontier.append(merkle.leaf_hash(raw)):
                        wb.put(keys.node_key(level, index), node)
                    for offset, entry in enumerate(entries):
                        self._put_entry(wb, header.first_index + offset, entry)
                    wb.put(keys.meta_key(b"blocks"), str(header.height + 1).encode())
                    wb.put(keys.meta_key(b"entries"), str(header.next_index).encode())
                    for pending_id in release:
                        wb.delete(keys.pending_key(pending_id))
            except plyvel.Error as exc:
                raise _storage_error(exc, self.path, f"writing block {header.height} to") from exc
            self._frontier = frontier

    @staticmethod
    def _put_entry(wb: Any, index: int, entry: Entry) -> None:
        wb.put(keys.entry_key(index), entry.raw)
        pointer, listed = entry_index_keys(entry, index)
        wb.put(pointer, keys.u64(index))
        for key in listed:
            wb.put(key, b"")

    def _check_conflicts(self, entries: Sequence[Entry], first_index: int) -> None:
        seen: dict[tuple[str, int], Entry] = {}
        for entry in entries:
            key = (entry.kid, entry.seq)
            earlier = seen.get(key)
            existing_index = self.lookup(entry.kid, entry.seq)
            if earlier is None and existing_index is not None:
                earlier_raw = self.entry(existing_index)
            elif earlier is not None:
                earlier_raw, existing_index = earlier.raw, first_index
            else:
                seen[key] = entry
                continue
            assert existing_index is not None
            cls = DuplicateEntryError if earlier_raw == entry.raw else EquivocationError
            raise cls(
                f"({entry.kid}, seq {entry.seq}) is already entry {existing_index}",
                signer=entry.kid,
                seq=entry.seq,
                existing_index=existing_index,
            )

    def put_checkpoint(self, size: int, note: str) -> None:
        """Store the signed checkpoint note for tree ``size``; make it the latest if it is.

        A note for a size already held replaces it (e.g. once witnesses
        cosigned it); the latest pointer never moves to a smaller size.

        Preconditions: the note was signed over this store's root at ``size``.

        Raises:
            StorageError: ``size`` is beyond the store, or LevelDB failed.
        """
        if not 0 < size <= self.size:
            raise StorageError(f"checkpoint size {size} outside the log (size {self.size})")
        try:  # the lock keeps two writers from moving the latest pointer backwards
            with self._lock, self._db.write_batch(transaction=True, sync=self._sync) as wb:
                wb.put(keys.checkpoint_key(size), note.encode())
                latest = self._db.get(keys.meta_key(b"checkpoint"))
                if latest is None or int(latest) <= size:
                    wb.put(keys.meta_key(b"checkpoint"), str(size).encode())
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, f"write checkpoint {size} to") from exc
        except ValueError as exc:
            raise StorageError(f"writing checkpoint {size} failed: {exc}") from exc

    # -- copying -------------------------------------------------------------

    def copy_to(self, path: str | Path, *, batch_records: int = 4096) -> int:
        """Copy every record, as of one moment, into a new store at ``path``; return how many.

        Reads through a LevelDB snapshot, so the copy is consistent while
        this store's owner keeps writing: every block with all its records
        (they commit in one batch), the checkpoints, and the pending records
        as they were then. The copy is written in batches and synced at the
        end; it opens with :meth:`open` like any store. ``path`` must not
        exist yet.

        Raises:
            StorageError: ``path`` exists, or LevelDB failed (a partial copy
                may be left at ``path``: delete it).
        """
        target_path = Path(path)
        if target_path.exists():
            raise StorageError(f"cannot copy store to {target_path}: it already exists")
        try:
            target = plyvel.DB(str(target_path), create_if_missing=True, error_if_exists=True)
        except plyvel.Error as exc:
            raise _storage_error(exc, target_path, "create") from exc
        copied = 0
        try:
            with self._db.snapshot() as snap:
                records = snap.iterator()
                while chunk := list(itertools.islice(records, batch_records)):
                    with target.write_batch() as wb:
                        for key, value in chunk:
                            wb.put(key, value)
                    copied += len(chunk)
            with target.write_batch(sync=True) as wb:  # syncs the log that holds every batch
                wb.put(keys.meta_key(b"format"), FORMAT)
        except plyvel.Error as exc:
            raise _storage_error(exc, target_path, "write the copy to") from exc
        finally:
            target.close()
        return copied

    # -- reading -------------------------------------------------------------

    @staticmethod
    def _parse_header(raw: bytes) -> BlockHeader:
        try:
            return BlockHeader.from_bytes(bytes(raw))
        except FarmtraceError as exc:
            raise StorageError(f"stored block header is corrupt: {exc}") from exc

    def _node_getter(self, db: _Db) -> merkle.NodeGetter:
        def get(level: int, index: int) -> bytes:
            node = db.get(keys.node_key(level, index))
            if node is None or len(node) != 32:
                raise StorageError(f"Merkle node ({level}, {index}) is missing or corrupt")
            return bytes(node)

        return get

    def head(self) -> BlockHeader | None:
        """The newest block's header, or None for an empty log."""
        size = self.size
        return None if size == 0 else self.block(size - 1)

    def block(self, height: int) -> BlockHeader:
        """The header of block ``height``.

        Raises:
            KeyError: no such block.
            StorageError: the stored header is corrupt.
        """
        raw = self._db.get(keys.block_key(height)) if 0 <= height < self.size else None
        if raw is None:
            raise KeyError(f"no block {height}")
        return self._parse_header(raw)

    def block_raw(self, height: int) -> bytes:
        """The stored header bytes of block ``height`` (KeyError if none)."""
        raw = self._db.get(keys.block_key(height)) if 0 <= height < self.size else None
        if raw is None:
            raise KeyError(f"no block {height}")
        return bytes(raw)

    def height_of(self, block_hash: str) -> int:
        """The height of the block with hex hash ``block_hash`` (KeyError if none)."""
        try:
            digest = bytes.fromhex(block_hash)
        except ValueError as exc:
            raise KeyError(f"not a block hash: {block_hash!r}") from exc
        value = self._db.get(keys.hash_key(digest)) if len(digest) == 32 else None
        if value is None:
            raise KeyError(f"no block with hash {block_hash}")
        return int(keys.U64.unpack(value)[0])

    def block_entries(self, height: int) -> list[bytes]:
        """The entries of block ``height``, in order (KeyError if no such block)."""
        header = self.block(height)
        start, stop = keys.entry_key(header.first_index), keys.entry_key(header.next_index)
        return [bytes(v) for v in self._db.iterator(start=start, stop=stop, include_key=False)]

    def entry(self, index: int) -> bytes:
        """The exact bytes of entry ``index`` (KeyError if none)."""
        raw = self._db.get(keys.entry_key(index)) if index >= 0 else None
        if raw is None:
            raise KeyError(f"no entry {index}")
        return bytes(raw)

    def block_of_entry(self, index: int) -> int:
        """The height of the block holding entry ``index`` (KeyError if none).

        A binary search over the block headers' ``first_index``: O(log size)
        header reads, the headers read before remembered (the search probes the
        same heights as the log grows), and an index in the block last answered
        costs none.

        Raises:
            KeyError: no committed entry ``index``.
            StorageError: a header on the way is missing or corrupt.
        """
        if not 0 <= index < self.entry_count:
            raise KeyError(f"no entry {index}")
        height, first, stop = self._last_found
        if first <= index < stop:
            return height
        size = self.size  # read after entry_count: it counts the entry's block
        # The block is the last whose first_index <= index. Steps are powers of
        # two from 0, so the heights probed do not move as the log grows.
        height, step = 0, 1 << max(0, (size - 1).bit_length() - 1)
        while step:
            probe = height + step
            if probe < size and self._first_index_of(probe) <= index:
                height = probe
            step >>= 1
        if height + 1 < size:  # the last step probed it already
            stop = self._first_index_of(height + 1)
        else:
            stop = self.block(height).next_index
        self._last_found = (height, self._first_index_of(height), stop)
        return height

    def lookup(self, signer: str, seq: int) -> int | None:
        """The global index of the entry (signer, seq), or None."""
        value = self._db.get(keys.dedup_key(signer, seq))
        return None if value is None else int(keys.U64.unpack(value)[0])

    def subject_entries(
        self, subject: str, start_ts: int = 0, end_ts: int = 2**63
    ) -> Iterator[int]:
        """Indexes of entries about ``subject`` with ``start_ts <= ts < end_ts``, by time."""
        prefix = keys.subject_prefix(subject)
        start, stop = prefix + keys.u64(start_ts), prefix + keys.u64(min(end_ts, 2**64 - 1))
        for key in self._db.iterator(start=start, stop=stop, include_value=False):
            yield int(keys.U64.unpack(key[-8:])[0])

    def registration_indexes(self) -> list[int]:
        """Global indexes of every registration and revocation entry, in log order."""
        return self._indexed(Family.REGISTRATIONS)

    def event_indexes(self) -> list[int]:
        """Global indexes of every ``event`` entry (lifecycle facts), in log order."""
        return self._indexed(Family.EVENTS)

    def subject_events(self, subject: str) -> list[int]:
        """Global indexes of the ``event`` entries about ``subject``, in log order.

        As :meth:`subject_entries` (so including the subjects an event derives,
        such as a slaughter's carcasses and a pack), without the readings.
        """
        indexes = sorted(self.subject_entries(subject))
        flags = self._db.get_many(keys.event_key(index) for index in indexes)
        return [index for index, flag in zip(indexes, flags, strict=True) if flag is not None]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """The latest stored checkpoint as (tree size, signed note), or None."""
        size = self._db.get(keys.meta_key(b"checkpoint"))
        if size is None:
            return None
        return int(size), self.checkpoint(int(size))

    def checkpoint(self, size: int) -> str:
        """The stored checkpoint note for tree ``size`` (KeyError if none)."""
        note = self._db.get(keys.checkpoint_key(size))
        if note is None:
            raise KeyError(f"no checkpoint for size {size}")
        return bytes(note).decode("utf-8", errors="replace")

    def checkpoint_sizes(self) -> list[int]:
        """Tree sizes for which a checkpoint is stored, ascending."""
        return self._indexed(Family.CHECKPOINTS)

    def _indexed(self, family: Family) -> list[int]:
        """The integers that follow ``family``'s prefix in its records' keys, ascending.

        A record whose key is not the prefix and 8 bytes is not listed (the
        store never writes one; :meth:`record_counts` still counts it).
        """
        return [number for number, _ in scan.numbered(self._db, family) if number is not None]

    def signer_seqs(self, signer: str) -> Iterator[int]:
        """The seqs of ``signer``'s committed entries, ascending."""
        prefix = keys.dedup_prefix(signer)
        start = len(prefix)
        for key in self._db.iterator(prefix=prefix, include_value=False):
            if len(key) != start + 8:
                raise StorageError(f"{self.path}: malformed (signer, seq) key {key!r}")
            yield int.from_bytes(key[start:], "big")

    # -- pending entries (a gateway's, not part of the log) -------------------

    def put_pending(self, items: Sequence[tuple[int, bytes]]) -> None:
        """Durably keep ``(id, raw)`` entries that a gateway accepted but has not yet blocked.

        One synced batch: when this returns, the entries survive a crash.
        Pending records are not part of the log; the audit ignores them.

        Raises:
            StorageError: LevelDB failed; nothing was written.
        """
        try:
            with self._db.write_batch(transaction=True, sync=self._sync) as wb:
                for pending_id, raw in items:
                    wb.put(keys.pending_key(pending_id), raw)
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, f"write {len(items)} pending entries to") from exc

    def pending(self) -> list[tuple[int, bytes]]:
        """Every pending ``(id, raw)``, by id.

        Raises:
            StorageError: a pending record's key is not an id (the store never
                writes one), or LevelDB failed.
        """
        found = []
        for number, raw in scan.numbered(self._db, Family.PENDING):
            if number is None:
                raise StorageError(f"{self.path}: a pending record's key is not an id")
            found.append((number, bytes(raw)))
        return found

    # -- other logs' checkpoints, kept when a reference to them was checked ----

    def put_ref_checkpoint(self, origin: str, size: int, note: str) -> None:
        """Durably keep another log's checkpoint note of tree ``size`` (one synced write).

        A gateway keeps the cosigned note it checked a cross-log reference
        against before it accepts the event (docs/supply-chain.md section 3),
        so that anyone can later hold that log to it. A note kept for the same
        ``(origin, size)`` is replaced. These records are not part of this
        log: the audit ignores them.

        Precondition: ``note`` is a checkpoint of ``origin`` at ``size`` (the
        caller verified it).

        Raises:
            StorageError: LevelDB failed; nothing was written.
        """
        key = keys.ref_checkpoint_key(hashlib.sha256(origin.encode()).digest(), size)
        try:
            with self._db.write_batch(transaction=True, sync=self._sync) as wb:
                wb.put(key, note.encode())
        except plyvel.Error as exc:
            raise _storage_error(exc, self.path, f"keep {origin}'s checkpoint {size} in") from exc

    def ref_checkpoint(self, origin: str, size: int) -> str | None:
        """The note of ``origin``'s tree ``size`` kept by :meth:`put_ref_checkpoint`, or None."""
        return self.ref_checkpoint_by_hash(hashlib.sha256(origin.encode()).digest(), size)

    def ref_checkpoint_by_hash(self, origin_hash: bytes, size: int) -> str | None:
        """Like :meth:`ref_checkpoint`, the log named by the SHA-256 of its origin (32 bytes).

        Raises:
            ValueError: ``origin_hash`` is not 32 bytes, or ``size`` not in [0, 2**64).
        """
        if len(origin_hash) != 32 or not 0 <= size < 2**64:
            raise ValueError("expected a 32-byte origin hash and a size in [0, 2**64)")
        note = self._db.get(keys.ref_checkpoint_key(origin_hash, size))
        return None if note is None else bytes(note).decode("utf-8", errors="replace")

    # -- proofs --------------------------------------------------------------

    def _check_size(self, size: int) -> None:
        if not 0 < size <= self.size:
            raise ValueError(f"tree size {size} outside 1..{self.size}")

    def root(self, size: int | None = None) -> bytes:
        """The log's RFC 6962 root at ``size`` blocks (default: now), in O(log n) reads.

        Raises:
            ValueError: ``size`` is not in 0..current size.
        """
        size = self.size if size is None else size
        if size == 0:
            return merkle.EMPTY_ROOT
        self._check_size(size)
        with self._db.snapshot() as snap:
            return merkle.root_from_nodes(self._node_getter(snap), size)

    def inclusion_proof(self, height: int, size: int) -> list[bytes]:
        """Audit path of block ``height`` in the tree of ``size`` blocks, in O(log n) reads.

        Raises:
            ValueError: not ``0 <= height < size <= current size``.
        """
        self._check_size(size)
        if not 0 <= height < size:
            raise ValueError(f"block {height} is not in a tree of size {size}")
        with self._db.snapshot() as snap:
            return merkle.inclusion_proof_from_nodes(self._node_getter(snap), height, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """Consistency proof from ``size1`` to ``size2`` blocks, in O(log n) reads.

        Raises:
            ValueError: not ``0 < size1 <= size2 <= current size``.
        """
        self._check_size(size2)
        if not 0 < size1 <= size2:
            raise ValueError(f"consistency needs 0 < size1 <= size2, got {size1}, {size2}")
        with self._db.snapshot() as snap:
            return merkle.consistency_proof_from_nodes(self._node_getter(snap), size1, size2)

    def entry_proof(self, index: int) -> tuple[int, list[bytes]]:
        """(block height, audit path of entry ``index`` inside its block).

        Reads the block's entries: O(block size), bounded by the gateway's block limit.

        Raises:
            KeyError: no such entry.
        """
        height = self.block_of_entry(index)
        entries = self.block_entries(height)
        first = self.block(height).first_index
        return height, merkle.inclusion_proof(entries, index - first)

    # -- queries for the search box ----------------------------------------------

    def subjects(self, prefix: str, *, delimiter: str | None = None, limit: int) -> list[str]:
        """Distinct subjects starting with ``prefix``, ascending, at most ``limit``.

        With ``delimiter``, a subject with ``delimiter`` after ``prefix`` is
        listed only up to and including it, once per such group (as an S3
        listing's common prefixes): ``subjects("pack:", delimiter=".")``
        gives each GTIN's ``"pack:<gtin>."`` once. Seeks past every listed
        subject or group, so the cost grows with ``limit``, not with the
        number of entries.
        """
        return scan.subjects(self._db, prefix, delimiter, limit)

    def has_subject(self, subject: str) -> bool:
        """Whether any entry is about ``subject``."""
        prefix = keys.subject_prefix(subject)
        return self._db.first_key(prefix, keys.successor(prefix)) is not None

    # -- queries for the audit -------------------------------------------------

    def entry_records(self) -> Iterator[tuple[int | None, bytes]]:
        """Every stored entry record as ``(index, raw)``, by index, in one scan.

        ``index`` is None for a record under the entries' key family whose key
        is not an index (a stray record, which the store never writes).
        """
        return scan.numbered(self._db, Family.ENTRIES)

    def header_records(self) -> Iterator[tuple[int | None, bytes]]:
        """Every stored block header as ``(height, raw)``, by height, in one scan.

        ``height`` is None for a stray record, as in :meth:`entry_records`.
        """
        return scan.numbered(self._db, Family.BLOCKS)

    def record_counts(self) -> dict[Family, int]:
        """How many records each key family holds (one scan of each, counted in C)."""
        return {family: self._db.count(family.value) for family in Family}

    def foreign_records(self) -> Iterator[bytes]:
        """The key of every record the store never writes, in key order.

        That is, every record outside the families of :class:`Family` and
        every meta record with an unknown name. Seeks past each known family
        (except meta), so the cost grows with the number of foreign records.
        """
        return scan.foreign(self._db)

    def block_hash_height(self, block_hash: bytes) -> int | None:
        """The height the block-by-hash index holds for ``block_hash`` (32 bytes).

        None when it holds none, or a value that is not a height.
        """
        value = self._db.get(keys.hash_key(block_hash))
        return None if value is None or len(value) != 8 else int.from_bytes(value, "big")

    def node(self, level: int, index: int) -> bytes | None:
        """The stored Merkle node at ``level`` and ``index`` as stored, or None."""
        return self._db.get(keys.node_key(level, index))

    def checkpoint_raw(self, size: int) -> bytes | None:
        """The stored checkpoint note for tree ``size``, as stored bytes, or None."""
        return self._db.get(keys.checkpoint_key(size))

    def meta_raw(self, name: str) -> bytes | None:
        """The stored meta record ``name`` (e.g. ``"blocks"``, ``"checkpoint"``), or None."""
        return self._db.get(keys.meta_key(name.encode()))

    def get_many(self, keys: Iterable[bytes]) -> list[bytes | None]:
        """The value at each of ``keys`` (from :func:`entry_index_keys`), None where none."""
        return self._db.get_many(keys)
