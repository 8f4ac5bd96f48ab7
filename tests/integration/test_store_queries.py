"""The store's named queries on a real LevelDB store, and its one error for LevelDB's failures."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from chain.errors import StorageError
from chain.store import Family, Store
from consumer_web._search import Resolution, resolve
from gateway.datadir import DataDir

_SUBJECTS = [
    "barn:barn1",
    "barn:barn2",
    "device:barn1-humi",
    "device:barn1-temp",
    "device:barn2-humi",
    "device:barn2-temp",
    "operator:farm-admin",
]


def _put(log: Path, records: dict[bytes, bytes]) -> None:
    db = plyvel.DB(str(log))
    for key, value in records.items():
        db.put(key, value, sync=True)
    db.close()


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_subjects_by_prefix_are_distinct_sorted_and_limited(demo_dir: DataDir) -> None:
    with Store.open(demo_dir.log) as store:
        assert store.subjects("", limit=100) == _SUBJECTS
        assert store.subjects("barn:", limit=100) == ["barn:barn1", "barn:barn2"]
        assert store.subjects("device:barn2", limit=1) == ["device:barn2-humi"]
        assert store.subjects("", delimiter=":", limit=100) == ["barn:", "device:", "operator:"]
        assert store.subjects("device:", delimiter="-", limit=100) == [
            "device:barn1-",
            "device:barn2-",
        ]
        assert store.subjects("pack:", delimiter=".", limit=100) == []
        assert store.has_subject("barn:barn1")
        assert not store.has_subject("barn:barn")  # a prefix of a subject is not one


def test_records_the_store_never_writes_are_found_and_counted_apart(demo_dir: DataDir) -> None:
    with Store.open(demo_dir.log) as store:
        counts = store.record_counts()
        entries = store.entry_count
    assert counts[Family.ENTRIES] == entries == 581
    stray_entry = b"e:" + (entries + 3).to_bytes(8, "big") + b"x"
    foreign = [b"\x00", b"m:extra", b"q:", b"x:hidden", b"\xff\xff"]
    _put(demo_dir.log, {key: b"?" for key in [stray_entry, *foreign]})
    with Store.open(demo_dir.log) as store:
        assert list(store.foreign_records()) == foreign
        assert store.record_counts()[Family.ENTRIES] == entries + 1
        numbered = [index for index, _ in store.entry_records()]
        assert numbered == [*range(entries), None]
        assert [height for height, _ in store.header_records()] == list(range(store.size))


def test_a_damaged_write_ahead_log_fails_a_paranoid_open_with_the_path(demo_dir: DataDir) -> None:
    _flip_middle(max(demo_dir.log.glob("*.log"), key=lambda p: p.stat().st_size))
    with pytest.raises(StorageError) as failure:
        Store.open(demo_dir.log, paranoid=True)
    assert failure.value.reason == "unreadable"
    assert failure.value.path == str(demo_dir.log)
    assert "Corruption" in str(failure.value) and str(demo_dir.log) in str(failure.value)


def test_reads_of_a_damaged_table_raise_storage_error(demo_dir: DataDir) -> None:
    db = plyvel.DB(str(demo_dir.log))
    db.compact_range()
    db.close()
    _flip_middle(max(demo_dir.log.glob("*.ldb"), key=lambda p: p.stat().st_size))
    with pytest.raises(StorageError) as failure:  # on open or on the reads
        store = Store.open(demo_dir.log, paranoid=True)
        with store:
            store.record_counts()
    assert failure.value.reason == "unreadable"
    assert "checksum" in str(failure.value)


def test_a_table_replaced_by_a_directory_raises_storage_error(demo_dir: DataDir) -> None:
    db = plyvel.DB(str(demo_dir.log))
    db.compact_range()
    db.close()
    table = max(demo_dir.log.glob("*.ldb"), key=lambda p: p.stat().st_size)
    table.unlink()
    table.mkdir()
    with pytest.raises(StorageError) as failure, Store.open(demo_dir.log) as store:
        list(store.entry_records())
    assert (failure.value.reason, failure.value.path) == ("unreadable", str(demo_dir.log))


def test_search_finds_a_serial_or_lot_under_every_gtin(demo_dir: DataDir) -> None:
    gtins = ("09506000134352", "09506000134376")

    def index_record(subject: str, index: int) -> bytes:
        return b"s:" + subject.encode() + b"\0" + bytes(8) + index.to_bytes(8, "big")

    records = {index_record(f"pack:{gtins[0]}.N{n}", n): b"" for n in range(2000)}
    for n, subject in enumerate(
        [f"pack:{gtins[0]}.S1", f"pack:{gtins[1]}.S1", f"pack:{gtins[1]}.S2", f"lot:{gtins[0]}.L1"]
    ):
        records[index_record(subject, 5000 + n)] = b""
    _put(demo_dir.log, records)
    with Store.open(demo_dir.log) as store:
        both = resolve("S1", store, lambda bird: False)
        assert [link.path for link in both.links] == [f"/01/{gtin}/21/S1" for gtin in gtins]
        assert resolve("S2", store, lambda bird: False).url == f"/01/{gtins[1]}/21/S2"
        assert resolve("L1", store, lambda bird: False).url == f"/01/{gtins[0]}/10/L1"
        assert resolve("N1999", store, lambda bird: False).url == f"/01/{gtins[0]}/21/N1999"
        assert resolve("S9", store, lambda bird: False) == Resolution()
