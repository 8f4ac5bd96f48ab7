"""The audit replays what registrations allow (issue 11 item 5).

A gateway that skips admission's rules (as a faulty or dishonest one could)
commits readings its devices' registrations do not allow, or values no
sensor can read; the store is written here directly with
:class:`chain.log.LogWriter`, bypassing the gateway, and the audit must fail
naming each reading and its reason.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from farm_logs import START_MS, LogFactory

from chain.audit import AuditReport, audit_store
from chain.entries import Entry, device_payload, parse_entry, reading_payload, sign_entry
from chain.jws import loads_json_object, parse_compact_fields, sign_compact
from chain.keyfile import SignerKey


def _audit(factory: LogFactory) -> AuditReport:
    return audit_store(factory.store, factory.trust, jobs=1)


def _failures(report: AuditReport) -> list[tuple[str, int | None]]:
    return [(f.reason, f.entry) for f in report.failures]


def _unchecked(key: SignerKey, seq: int, kind: str, subject: str, value: float, unit: str) -> Entry:
    """A signed reading as an :class:`Entry` without parse_entry's payload rules."""
    payload = reading_payload(key.id, seq, START_MS + seq, kind, subject, value, unit)
    raw = sign_compact(json.dumps(payload).encode(), key.id, key.seed)
    kid, _, payload_bytes, signing_input, signature = parse_compact_fields(raw)
    parsed = loads_json_object(payload_bytes, "payload")
    return Entry(
        raw, kid, "reading", seq, START_MS + seq, MappingProxyType(parsed), signing_input, signature
    )


def test_readings_their_registration_does_not_allow_fail_the_audit(
    log_factory: LogFactory,
) -> None:
    key = log_factory.register("b1-temp")  # temperature at barn:b1, entry 1
    good = log_factory.reading("b1-temp", seq=1)
    weight = _unchecked(key, 2, "weight", "bird:0001", 99, "kg")
    elsewhere = _unchecked(key, 3, "temperature", "barn:b2", 21.0, "Cel")
    negative = _unchecked(key, 4, "activity", "bird:9999", -1, "count")
    log_factory.commit([good, weight, elsewhere, negative])  # entries 2..5
    report = _audit(log_factory)
    # (An entry that does not parse also leaves its store index records unexplained.)
    assert [f for f in _failures(report) if f[1] is not None] == [
        ("kind_not_registered", 3),
        ("subject_not_registered", 4),
        ("value_out_of_range", 5),
    ], report.to_text()
    text = report.to_text()
    assert "kind_not_registered" in text and "'weight'" in text
    assert "subject_not_registered" in text and "'barn:b2'" in text
    assert "value_out_of_range" in text and "a whole number >= 0 count" in text


def test_a_registration_naming_no_kinds_or_subjects_allows_no_reading(
    log_factory: LogFactory,
) -> None:
    """A registration made before kinds and subjects were enforced allows no reading."""
    device = SignerKey.generate("old-dev", seed=b"o" * 32)
    log_factory.admin_seq += 1
    legacy = device_payload(
        "register", "old-dev", log_factory.admin_seq, START_MS - 500, pubkey=device.public_key
    )
    log_factory.commit([parse_entry(sign_entry(legacy, "admin", log_factory.admin.seed))])
    reading = reading_payload("old-dev", 1, START_MS, "temperature", "barn:b1", 20.0, "Cel")
    log_factory.commit([parse_entry(sign_entry(reading, "old-dev", device.seed))])
    report = _audit(log_factory)
    assert _failures(report) == [("kind_not_registered", 2)], report.to_text()
    assert "its registration lists no kinds" in report.to_text()
    # Re-registered, same key, naming what it reports: its later readings count.
    log_factory.admin_seq += 1
    again = device_payload(
        "register",
        "old-dev",
        log_factory.admin_seq,
        START_MS + 10,
        pubkey=device.public_key,
        kinds=["temperature"],
        subjects=["barn:*"],
    )
    later = reading_payload("old-dev", 2, START_MS + 20, "temperature", "barn:b7", 20.0, "Cel")
    log_factory.commit([parse_entry(sign_entry(again, "admin", log_factory.admin.seed))])
    log_factory.commit([parse_entry(sign_entry(later, "old-dev", device.seed))])
    assert _failures(_audit(log_factory)) == [("kind_not_registered", 2)]


def test_a_parallel_audit_names_the_same_readings(log_factory: LogFactory) -> None:
    key = log_factory.register("b1-temp")
    log_factory.commit(
        [log_factory.reading("b1-temp", seq=1), _unchecked(key, 2, "weight", "bird:1", 9, "kg")]
    )
    report = audit_store(log_factory.store, log_factory.trust, jobs=2)
    assert _failures(report) == [("kind_not_registered", 3)], report.to_text()
