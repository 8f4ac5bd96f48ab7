"""The outbox keeps entries in seq order until a cumulative receipt, within its bound."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from chain.errors import FarmtraceError, StorageError
from signer.errors import OutboxFullError
from signer.outbox import Outbox, OutboxEntry

SMALL = 8192  # bytes: room for a few 300-byte entries next to a worst-case one


def _raw(seq: int, size: int = 300) -> bytes:
    return f"entry-{seq:06d}-".encode().ljust(size, b"x")


def test_pending_lists_kept_entries_in_seq_order_after_a_cursor(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        for seq in (3, 1, 2, 5):
            outbox.put(seq, _raw(seq))
        assert outbox.pending() == [OutboxEntry(s, _raw(s)) for s in (1, 2, 3, 5)]
        assert [e.seq for e in outbox.pending(after_seq=2)] == [3, 5]
        assert [e.seq for e in outbox.pending(limit=2)] == [1, 2]
        assert outbox.pending(after_seq=5) == []
        assert (outbox.count, outbox.bytes_used, outbox.highest_seq) == (4, 1200, 5)
        with pytest.raises(ValueError, match="limit"):
            outbox.pending(limit=0)


def test_a_receipt_releases_everything_up_to_its_seq_and_stale_ones_do_nothing(
    tmp_path: Path,
) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        for seq in range(1, 7):
            outbox.put(seq, _raw(seq, 100 + seq))
        assert outbox.acknowledge(3) == 3
        assert [e.seq for e in outbox.pending()] == [4, 5, 6]
        assert (outbox.count, outbox.bytes_used, outbox.acknowledged) == (3, 315, 3)
        assert outbox.acknowledge(2) == 0  # a redelivered, older receipt
        assert outbox.acknowledge(3) == 0
        assert outbox.acknowledge(100) == 3
        assert (outbox.count, outbox.bytes_used, outbox.highest_seq) == (0, 0, 100)


def test_entries_and_receipts_survive_reopening(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        for seq in range(1, 11):
            outbox.put(seq, _raw(seq))
        outbox.acknowledge(4)
    with Outbox.open(tmp_path / "o.db") as outbox:
        assert outbox.pending() == [OutboxEntry(s, _raw(s)) for s in range(5, 11)]
        assert (outbox.count, outbox.bytes_used, outbox.acknowledged) == (6, 1800, 4)
        assert outbox.highest_seq == 10
        with pytest.raises(ValueError, match="acknowledged"):
            outbox.put(4, _raw(4))
    check = sqlite3.connect(tmp_path / "o.db")
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()


def test_commits_are_synced_for_power_loss_not_only_for_a_killed_process(tmp_path: Path) -> None:
    # kill -9 leaves the OS cache intact, so the crash tests pass even without
    # fsync; only synchronous=FULL (2) makes a WAL commit survive power loss.
    with Outbox.open(tmp_path / "o.db") as outbox:
        assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert outbox._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_putting_the_same_entry_twice_is_harmless_but_a_reused_seq_is_refused(
    tmp_path: Path,
) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        outbox.put(1, _raw(1))
        outbox.put(1, _raw(1))
        assert outbox.count == 1
        with pytest.raises(ValueError, match="seq 1: expected the bytes already kept"):
            outbox.put(1, _raw(2))
        with pytest.raises(ValueError, match="seq: expected >= 1"):
            outbox.put(0, _raw(0))
        assert outbox.pending() == [OutboxEntry(1, _raw(1))]


def test_a_full_outbox_refuses_loudly_once_and_takes_entries_again_after_a_receipt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signer.outbox")
    with Outbox.open(tmp_path / "o.db", max_bytes=SMALL) as outbox:
        seq = 0
        while outbox.has_room(300):
            seq += 1
            outbox.put(seq, _raw(seq))
        assert seq == SMALL // 300
        for _ in range(3):
            with pytest.raises(OutboxFullError) as refused:
                outbox.put(seq + 1, _raw(seq + 1))
        assert isinstance(refused.value, FarmtraceError)
        assert refused.value.reason == "outbox_full"
        assert (refused.value.bytes_used, refused.value.max_bytes) == (seq * 300, SMALL)
        with pytest.raises(OutboxFullError):
            outbox.check_room()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "full" in warnings[0].getMessage() and "stop sampling" in warnings[0].getMessage()
        assert outbox.count == seq  # nothing was dropped to make room
        outbox.acknowledge(20)
        outbox.check_room()
        outbox.put(seq + 1, _raw(seq + 1))
        assert "room again" in caplog.records[-1].getMessage()
        outbox.put(seq + 2, _raw(seq + 2, 4096))
        with pytest.raises(OutboxFullError):
            outbox.put(seq + 3, _raw(seq + 3, 4096))
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_a_duplicate_put_succeeds_even_when_full(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", max_bytes=4096) as outbox:
        outbox.put(1, _raw(1, 4096))
        outbox.put(1, _raw(1, 4096))
        assert not outbox.has_room(1)


def test_a_full_disk_is_reported_as_a_full_outbox(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        outbox.put(1, _raw(1))
        pages = outbox._conn.execute("PRAGMA page_count").fetchone()[0]
        outbox._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL from here on
        with pytest.raises(OutboxFullError, match="disk is full"):
            outbox.put(2, _raw(2, 4000))
        assert (outbox.count, outbox.bytes_used) == (1, 300)
        assert outbox.pending() == [OutboxEntry(1, _raw(1))]


def test_a_file_that_is_not_an_outbox_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "o.db").write_bytes(b"not a database, just some bytes" * 100)
    with pytest.raises(StorageError, match="outbox"):
        Outbox.open(tmp_path / "o.db")
    with pytest.raises(ValueError, match="max_bytes"):
        Outbox.open(tmp_path / "p.db", max_bytes=4095)


def test_an_outbox_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    Outbox.open(tmp_path / "o.db").close()
    db = sqlite3.connect(tmp_path / "o.db")
    db.execute("PRAGMA user_version = 2")
    db.close()
    with pytest.raises(StorageError, match="expected outbox format 1, found 2"):
        Outbox.open(tmp_path / "o.db")


def test_threads_may_put_and_acknowledge_at_once(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:

        def put(first: int) -> None:
            for seq in range(first, first + 40, 4):
                outbox.put(seq, _raw(seq))

        threads = [threading.Thread(target=put, args=(first,)) for first in (1, 2, 3, 4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [e.seq for e in outbox.pending(limit=1000)] == list(range(1, 41))
        assert (outbox.count, outbox.bytes_used) == (40, 12000)
