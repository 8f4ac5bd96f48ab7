"""The audit finds the same problems, in the same words, on one core or several."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from chain.audit import AuditReport, audit_store
from chain.store import Store
from chain.trust import TrustRoot
from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir

# 4,613 entries in 26 blocks: enough for the audit to start worker processes.
_FARM = DemoFarm(days=8, block_size=200, seed=3)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    data_dir = DataDir(tmp_path_factory.mktemp("parallel") / "farm")
    build_demo_log(data_dir, _FARM)
    return data_dir


def _audits(data_dir: DataDir) -> tuple[AuditReport, AuditReport]:
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        assert store.entry_count > 4096
        return audit_store(store, trust, jobs=1), audit_store(store, trust, jobs=2)


def _failures(report: AuditReport) -> list[tuple[str, int | None, int | None, str]]:
    return [(f.reason, f.block, f.entry, f.message) for f in report.failures]


def _tamper(
    path: Path, puts: dict[bytes, bytes], deletes: list[bytes]
) -> dict[bytes, bytes | None]:
    db = plyvel.DB(str(path))
    try:
        undo = {key: db.get(key) for key in [*puts, *deletes]}
        for key, value in puts.items():
            db.put(key, value, sync=True)
        for key in deletes:
            db.delete(key, sync=True)
        return undo
    finally:
        db.close()


def _restore(path: Path, undo: dict[bytes, bytes | None]) -> None:
    db = plyvel.DB(str(path))
    try:
        for key, value in undo.items():
            if value is None:
                db.delete(key, sync=True)
            else:
                db.put(key, value, sync=True)
    finally:
        db.close()


def test_a_clean_log_audits_the_same_either_way(farm: DataDir) -> None:
    serial, parallel = _audits(farm)
    assert serial.ok and parallel.ok, parallel.to_text()
    assert (serial.entries, serial.blocks, serial.checkpoints_verified) == (
        parallel.entries,
        parallel.blocks,
        parallel.checkpoints_verified,
    )


def test_tampered_records_are_found_and_located_the_same_either_way(farm: DataDir) -> None:
    def entry(index: int) -> bytes:
        return b"e:" + index.to_bytes(8, "big")

    db = plyvel.DB(str(farm.log))
    try:
        dedup_key = next(db.iterator(prefix=b"d:barn2-humi\0", include_value=False))
        subject_key = next(db.iterator(prefix=b"s:barn:barn1\0", include_value=False, reverse=True))
        forged = bytearray(db.get(entry(3000)))
    finally:
        db.close()
    forged[-20] = ord("B") if forged[-20] == ord("A") else ord("A")  # another signature
    undo = _tamper(
        farm.log,
        puts={
            entry(3000): bytes(forged),
            dedup_key: (999).to_bytes(8, "big"),
            entry(2500) + b"x": b"a stray record",
            entry(4000)[:-1]: b"another",
        },
        deletes=[entry(1234), subject_key],
    )
    try:
        serial, parallel = _audits(farm)
    finally:
        _restore(farm.log, undo)
    assert _failures(serial) == _failures(parallel)
    located = {(f.reason, f.entry) for f in serial.failures}
    assert ("missing_entry", 1234) in located
    assert ("index", 999) not in located  # the finding names the entry, not the pointer
    assert any(reason == "bad_signature" and at == 3000 for reason, at in located)
    assert any("records under 'e:'" in f.message for f in serial.failures)
    assert any("subject index lacks" in f.message for f in serial.failures)
    assert any("points to 999" in f.message for f in serial.failures)
    assert len({f.block for f in serial.failures if f.entry in (1234, 3000)}) == 2
