"""The audit replays the lifecycle rules and checks the event index: rule-skipping logs fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest
from farm_logs import START_MS, LogFactory

from chain.audit import AuditReport, audit_store
from chain.entries import Entry, event_payload, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey

GTIN = "09506000134352"


class EventLog(LogFactory):
    """A LogFactory whose operator ``plant`` (hatchery, plant and vet roles) signs events."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.plant = SignerKey.generate("plant", seed=bytes([3]) * 32)
        self.plant_seq = 0
        self.admin_seq += 1
        payload = operator_payload(
            "register",
            "plant",
            self.admin_seq,
            START_MS - 500,
            pubkey=self.plant.public_key,
            roles=["hatchery", "plant", "vet"],
        )
        self.commit([parse_entry(sign_entry(payload, "admin", self.admin.seed))])

    def event(self, event: str, subjects: list[str], **fields: object) -> Entry:
        self.plant_seq += 1
        ts = START_MS + self.plant_seq * 1000
        payload = event_payload(event, self.plant_seq, ts, subjects, **fields)
        return parse_entry(sign_entry(payload, "plant", self.plant.seed))

    def audit(self) -> AuditReport:
        return audit_store(self.store, self.trust, jobs=1)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EventLog]:
    log = EventLog(tmp_path / "log")
    yield log
    log.close()


def test_events_that_break_the_rules_fail_the_audit_once_each(log: EventLog) -> None:
    log.register("d1")
    log.commit(
        [
            log.event("hatched", ["bird:1", "bird:2"], breed="Ross 308"),
            log.reading("d1"),
            log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]),
        ]
    )
    first = log.store.entry_count
    log.commit(
        [
            log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1b"]),  # twice
            log.event("packed", ["carcass:1"], gtin=GTIN, serial="S1"),
            log.event("packed", ["bird:2"], gtin=GTIN, serial="S2"),  # never slaughtered
            log.event("shipped", [f"pack:{GTIN}.S2"], destination="DC"),  # fine: it was packed
        ]
    )
    report = log.audit()
    assert not report.ok
    found = [(f.reason, f.block, f.entry, f.message) for f in report.failures]
    block = log.store.size - 1
    assert found == [
        (
            "lifecycle_conflict",
            block,
            first,
            f"slaughtered: bird:1 was slaughtered in entry {first - 1}",
        ),
        (
            "lifecycle_conflict",
            block,
            first + 2,
            "packed: bird:2 was never slaughtered",
        ),
    ]


def test_a_lawful_story_audits_clean(log: EventLog) -> None:
    log.commit(
        [
            log.event("hatched", ["bird:1"], breed="Ross 308"),
            log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]),
            log.event("packed", ["carcass:1"], gtin=GTIN, serial="S1"),
        ]
    )
    report = log.audit()
    assert report.ok, report.to_text()


def test_a_slaughter_inside_a_withdrawal_period_is_a_warning_not_a_failure(log: EventLog) -> None:
    day = 86_400_000
    log.commit(
        [
            log.event("hatched", ["bird:1", "bird:2"], breed="Ross 308"),
            log.event("treated", ["bird:1"], medicine="Amoxicillin", withdrawal_days=1),
            log.event("treated", ["bird:2"], medicine="Vitamin C", withdrawal_days=0),
            log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]),
            log.event("slaughtered", ["bird:2"], plant="P", outputs=["carcass:2"]),
        ]
    )
    treated, slaughtered = log.store.entry_count - 4, log.store.entry_count - 2
    report = log.audit()
    assert report.ok, report.to_text()
    assert [(w.reason, w.block, w.entry) for w in report.warnings] == [
        ("withdrawal_period", log.store.size - 1, slaughtered)
    ]
    until = START_MS + 2000 + day  # the treatment's ts plus one day
    assert report.warnings[0].message == (
        "slaughtered: bird:1 was slaughtered 24 h before the withdrawal period of its "
        f"treatment (entry {treated}) ended at ts {until}"
    )
    assert "warning: block" in report.to_text() and "withdrawal_period" in report.to_text()


def test_an_unverified_event_is_a_signature_finding_not_a_lifecycle_one(log: EventLog) -> None:
    stranger = SignerKey.generate("plant", seed=bytes([4]) * 32)  # not plant's registered key
    forged = event_payload("hatched", 99, START_MS, ["bird:1"], breed="Ross 308")
    log.commit(
        [
            parse_entry(sign_entry(forged, "plant", stranger.seed)),
            log.event("hatched", ["bird:1"], breed="Ross 308"),  # the genuine, first hatch
        ]
    )
    assert [f.reason for f in log.audit().failures] == ["bad_signature"]


def test_the_audit_checks_the_event_index(log: EventLog) -> None:
    log.register("d1")
    log.commit([log.event("hatched", ["bird:1"], breed="Ross 308"), log.reading("d1")])
    event, reading = log.store.entry_count - 2, log.store.entry_count - 1
    assert log.store.event_indexes()[-1] == event
    log.close()
    db = plyvel.DB(str(log.data_dir.log))
    try:
        db.delete(b"v:" + event.to_bytes(8, "big"), sync=True)
        db.put(b"v:" + reading.to_bytes(8, "big"), b"", sync=True)
    finally:
        db.close()
    log.store = type(log.store).open(log.data_dir.log)
    messages = [(f.reason, f.entry, f.message) for f in log.audit().failures]
    assert messages == [
        ("index", event, "event index lacks this event"),
        ("index", reading, "event index names an entry that is not an event"),
    ]
    log.store.close()
    db = plyvel.DB(str(log.data_dir.log))
    try:
        db.delete(b"v:" + reading.to_bytes(8, "big"), sync=True)
    finally:
        db.close()
    log.store = type(log.store).open(log.data_dir.log)
    messages = [(f.reason, f.entry, f.message) for f in log.audit().failures]
    assert ("index", None, "0 records under 'v:', expected 1") in messages
