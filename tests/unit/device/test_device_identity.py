"""A device identity keeps its key and never hands out a seq twice, across restarts."""

from __future__ import annotations

import json
import random
import shutil
import stat
from pathlib import Path

import pytest

from chain.entries import parse_entry, verify_entry
from chain.errors import MalformedEntryError, MalformedError, SignatureError, StorageError
from chain.keyfile import SignerKey, load_key, save_key
from signer.identity import KEY_FILE, SEQ_FILE, DeviceIdentity

TS = 1_767_225_600_000


def _key(device_id: str = "b1-temp", seed: int = 1) -> SignerKey:
    return SignerKey.generate(device_id, seed=random.Random(seed).randbytes(32))


def _reserved(state: Path) -> int:
    reserved: int = json.loads((state / SEQ_FILE).read_text())["reserved"]
    return reserved


def test_seq_continues_across_a_restart_and_is_durable_before_it_is_returned(
    tmp_path: Path,
) -> None:
    with DeviceIdentity.create(tmp_path / "dev", _key()) as identity:
        for expected in (1, 2, 3):
            assert identity.next_seq() == expected
            assert _reserved(tmp_path / "dev") >= expected
    with DeviceIdentity.open(tmp_path / "dev") as identity:
        assert identity.id == "b1-temp" and identity.key == _key()
        assert identity.next_seq() == 4
    assert not list((tmp_path / "dev").glob("*.tmp"))


def test_a_clean_restart_continues_without_a_hole_and_only_a_crash_skips(
    tmp_path: Path,
) -> None:
    state, crashed = tmp_path / "dev", tmp_path / "crashed"
    with DeviceIdentity.create(state, _key(), reserve_block=10) as identity:
        assert [identity.next_seq() for _ in range(3)] == [1, 2, 3]
        assert identity.reserved == _reserved(state) == 10
        assert [identity.next_seq() for _ in range(8)] == list(range(4, 12))
        assert _reserved(state) == 20
        shutil.copytree(state, crashed)  # what a crash (kill -9, power loss) leaves on disk
    assert _reserved(state) == 11  # the clean close gave 12..20 back
    with DeviceIdentity.open(state, reserve_block=10) as identity:
        assert identity.crashed_block is None
        assert identity.next_seq() == 12  # no hole
    with DeviceIdentity.open(crashed, reserve_block=10) as identity:
        assert identity.reserved == 20
        assert identity.crashed_block == (11, 20)  # the block in use: 12..20 may be unused
        assert identity.next_seq() == 21  # 12..20 skipped (the device declares them), not reused
    with DeviceIdentity.open(crashed, reserve_block=10) as identity:
        assert identity.crashed_block is None  # closed cleanly after handing out seq 21
    with pytest.raises(ValueError, match="reserve_block"):
        DeviceIdentity.open(state, reserve_block=0)


def test_a_hundred_clean_restarts_leave_no_hole(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    DeviceIdentity.create(state, _key(), reserve_block=64).close()
    handed_out = []
    for _ in range(100):
        with DeviceIdentity.open(state, reserve_block=64) as identity:
            handed_out.append(identity.next_seq())
            assert identity.crashed_block is None
    assert handed_out == list(range(1, 101))


def test_key_file_is_private_and_loads_with_chain_keyfile(tmp_path: Path) -> None:
    DeviceIdentity.create(tmp_path / "dev", _key()).close()
    assert stat.S_IMODE((tmp_path / "dev" / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "dev").stat().st_mode) == 0o700
    assert load_key(tmp_path / "dev" / KEY_FILE) == _key()


def test_a_keygen_key_file_can_become_a_device_identity(tmp_path: Path) -> None:
    save_key(_key("bird-0001"), tmp_path / "bird-0001.key")  # what `farmtrace keygen` writes
    key = load_key(tmp_path / "bird-0001.key")
    with DeviceIdentity.create(tmp_path / "state", key) as identity:
        assert identity.id == "bird-0001" and identity.next_seq() == 1


def test_only_one_process_may_own_a_state_directory(tmp_path: Path) -> None:
    first = DeviceIdentity.create(tmp_path / "dev", _key())
    with pytest.raises(StorageError, match="locked"):
        DeviceIdentity.open(tmp_path / "dev")
    first.close()
    first.close()  # closing twice is harmless
    with pytest.raises(StorageError, match="closed"):
        first.next_seq()
    DeviceIdentity.open(tmp_path / "dev").close()


def test_create_refuses_an_existing_key_and_never_lowers_a_seq_state(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    DeviceIdentity.create(state, _key()).close()
    with pytest.raises(FileExistsError):
        DeviceIdentity.create(state, _key())
    (state / KEY_FILE).unlink()  # the key was lost or is being replaced; its seqs are used
    (state / SEQ_FILE).write_text(json.dumps({"dev": "b1-temp", "reserved": 41}))
    with DeviceIdentity.create(state, _key(seed=2)) as identity:
        assert identity.next_seq() == 42


def test_create_refuses_another_devices_seq_state(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    state.mkdir()
    (state / SEQ_FILE).write_text(json.dumps({"dev": "b2-temp", "reserved": 3}))
    with pytest.raises(StorageError, match="'b1-temp', found 'b2-temp'"):
        DeviceIdentity.create(state, _key())
    assert not (state / KEY_FILE).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "found none"),
        ("{not json", "seq state JSON"),
        ('{"dev": "b1-temp"}', "seq state JSON"),
        ('{"dev": "other", "reserved": 5}', "found 'other'"),
        ('{"dev": "b1-temp", "reserved": -1}', "reserved in"),
        ('{"dev": "b1-temp", "reserved": 2.5}', "reserved in"),
        ('{"dev": "b1-temp", "reserved": true}', "reserved in"),
    ],
)
def test_open_refuses_a_missing_or_bad_seq_state(
    tmp_path: Path, content: str | None, message: str
) -> None:
    state = tmp_path / "dev"
    DeviceIdentity.create(state, _key()).close()
    if content is None:
        (state / SEQ_FILE).unlink()
    else:
        (state / SEQ_FILE).write_text(content)
    with pytest.raises(StorageError, match=message):
        DeviceIdentity.open(state)
    (state / SEQ_FILE).write_text('{"dev": "b1-temp", "reserved": 7}')
    with DeviceIdentity.open(state) as identity:  # the failed open let go of the lock
        assert identity.next_seq() == 8


def test_open_needs_a_key_and_rejects_a_bad_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DeviceIdentity.open(tmp_path / "nowhere")
    DeviceIdentity.create(tmp_path / "dev", _key()).close()
    (tmp_path / "dev" / KEY_FILE).write_text("{}")
    with pytest.raises(MalformedError):
        DeviceIdentity.open(tmp_path / "dev")


def test_open_or_create_creates_once_then_reopens_the_same_device(tmp_path: Path) -> None:
    seed = bytes(range(32))
    with DeviceIdentity.open_or_create(tmp_path / "d", "b1-hum", seed=seed) as identity:
        assert identity.next_seq() == 1
        key = identity.key
    with DeviceIdentity.open_or_create(tmp_path / "d", "b1-hum", seed=bytes(32)) as identity:
        assert identity.key == key and identity.next_seq() == 2
    with pytest.raises(StorageError, match="expected the identity of 'b2-hum'"):
        DeviceIdentity.open_or_create(tmp_path / "d", "b2-hum")
    DeviceIdentity.open(tmp_path / "d").close()  # the failed attempt let go of the lock


def test_signed_readings_parse_verify_and_number_themselves(tmp_path: Path) -> None:
    with DeviceIdentity.create(tmp_path / "dev", _key()) as identity:
        raws = [
            identity.sign_reading("temperature", "barn:b1", 21.5 + i, "Cel", TS + i)
            for i in range(3)
        ]
        assert identity.last_seq == 3
    entries = [parse_entry(raw) for raw in raws]
    for seq, entry in enumerate(entries, start=1):
        verify_entry(entry, _key().public_key)
        assert entry.kid == "b1-temp" and entry.type == "reading"
        assert dict(entry.payload) == {
            "type": "reading",
            "dev": "b1-temp",
            "seq": seq,
            "ts": TS + seq - 1,
            "kind": "temperature",
            "subject": "barn:b1",
            "value": 21.5 + seq - 1,
            "unit": "Cel",
        }
    with pytest.raises(SignatureError):
        verify_entry(entries[0], _key(seed=2).public_key)


@pytest.mark.parametrize(
    ("kind", "subject", "value", "unit"),
    [
        ("temperature", "barn:b1", 20.0, "%RH"),
        ("temperature", "silo:b1", 20.0, "Cel"),
        ("temperature", "barn:b1", float("nan"), "Cel"),
        ("Temperature", "barn:b1", 20.0, "Cel"),
    ],
)
def test_a_bad_reading_is_refused_without_using_a_seq(
    tmp_path: Path, kind: str, subject: str, value: float, unit: str
) -> None:
    with DeviceIdentity.create(tmp_path / "dev", _key()) as identity:
        identity.sign_reading("temperature", "barn:b1", 20.0, "Cel", TS)
        with pytest.raises(MalformedEntryError):
            identity.sign_reading(kind, subject, value, unit, TS)
        raw = identity.sign_reading("humidity", "barn:b1", 60.0, "%RH", TS)
    assert parse_entry(raw).seq == 2
