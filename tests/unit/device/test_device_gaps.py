"""Seqs without holes: a clean restart skips nothing; a crash's skip is declared, truthfully."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from chain.entries import parse_entry, verify_entry
from chain.keyfile import SignerKey
from chain.wire import parse_device_status
from signer.device import Device
from signer.identity import DeviceIdentity
from signer.outbox import Outbox

TS = 1_767_225_600_000
NOW = TS + 3_600_000


def _open(state: Path, block: int = 16) -> Device:
    if (state / "device.key").exists():
        identity = DeviceIdentity.open(state, reserve_block=block)
    else:
        key = SignerKey.generate("b1-temp", seed=random.Random(1).randbytes(32))
        identity = DeviceIdentity.create(state, key, reserve_block=block)
    return Device(identity, Outbox.open(state / "outbox.db"), clock=lambda: NOW)


def _close(device: Device) -> None:
    device.identity.close()
    device.outbox.close()


def _record(device: Device, n: int) -> list[int]:
    return [device.record("temperature", "barn:b1", 20.0, "Cel", TS + i) for i in range(n)]


def test_clean_restarts_declare_nothing_and_leave_no_hole(tmp_path: Path) -> None:
    seqs = []
    for _ in range(50):
        device = _open(tmp_path / "dev")
        assert device.declared_gap is None
        seqs += _record(device, 2)
        _close(device)
    assert seqs == list(range(1, 101))
    device = _open(tmp_path / "dev")
    assert [e.seq for e in device.unsent(limit=1000)] == seqs
    _close(device)


def test_a_crash_after_reserving_is_declared_in_a_signed_gap_entry(tmp_path: Path) -> None:
    device = _open(tmp_path / "dev")
    assert _record(device, 3) == [1, 2, 3]  # 1..16 reserved
    shutil.copytree(tmp_path / "dev", tmp_path / "crashed")  # what kill -9 leaves on disk
    public_key = device.identity.key.public_key
    _close(device)

    device = _open(tmp_path / "crashed")
    assert device.declared_gap == (4, 16)
    [*_, gap] = device.unsent()
    entry = parse_entry(gap.raw)
    verify_entry(entry, public_key)
    assert (gap.seq, entry.type, entry.ts) == (17, "gap", NOW)
    assert dict(entry.payload) == {
        "type": "gap",
        "dev": "b1-temp",
        "seq": 17,
        "ts": NOW,
        "from": 4,
        "to": 16,
    }
    assert _record(device, 1) == [18]
    _close(device)
    device = _open(tmp_path / "crashed")
    assert device.declared_gap is None  # declared once: the gap entry is kept like a reading
    _close(device)


def test_a_gap_is_never_declared_over_entries_receipts_released(tmp_path: Path) -> None:
    device = _open(tmp_path / "dev")
    _record(device, 10)
    # A receipt with a hole below: seqs 5..10 committed (1..4 not yet), released by range.
    assert device.outbox.release(0, [(5, 10)]) == 6
    shutil.copytree(tmp_path / "dev", tmp_path / "crashed")
    _close(device)
    device = _open(tmp_path / "crashed")
    # The outbox kept its high-water mark 10, though it holds nothing above 4:
    assert device.declared_gap == (11, 16)  # not 5..16: 5..10 are in the log
    _close(device)


def test_the_status_reports_the_outbox_and_the_lowest_kept_seq(tmp_path: Path) -> None:
    device = _open(tmp_path / "dev")
    empty = parse_device_status(device.status("fw-1").to_json())
    assert (empty.outbox, empty.oldest_ts, empty.low, empty.fw) == (0, None, None, "fw-1")
    _record(device, 5)
    device.outbox.release(2, [(4, 4)])
    status = parse_device_status(device.status("fw-1").to_json())
    assert (status.status, status.outbox, status.oldest_ts, status.low) == ("online", 2, TS + 2, 3)
    _close(device)


def test_seqs_used_outside_the_outbox_are_never_declared(tmp_path: Path) -> None:
    """An operator's or admin's seq 1 (its genesis registration) never went through the outbox."""
    state = tmp_path / "dev"
    key = SignerKey.generate("b1-temp", seed=random.Random(1).randbytes(32))
    with DeviceIdentity.create(state, key) as identity:
        assert identity.next_seq() == 1
    device = _open(state)
    assert device.declared_gap is None  # not (1, 1): seq 1 is in the log
    assert _record(device, 1) == [2]
    _close(device)


def test_a_crash_is_declared_even_after_a_restart_that_signed_nothing(tmp_path: Path) -> None:
    device = _open(tmp_path / "dev")
    _record(device, 3)
    shutil.copytree(tmp_path / "dev", tmp_path / "crashed")
    _close(device)
    with DeviceIdentity.open(tmp_path / "crashed") as identity:
        assert identity.crashed_block == (1, 16)  # opened and closed, nothing handed out
    device = _open(tmp_path / "crashed")
    assert device.declared_gap == (4, 16)
    _close(device)
