"""Receipts release what they cover (seq and ranges); batches sign and keep in one go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.entries import parse_entry
from chain.errors import MalformedEntryError, MalformedWireError
from chain.keyfile import SignerKey
from chain.wire import Receipt
from signer.device import Device
from signer.errors import OutboxFullError
from signer.identity import DeviceIdentity
from signer.outbox import Outbox, OutboxEntry


def _raw(seq: int, size: int = 300) -> bytes:
    return f"entry-{seq:06d}-".encode().ljust(size, b"x")


def _device(tmp_path: Path, max_bytes: int = 1 << 20) -> Device:
    identity = DeviceIdentity.open_or_create(tmp_path / "d", "b1-temp", seed=bytes(32))
    return Device(identity, Outbox.open(tmp_path / "d" / "outbox.db", max_bytes=max_bytes))


def test_release_deletes_the_cumulative_prefix_and_the_ranges_in_one_go(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db") as outbox:
        for seq in range(1, 21):
            outbox.put(seq, _raw(seq))
        assert outbox.release(3, [(6, 8), (12, 12)]) == 7
        assert [e.seq for e in outbox.pending()] == [4, 5, 9, 10, 11, *range(13, 21)]
        assert (outbox.acknowledged, outbox.count, outbox.bytes_used) == (3, 13, 13 * 300)
        assert outbox.release(3, [(6, 8)]) == 0  # a redelivered receipt
        assert outbox.release(2, [(14, 15)]) == 2  # an older seq does not lower acknowledged
        assert outbox.acknowledged == 3
    with Outbox.open(tmp_path / "o.db") as outbox:  # durable
        assert [e.seq for e in outbox.pending()] == [4, 5, 9, 10, 11, 13, *range(16, 21)]
        assert outbox.release(11, [(18, 30)]) == 8
        assert [e.seq for e in outbox.pending()] == [13, 16, 17]
        assert outbox.acknowledged == 11


def test_put_many_is_all_or_nothing(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", max_bytes=8192) as outbox:
        outbox.put_many([OutboxEntry(s, _raw(s)) for s in (1, 2, 3)])
        outbox.put_many([OutboxEntry(3, _raw(3)), OutboxEntry(4, _raw(4))])  # 3 again: harmless
        assert [e.seq for e in outbox.pending()] == [1, 2, 3, 4]
        with pytest.raises(OutboxFullError):
            outbox.put_many([OutboxEntry(s, _raw(s)) for s in range(5, 40)])
        with pytest.raises(ValueError, match="bytes already kept"):
            outbox.put_many([OutboxEntry(5, _raw(5)), OutboxEntry(2, _raw(9))])
        with pytest.raises(ValueError, match="distinct"):
            outbox.put_many([OutboxEntry(6, _raw(6)), OutboxEntry(6, _raw(6))])
        outbox.acknowledge(4)
        with pytest.raises(ValueError, match="acknowledged"):
            outbox.put_many([OutboxEntry(4, _raw(4))])
        assert outbox.count == 0 and outbox.highest_seq == 4


def test_a_device_applies_a_receipt_with_ranges_and_refuses_foreign_ones(tmp_path: Path) -> None:
    device = _device(tmp_path)
    for k in range(10):
        device.record("temperature", "barn:b1", 20.0 + k, "Cel", 1_767_225_600_000 + k)
    assert device.apply_receipt(Receipt("b1-temp", 2, 0, ((5, 7),))) == 5
    assert [e.seq for e in device.unsent()] == [3, 4, 8, 9, 10]
    with pytest.raises(MalformedWireError, match="for 'b1-hum'"):
        device.apply_receipt(Receipt("b1-hum", 10, 0))
    with pytest.raises(MalformedWireError, match="earlier identity"):
        device.apply_receipt(Receipt("b1-temp", 4, 0, ((11, 11),)))
    assert [e.seq for e in device.unsent()] == [3, 4, 8, 9, 10]  # refused ones changed nothing
    assert device.apply_receipt(Receipt("b1-temp", 10, 1)) == 5
    assert device.outbox.count == 0


def test_record_many_signs_consecutive_seqs_with_one_reservation(tmp_path: Path) -> None:
    device = _device(tmp_path)
    readings = [("temperature", "barn:b1", 20.5, "Cel", 1_767_225_600_000 + k) for k in range(50)]
    assert device.record_many(readings) == 50
    entries = [parse_entry(e.raw) for e in device.unsent(limit=100)]
    assert [e.seq for e in entries] == list(range(1, 51))
    assert all(e.kid == "b1-temp" and e.payload["dev"] == "b1-temp" for e in entries)
    state = json.loads((tmp_path / "d" / "seq.json").read_text())
    assert state["reserved"] == 50 == device.identity.reserved
    with pytest.raises(MalformedEntryError):
        device.record_many(
            [("temperature", "barn:b1", 1.0, "Cel", 1), ("temperature", "x", 1.0, "Cel", 2)]
        )
    assert device.identity.reserved == 50  # a bad batch used no seq
    assert device.record("temperature", "barn:b1", 1.0, "Cel", 5) == 51


def test_record_many_stops_at_the_outbox_bound_and_resumes_after_a_receipt(
    tmp_path: Path,
) -> None:
    device = _device(tmp_path, max_bytes=5 * 4096)
    readings = [("temperature", "barn:b1", 20.5, "Cel", 1_767_225_600_000 + k) for k in range(100)]
    first = device.record_many(readings)
    assert 1 <= first < 100  # a prefix: the bound assumes worst-case entries
    done = first
    with pytest.raises(OutboxFullError):
        while True:
            done += device.record_many(readings[done:])
    assert device.identity.reserved == done == device.outbox.count
    device.receipt(done)
    assert device.record_many(readings[done:]) > 0


def test_sign_payload_serves_any_signer_with_its_own_seq(tmp_path: Path) -> None:
    key = SignerKey.generate("admin", seed=bytes(range(32)))
    with DeviceIdentity.create(tmp_path / "op", key) as operator:
        from chain.entries import device_payload

        raw = operator.sign_payload(
            lambda seq: device_payload("register", "b1-temp", seq, 5, pubkey=bytes(32), farm="f1")
        )
        entry = parse_entry(raw)
        assert (entry.kid, entry.seq, entry.type, operator.last_seq) == ("admin", 1, "device", 1)
        with pytest.raises(MalformedEntryError):
            operator.sign_payload(lambda seq: {"type": "device", "seq": seq})
        assert operator.reserved == 1
    with DeviceIdentity.open(tmp_path / "op") as again:
        assert (
            parse_entry(
                again.sign_payload(lambda seq: device_payload("revoke", "b1-temp", seq, 6))
            ).seq
            == 2
        )
