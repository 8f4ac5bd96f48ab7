"""What the audit decides about logs a faulty or dishonest gateway could write."""

from __future__ import annotations

from pathlib import Path

import pytest
from farm_logs import START_MS, LogFactory

from chain.audit import AuditReport, audit_store
from chain.entries import device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store
from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir


def _audit(factory: LogFactory, jobs: int = 1) -> AuditReport:
    return audit_store(factory.store, factory.trust, jobs=jobs)


def _reasons(report: AuditReport) -> list[tuple[str, int | None, int | None]]:
    return [(f.reason, f.block, f.entry) for f in report.failures]


@pytest.fixture
def dishonest(log_factory: LogFactory, monkeypatch: pytest.MonkeyPatch) -> LogFactory:
    """A gateway that skips the store's duplicate check, as a dishonest one could."""
    monkeypatch.setattr(log_factory.store, "_check_conflicts", lambda entries, first: None)
    return log_factory


def test_equivocation_in_the_log_fails_the_audit(dishonest: LogFactory) -> None:
    dishonest.register("dev")
    dishonest.commit([dishonest.reading("dev", seq=1, value=20.0)])
    dishonest.commit([dishonest.reading("dev", seq=1, value=35.0)])
    report = _audit(dishonest)
    head = dishonest.store.size - 1
    assert ("equivocation", head - 1, 2) in _reasons(report) or (
        "equivocation",
        head,
        3,
    ) in _reasons(report), report.to_text()


def test_duplicate_in_the_log_fails_the_audit(dishonest: LogFactory) -> None:
    dishonest.register("dev")
    entry = dishonest.reading("dev", seq=1)
    dishonest.commit([entry, entry])
    reasons = {r for r, _, _ in _reasons(_audit(dishonest))}
    assert "duplicate" in reasons


def test_sequence_gaps_are_reported_but_do_not_fail(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    log_factory.commit([log_factory.reading("dev", seq=s) for s in (1, 2, 5, 9, 10)])
    report = _audit(log_factory)
    assert report.ok, report.to_text()
    [gap] = report.gaps
    assert (gap.signer, gap.missing_total, gap.missing) == ("dev", 5, ((3, 4), (6, 8)))
    assert "dev: 5 missing of 1..10 (3-4, 6-8)" in report.to_text()


def test_reading_from_an_unregistered_device_fails(log_factory: LogFactory) -> None:
    stranger = SignerKey.generate("stranger", seed=b"s" * 32)
    raw = sign_entry(
        reading_payload("stranger", 1, START_MS, "temperature", "barn:b1", 20.0, "Cel"),
        "stranger",
        stranger.seed,
    )
    log_factory.commit([parse_entry(raw)])
    assert _reasons(_audit(log_factory)) == [("unknown_signer", 1, 1)]


def test_revocation_ends_a_key_at_its_timestamp(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    revoke_ts = START_MS + 10 * 60_000
    log_factory.admin_seq += 1
    revoke = device_payload("revoke", "dev", log_factory.admin_seq, revoke_ts)
    log_factory.commit([parse_entry(sign_entry(revoke, "admin", log_factory.admin.seed))])
    late_but_valid = log_factory.reading("dev", seq=1, ts=revoke_ts - 1)
    after = log_factory.reading("dev", seq=2, ts=revoke_ts)
    log_factory.commit([late_but_valid, after])
    assert _reasons(_audit(log_factory)) == [("unauthorized", 3, 4)]


def test_reading_signed_before_its_registration_fails(log_factory: LogFactory) -> None:
    log_factory.register("dev", ts=START_MS)
    log_factory.commit([log_factory.reading("dev", seq=1, ts=START_MS - 1)])
    assert [r for r, _, _ in _reasons(_audit(log_factory))] == ["unauthorized"]


def test_a_device_cannot_register_devices(log_factory: LogFactory) -> None:
    device = log_factory.register("dev")
    rogue = SignerKey.generate("rogue", seed=b"r" * 32)
    payload = device_payload("register", "rogue", 1, START_MS, pubkey=rogue.public_key)
    log_factory.commit([parse_entry(sign_entry(payload, "dev", device.seed))])
    raw = sign_entry(
        reading_payload("rogue", 1, START_MS + 1, "temperature", "barn:b1", 1.0, "Cel"),
        "rogue",
        rogue.seed,
    )
    log_factory.commit([parse_entry(raw)])
    reasons = [r for r, _, _ in _reasons(_audit(log_factory))]
    assert reasons == ["unauthorized", "unknown_signer"]


def test_a_checkpoint_lagging_the_log_is_a_warning(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    log_factory.writer.commit_block([log_factory.reading("dev")], START_MS)
    report = _audit(log_factory)
    assert report.ok
    assert [w.reason for w in report.warnings] == ["unchecked_tail"]
    assert report.checkpoint_size == log_factory.store.size - 1


def test_parallel_audit_agrees_with_the_serial_one(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "farm")
    trust = build_demo_log(data_dir, DemoFarm(days=8, block_size=200))
    with Store.open(data_dir.log) as store:
        assert store.entry_count > 4096  # large enough to use worker processes
        serial = audit_store(store, trust, jobs=1)
        parallel = audit_store(store, trust, jobs=2)
    assert serial.ok and parallel.ok
    for field in ("blocks", "entries", "signers", "checkpoint_size", "checkpoint_root"):
        assert getattr(serial, field) == getattr(parallel, field)
