"""``chain.entries.event_members`` / ``event_subject_kinds``: the event schema's public view."""

from __future__ import annotations

import pytest

from chain.entries import (
    EVENTS,
    event_members,
    event_payload,
    event_subject_kinds,
    sign_entry,
)
from chain.errors import MalformedEntryError

TYPICAL = {  # a valid value for every member of every event
    "breed": "Ross 308", "hatchery": "H", "parent_flock": "PF-1", "barn": "b2",
    "from_barn": "b1", "vaccine": "HVT", "dose": "0.2ml", "result": "pass", "note": "ok",
    "cause": "heat", "plant": "P", "outputs": ["carcass:1"], "gtin": "09506000134352",
    "serial": "S1", "lot": "L1", "weight_g": 1800, "destination": "DC", "source": "P",
    "location": "DC", "reason": "r", "medicine": "Amoxicillin", "withdrawal_days": 1,
    "product": "Whole chicken", "best_before": "2026-01-19",
}  # fmt: skip
SUBJECT = {"bird": "bird:1", "barn": "barn:b1", "carcass": "carcass:1", "cut": "cut:1"}
SUBJECT |= {"pack": "pack:09506000134352.S1", "lot": "lot:09506000134352.L1"}


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_the_required_members_alone_make_a_valid_event_and_each_is_needed(event: str) -> None:
    required, optional = event_members(event)
    assert not set(required) & set(optional)
    kinds = event_subject_kinds(event) or {"bird"}
    subject = SUBJECT[sorted(kinds)[0]]
    members = {name: TYPICAL[name] for name in required}
    if event == "packed":
        members["serial"] = "S1"  # the one rule across members
    sign_entry(event_payload(event, 1, 5, [subject], **members), "op", bytes(32))
    for name in required:
        partial = {k: v for k, v in members.items() if k != name}
        with pytest.raises(MalformedEntryError, match=f"{name}: required"):
            sign_entry(event_payload(event, 1, 5, [subject], **partial), "op", bytes(32))
    for name in optional:  # and every optional member is accepted with its typical value
        if name in ("serial", "lot"):
            continue
        payload = event_payload(event, 1, 5, [subject], **members, **{name: TYPICAL[name]})
        sign_entry(payload, "op", bytes(32))


def test_subject_kinds_are_what_the_validation_enforces() -> None:
    assert event_subject_kinds("recalled") == frozenset()
    assert event_subject_kinds("shipped") == {"pack", "lot"}
    with pytest.raises(MalformedEntryError, match="subjects\\[0\\]: expected a bird:<id>"):
        sign_entry(event_payload("hatched", 1, 5, ["barn:b1"], breed="B"), "op", bytes(32))


def test_an_unknown_event_is_refused_by_name() -> None:
    for ask in (event_members, event_subject_kinds):
        with pytest.raises(MalformedEntryError, match="event: expected one of died, hatched"):
            ask("laid")
