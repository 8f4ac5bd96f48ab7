"""Tamper evidence: flip one byte of any stored value, and the audit names the block."""

from __future__ import annotations

import random
from pathlib import Path

import plyvel
import pytest

from chain.audit import AuditReport, audit_store
from chain.errors import StorageError
from chain.store import Store
from chain.trust import TrustRoot
from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir


def _audit(data_dir: DataDir) -> AuditReport:
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        return audit_store(store, trust, jobs=1)


def _blocks(data_dir: DataDir) -> list[tuple[int, int]]:
    """(first_index, count) of every block, read through the store."""
    with Store.open(data_dir.log) as store:
        return [(store.block(h).first_index, store.block(h).count) for h in range(store.size)]


def _block_of(blocks: list[tuple[int, int]], index: int) -> int:
    return next(h for h, (first, count) in enumerate(blocks) if first <= index < first + count)


def _expected_block(key: bytes, value: bytes, blocks: list[tuple[int, int]]) -> int | None:
    """Which block a corrupted record belongs to (None: a log-wide record)."""
    family, rest = key[:2], key[2:]
    if family == b"b:":
        return int.from_bytes(rest, "big")
    if family in (b"h:", b"d:"):
        pointer = int.from_bytes(value, "big")
        return pointer if family == b"h:" else _block_of(blocks, pointer)
    if family == b"e:":
        return _block_of(blocks, int.from_bytes(rest, "big"))
    if family == b"n:":
        level, index = rest[0], int.from_bytes(rest[1:], "big")
        return ((index + 1) << level) - 1
    if family == b"c:":
        return int.from_bytes(rest, "big") - 1
    return None


def _flip(path: Path, key: bytes, position: int) -> bytes:
    db = plyvel.DB(str(path))
    try:
        value = bytearray(db.get(key))
        original = bytes(value)
        value[position] ^= 0x01
        db.put(key, bytes(value), sync=True)
        return original
    finally:
        db.close()


def _sample_keys(path: Path) -> list[tuple[bytes, bytes]]:
    """A few records of every family that has a value: first, last and one between."""
    db = plyvel.DB(str(path))
    try:
        by_family: dict[bytes, list[tuple[bytes, bytes]]] = {}
        for key, value in db.iterator():
            if value:
                by_family.setdefault(bytes(key[:2]), []).append((bytes(key), bytes(value)))
    finally:
        db.close()
    rng = random.Random(5)
    sample = []
    for records in by_family.values():
        sample += [records[0], records[-1], rng.choice(records)]
    return sample


def test_clean_log_audits_clean(demo_dir: DataDir) -> None:
    report = _audit(demo_dir)
    assert report.ok, report.to_text()
    assert report.entries == 1 + 4 + 4 * 144
    assert report.checkpoints_verified == report.blocks
    assert report.gaps == []


def test_every_record_family_is_covered_by_the_sample(demo_dir: DataDir) -> None:
    families = {key[:2] for key, _ in _sample_keys(demo_dir.log)}
    assert families == {b"m:", b"b:", b"h:", b"e:", b"n:", b"d:", b"c:"}


def test_flipping_any_byte_of_any_value_is_caught_and_located(demo_dir: DataDir) -> None:
    blocks = _blocks(demo_dir)
    rng = random.Random(1)
    checked = 0
    for key, value in _sample_keys(demo_dir.log):
        position = rng.randrange(len(value))
        original = _flip(demo_dir.log, key, position)
        try:
            report = _audit(demo_dir)
        except StorageError:
            assert key.startswith(b"m:"), f"store failed to open after flipping {key!r}"
            report = None
        finally:
            db = plyvel.DB(str(demo_dir.log))
            db.put(key, original, sync=True)
            db.close()
        if report is None:
            continue
        where = f"flipped byte {position} of {key!r}"
        assert not report.ok, where
        expected = _expected_block(key, value, blocks)
        if expected is not None:
            named = {f.block for f in report.failures}
            assert expected in named, f"{where}: expected block {expected}, report names {named}"
        checked += 1
    assert checked >= 18
    assert _audit(demo_dir).ok  # every flip was undone: the log is clean again


@pytest.mark.parametrize("family", [b"d:", b"s:", b"g:", b"n:", b"h:", b"e:", b"b:", b"c:"])
def test_deleting_any_record_is_caught(demo_dir: DataDir, family: bytes) -> None:
    # The newest record of each family: deleting an old checkpoint loses
    # nothing (checkpoints need not exist for every size), the newest one does.
    db = plyvel.DB(str(demo_dir.log))
    key = next(db.iterator(prefix=family, include_value=False, reverse=True))
    db.delete(key, sync=True)
    db.close()
    report = _audit(demo_dir)
    assert not report.ok, family


def test_extra_index_record_is_caught(demo_dir: DataDir) -> None:
    db = plyvel.DB(str(demo_dir.log))
    db.put(b"s:barn:barn9\0" + bytes(16), b"", sync=True)
    db.close()
    report = _audit(demo_dir)
    assert [f.reason for f in report.failures] == ["index"]
    assert "'s:'" in report.failures[0].message


def test_audit_against_the_wrong_trust_root_fails(demo_dir: DataDir, tmp_path: Path) -> None:
    other = DataDir(tmp_path / "other")
    build_demo_log(other, DemoFarm(days=1, seed=99))
    trust = TrustRoot.from_json(other.trust.read_text())
    with Store.open(demo_dir.log) as store:
        report = audit_store(store, trust, jobs=1)
    reasons = {f.reason for f in report.failures}
    assert "bad_signature" in reasons or "unknown_signer" in reasons
    assert any("checkpoint" in f.message for f in report.failures)
