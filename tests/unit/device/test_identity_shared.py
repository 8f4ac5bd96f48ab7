"""A shared identity: several processes sign from one state directory and never reuse a seq."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chain.entries import operator_payload, parse_entry
from chain.errors import MalformedEntryError, StorageError
from chain.keyfile import SignerKey
from chain.wire import Receipt
from signer.device import Device
from signer.identity import SEQ_FILE, DeviceIdentity
from signer.outbox import Outbox

TS = 1_767_225_600_000
_SIGNER = """
import sys
from chain.entries import operator_payload
from signer.identity import DeviceIdentity
with DeviceIdentity.open(sys.argv[1], shared=True) as me:
    for i in range(int(sys.argv[2])):
        raw = me.sign_payload(lambda seq: operator_payload("revoke", "x", seq, 1))
        sys.stdout.write(raw.decode() + "\\n")
"""


def _key() -> SignerKey:
    return SignerKey.generate("admin", seed=random.Random(7).randbytes(32))


def test_processes_hammering_one_state_dir_get_every_seq_once(tmp_path: Path) -> None:
    state = tmp_path / "admin"
    DeviceIdentity.create(state, _key(), shared=True).close()
    signers = [
        subprocess.Popen([sys.executable, "-c", _SIGNER, str(state), "150"], stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    with DeviceIdentity.open(state, shared=True) as here:  # and this process, at the same time
        mine = [here.next_seq() for _ in range(50)]
    seqs = list(mine)
    for proc in signers:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        seqs += [parse_entry(line).seq for line in out.split()]
    assert sorted(seqs) == list(range(1, 501))  # no seq twice, none skipped
    assert json.loads((state / SEQ_FILE).read_text())["reserved"] == 500


def test_shared_and_exclusive_users_exclude_each_other(tmp_path: Path) -> None:
    state = tmp_path / "admin"
    with DeviceIdentity.create(state, _key(), shared=True) as first:
        with DeviceIdentity.open(state, shared=True) as second:
            assert (first.next_seq(), second.next_seq(), first.next_seq()) == (1, 2, 3)
            assert first.shared and second.last_seq == 2
            assert second.reserved == 3  # what another signed too: its receipts are no stranger's
        with pytest.raises(StorageError, match="no other user, found it locked"):
            DeviceIdentity.open(state)
    with DeviceIdentity.open(state) as exclusive:
        with pytest.raises(StorageError, match="only shared users, found it locked"):
            DeviceIdentity.open(state, shared=True)
        assert exclusive.next_seq() == 4
    with pytest.raises(ValueError, match="expected 1 for a shared identity"):
        DeviceIdentity.open(state, shared=True, reserve_block=64)


def test_a_bad_payload_or_an_empty_batch_uses_no_seq(tmp_path: Path) -> None:
    with DeviceIdentity.create(tmp_path / "op", _key(), shared=True) as me:
        with pytest.raises(MalformedEntryError):
            me.sign_payload(lambda seq: operator_payload("revoke", "BAD ID!", seq, TS))
        assert me.sign_readings([]) == []
        batch = me.sign_readings([("temperature", "barn:b1", 20.5, "Cel", TS)] * 3)
        assert [seq for seq, _ in batch] == [1, 2, 3] and me.last_seq == 3
        raw = me.sign_payload(lambda seq: operator_payload("revoke", "x", seq, TS))
        assert parse_entry(raw).seq == 4 == me.reserved


def test_a_crashed_exclusive_block_is_reported_to_one_shared_opener(tmp_path: Path) -> None:
    state, crashed = tmp_path / "dev", tmp_path / "crashed"
    with DeviceIdentity.create(state, _key(), reserve_block=10) as identity:
        identity.next_seq()
        shutil.copytree(state, crashed)  # a crash while holding 1..10
    with (
        DeviceIdentity.open(crashed, shared=True) as first,
        DeviceIdentity.open(crashed, shared=True) as second,
    ):
        assert first.crashed_block == (1, 10) and second.crashed_block is None
        assert second.next_seq() == 11  # never one of the block


def test_a_device_on_a_shared_identity_takes_receipts_for_what_another_signed(
    tmp_path: Path,
) -> None:
    state = tmp_path / "admin"
    DeviceIdentity.create(state, _key(), shared=True).close()
    device = Device(DeviceIdentity.open(state, shared=True), Outbox.open(state / "outbox.db"))
    try:
        assert device.record("temperature", "barn:b1", 20.5, "Cel", TS) == 1
        with DeviceIdentity.open(state, shared=True) as cli:  # e.g. `farmtrace operator add`
            assert cli.next_seq() == 2
        assert device.apply_receipt(Receipt("admin", 2, 7)) == 1  # not ignored as a stranger's
        assert device.record("temperature", "barn:b1", 20.6, "Cel", TS) == 3
    finally:
        device.outbox.close()
        device.identity.close()
