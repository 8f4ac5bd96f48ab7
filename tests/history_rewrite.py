"""What a dishonest gateway operator can do to their own data directory, for fork tests.

Each helper works on a stopped gateway's data directory and uses only what the
operator really holds: the store, and the log's signing key. The result is a
self-consistent log, signed with the genuine key, that only outside evidence
(the witnesses' checkpoints, a replica's accepted history) can expose.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from chain.entries import parse_entry
from chain.log import LogWriter
from chain.store import Store
from gateway.datadir import DataDir
from gateway.init import read_log_signer

__all__ = ["backup", "restore", "rewrite_history"]


def backup(data_dir: DataDir, to: Path) -> None:
    """Copy the whole data directory (the gateway must be stopped)."""
    shutil.copytree(data_dir.root, to)


def restore(data_dir: DataDir, backup_dir: Path) -> None:
    """Replace the data directory's log with the one in ``backup_dir`` (an old backup)."""
    shutil.rmtree(data_dir.log)
    shutil.copytree(backup_dir / "log", data_dir.log)


def rewrite_history(data_dir: DataDir, from_height: int, keep: Callable[[bytes], bool]) -> int:
    """Re-commit blocks ``from_height`` onward without the entries ``keep`` rejects.

    Blocks before ``from_height`` are copied as they are; later ones are
    rebuilt (new headers, new Merkle tree, a checkpoint per block signed with
    the log's own key). A block left empty is dropped. Returns how many
    entries were dropped. The gateway must be stopped.
    """
    tmp = data_dir.root / "log.rewritten"
    dropped = 0
    with Store.open(data_dir.log) as old, Store.open(tmp, origin=old.origin) as new:
        writer = LogWriter(new, read_log_signer(data_dir))
        for height in range(old.size):
            raws = old.block_entries(height)
            kept = [raw for raw in raws if height < from_height or keep(raw)]
            dropped += len(raws) - len(kept)
            if kept:
                writer.commit_block([parse_entry(raw) for raw in kept], old.block(height).closed_at)
                writer.sign_checkpoint()
    shutil.rmtree(data_dir.log)
    tmp.rename(data_dir.log)
    return dropped
