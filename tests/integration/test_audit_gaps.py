"""The audit tells gaps a device declared (signed ``gap`` entries) from missing seqs."""

from __future__ import annotations

import json
from collections.abc import Callable

from farm_logs import START_MS, LogFactory

from chain.audit import audit_store
from chain.entries import Entry, gap_payload, parse_entry, sign_entry

Cli = Callable[..., tuple[int, str, str]]


def _gap(factory: LogFactory, dev: str, seq: int, first: int, last: int) -> Entry:
    key, top = factory.devices[dev]
    factory.devices[dev] = (key, max(top, seq))
    payload = gap_payload(dev, seq, START_MS + seq * 60_000, first, last)
    return parse_entry(sign_entry(payload, dev, key.seed))


def _log_with_both_kinds(factory: LogFactory) -> None:
    factory.register("dev")
    # seqs 3-4 are missing; the device declared 6-9 unused (its seq 10) after a crash.
    factory.commit([factory.reading("dev", seq=s) for s in (1, 2, 5)])
    factory.commit([_gap(factory, "dev", 10, 6, 9), factory.reading("dev", seq=11)])


def test_declared_and_missing_gaps_are_reported_apart(
    log_factory: LogFactory, run_cli: Cli
) -> None:
    _log_with_both_kinds(log_factory)
    report = audit_store(log_factory.store, log_factory.trust, jobs=1)
    assert report.ok, report.to_text()
    [missing] = report.gaps
    [declared] = report.declared_gaps
    assert (missing.signer, missing.missing_total, missing.missing) == ("dev", 2, ((3, 4),))
    assert (declared.signer, declared.missing_total, declared.missing) == ("dev", 4, ((6, 9),))
    assert (report.missing_seqs, report.declared_seqs) == (2, 4)
    log_factory.close()

    code, out, _ = run_cli("audit", "--data-dir", log_factory.data_dir.root, "--no-progress")
    assert code == 0, out
    assert "sequence gaps: 2 seqs missing in 1 signers:" in out
    assert "dev: 2 missing of 1..11 (3-4)" in out
    assert "declared gaps: 4 seqs declared unused in 1 signers:" in out
    assert "dev: 4 declared unused of 1..11 (6-9)" in out

    code, out, _ = run_cli("audit", "--data-dir", log_factory.data_dir.root, "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"]
    assert (data["missing_seqs"], data["declared_seqs"]) == (2, 4)
    assert [g["missing"] for g in data["gaps"]] == [[[3, 4]]]
    assert [g["missing"] for g in data["declared_gaps"]] == [[[6, 9]]]


def test_a_gap_declared_over_committed_seqs_is_a_failure(log_factory: LogFactory) -> None:
    log_factory.register("liar")
    log_factory.commit([log_factory.reading("liar", seq=s) for s in (1, 2, 3)])
    log_factory.commit([_gap(log_factory, "liar", 4, 2, 3)])  # 2 and 3 are in the log
    report = audit_store(log_factory.store, log_factory.trust, jobs=1)
    assert [(f.reason, f.entry) for f in report.failures] == [("false_gap", 5)], report.to_text()
    assert "declares seqs 2..3 never used, but the log holds 2 of them" in report.to_text()
    assert report.gaps == [] and report.declared_gaps == []


def test_a_gap_entry_with_a_bad_signature_declares_nothing(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    log_factory.commit([log_factory.reading("dev", seq=1)])
    other_key = log_factory.register("other")
    forged = sign_entry(gap_payload("dev", 5, START_MS + 1, 2, 4), "dev", other_key.seed)
    log_factory.commit([parse_entry(forged)])
    report = audit_store(log_factory.store, log_factory.trust, jobs=1)
    assert [f.reason for f in report.failures] == ["bad_signature"]
    assert report.declared_gaps == [] and report.missing_seqs == 3
