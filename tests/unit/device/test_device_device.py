"""A device signs, keeps and forgets on receipt; when full it stops without burning a seq."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chain.entries import parse_entry
from chain.errors import StorageError
from chain.keyfile import SignerKey
from signer.device import Device
from signer.errors import OutboxFullError
from signer.identity import DeviceIdentity
from signer.outbox import Outbox

TS = 1_767_225_600_000


def _device(tmp_path: Path, max_bytes: int = 64 * 1024) -> Device:
    key = SignerKey.generate("b1-temp", seed=random.Random(1).randbytes(32))
    identity = DeviceIdentity.open(tmp_path / "id") if (tmp_path / "id").exists() else None
    identity = identity or DeviceIdentity.create(tmp_path / "id", key)
    return Device(identity, Outbox.open(tmp_path / "outbox.db", max_bytes=max_bytes))


def _close(device: Device) -> None:
    device.identity.close()
    device.outbox.close()


def test_recorded_readings_are_kept_in_order_until_a_receipt(tmp_path: Path) -> None:
    device = _device(tmp_path)
    seqs = [device.record("temperature", "barn:b1", 20.0 + i, "Cel", TS + i) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5] and device.id == "b1-temp"
    unsent = device.unsent()
    assert [parse_entry(e.raw).seq for e in unsent] == seqs
    assert [e.seq for e in device.unsent(after_seq=3)] == [4, 5]
    assert device.receipt(3) == 3 and device.acknowledged == 3
    _close(device)
    device = _device(tmp_path)
    assert [e.seq for e in device.unsent()] == [4, 5]
    assert device.record("temperature", "barn:b1", 25.0, "Cel", TS + 5) == 6
    _close(device)


def test_a_full_outbox_stops_recording_without_using_a_seq(tmp_path: Path) -> None:
    device = _device(tmp_path, max_bytes=4096 + 1000)
    recorded = []
    with pytest.raises(OutboxFullError):
        for i in range(100):
            recorded.append(device.record("temperature", "barn:b1", 20.0, "Cel", TS + i))
    reserved = device.identity.reserved
    with pytest.raises(OutboxFullError):
        device.record("temperature", "barn:b1", 20.0, "Cel", TS + 200)
    assert device.identity.reserved == reserved == recorded[-1]
    device.receipt(recorded[-1])
    assert device.record("temperature", "barn:b1", 20.0, "Cel", TS + 300) == recorded[-1] + 1
    _close(device)


def test_an_entry_the_disk_could_not_take_is_held_and_kept_first(tmp_path: Path) -> None:
    device = _device(tmp_path)
    conn = device.outbox._conn
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(OutboxFullError, match="disk is full"):  # SQLITE_FULL once a page fills
        for i in range(100):
            device.record("temperature", "barn:b1", 20.0, "Cel", TS + i)
    held = device.identity.last_seq
    assert device.outbox.highest_seq == held - 1
    with pytest.raises(OutboxFullError):
        device.record("temperature", "barn:b1", 21.0, "Cel", TS + 200)  # still full: nothing new
    assert device.identity.last_seq == held
    conn.execute("PRAGMA max_page_count = 1000000")
    assert device.record("temperature", "barn:b1", 22.0, "Cel", TS + 300) == held + 1
    assert [e.seq for e in device.unsent(limit=1000)] == list(range(1, held + 2))
    _close(device)


def test_a_device_refuses_an_outbox_ahead_of_its_seq_state(tmp_path: Path) -> None:
    device = _device(tmp_path)
    device.record("temperature", "barn:b1", 20.0, "Cel", TS)
    device.outbox.put(9, b"from an older life of this device")
    _close(device)
    with pytest.raises(StorageError, match="reserved 1 below outbox seq 9"):
        _device(tmp_path)
