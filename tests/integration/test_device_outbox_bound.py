"""An outbox filled and drained over and over stays within a bounded size on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.errors import OutboxFullError
from signer.outbox import Outbox

MAX_BYTES = 64 * 1024
ENTRY = 4000  # near the largest entry: the fewest fsyncs per byte, so a fast test


def test_fill_and_drain_cycles_keep_the_files_within_their_bound(tmp_path: Path) -> None:
    path, wal = tmp_path / "outbox.db", tmp_path / "outbox.db-wal"
    sizes = []
    seq = 0
    with Outbox.open(path, max_bytes=MAX_BYTES) as outbox:
        for _ in range(10):  # past several WAL checkpoints
            with pytest.raises(OutboxFullError):
                while True:
                    outbox.put(seq + 1, bytes([seq % 251]) * ENTRY)
                    seq += 1
            assert MAX_BYTES - ENTRY < outbox.bytes_used <= MAX_BYTES
            sizes.append((path.stat().st_size, wal.stat().st_size))
            outbox.acknowledge(seq)
            assert (outbox.count, outbox.bytes_used) == (0, 0)
    assert max(db for db, _ in sizes) <= 1.3 * MAX_BYTES + 16 * 1024
    assert max(w for _, w in sizes) <= 1.1 * 1024 * 1024
    assert sizes[-1][0] == sizes[-5][0]  # freed pages are reused: no growth
