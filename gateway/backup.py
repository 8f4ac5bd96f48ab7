"""A backup of a gateway's data directory, consistent while the gateway runs.

A backup directory holds::

    <out>/log/             a copy of the LevelDB store, as of one moment (a snapshot)
    <out>/trust.json       the trust root
    <out>/witnesses.json   the witness policy, if the gateway has one
    <out>/keys/            only with ``include_keys``: the log's key and local signers' keys
    <out>/backup.json      what the copy holds (:class:`BackupManifest`)

A backup restores a gateway fast, but only as a starting point: if the log
grew after the backup, the witnesses have cosigned a bigger tree, and a
gateway that signs new blocks on top of the old copy forks the log (the
witnesses refuse it). ``farmtrace gateway recover --backup`` therefore
continues a backup from a verified replica up to the newest cosigned
checkpoint before the gateway runs again (docs/backup-and-recovery.md).

The log's key is left out unless asked for: whoever holds it can sign
checkpoints of any history, so it belongs with the operator's secrets, not
on every backup disk.

The store is copied by whoever holds it: the running gateway (through its
admin socket, :mod:`gateway.admin_socket`), or :func:`backup_data_dir` when
the gateway is stopped.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from chain.errors import StorageError
from chain.store import Store
from gateway.datadir import DataDir

__all__ = ["MANIFEST", "BackupManifest", "backup_data_dir", "write_backup"]

MANIFEST = "backup.json"


@dataclass(frozen=True, slots=True)
class BackupManifest:
    """What one backup holds: the log's size then, its newest checkpoint, what was copied."""

    origin: str
    blocks: int
    entries: int
    checkpoint_size: int
    """The size of the newest signed checkpoint in the copy (0: none)."""
    records: int
    pending: int
    """Entries accepted but not yet in a block; a gateway started on the copy blocks them."""
    keys_included: bool
    created_ms: int

    def to_json(self) -> str:
        """The manifest as one JSON object."""
        return json.dumps(asdict(self), sort_keys=True)

    def describe(self) -> str:
        """One line for people."""
        keys = "with" if self.keys_included else "without"
        return (
            f"log {self.origin}: {self.blocks} blocks, {self.entries} entries, "
            f"checkpoint of size {self.checkpoint_size}, {self.pending} pending; "
            f"{self.records} records, {keys} keys"
        )


def write_backup(
    store: Store, data_dir: DataDir, out: Path, *, include_keys: bool, now_ms: int
) -> BackupManifest:
    """Back up ``store`` (open, possibly being written) and ``data_dir``'s files into ``out``.

    Everything is written into ``<out>.partial`` first and renamed at the
    end, so ``out`` is either a whole backup or absent.

    Raises:
        FileExistsError: ``out`` or ``<out>.partial`` exists.
        StorageError: the store could not be copied.
        OSError: a file could not be read or written.
    """
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if out.exists() or partial.exists():
        raise FileExistsError(f"{out if out.exists() else partial} already exists")
    partial.mkdir(parents=True, mode=0o700)
    try:
        records = store.copy_to(partial / "log")
        with Store.open(partial / "log") as copy:
            latest = copy.latest_checkpoint()
            manifest = BackupManifest(
                origin=copy.origin,
                blocks=copy.size,
                entries=copy.entry_count,
                checkpoint_size=0 if latest is None else latest[0],
                records=records,
                pending=len(copy.pending()),
                keys_included=include_keys,
                created_ms=now_ms,
            )
        shutil.copy2(data_dir.trust, partial / "trust.json")
        if data_dir.witnesses.exists():
            shutil.copy2(data_dir.witnesses, partial / "witnesses.json")
        if include_keys:
            shutil.copytree(data_dir.keys, partial / "keys")
            os.chmod(partial / "keys", 0o700)
        (partial / MANIFEST).write_text(manifest.to_json() + "\n")
        _fsync_dir(partial)
        partial.rename(out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def backup_data_dir(
    data_dir: DataDir, out: Path, *, include_keys: bool, now_ms: int
) -> BackupManifest:
    """Back up a data directory whose gateway is stopped (see :func:`write_backup`).

    Raises:
        StorageError: the store cannot be opened (e.g. the gateway runs and
            holds it: ask it through its admin socket instead), or copied.
        FileExistsError, OSError: as :func:`write_backup`.
    """
    try:
        store = Store.open(data_dir.log)
    except StorageError as exc:
        raise StorageError(
            f"{exc}; a running gateway makes the backup itself through {data_dir.admin_socket}"
        ) from exc
    with store:
        return write_backup(store, data_dir, out, include_keys=include_keys, now_ms=now_ms)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
