"""An event's ``refs`` member as a payload rule (issue 15, docs/supply-chain.md section 2)."""

from __future__ import annotations

import pytest

from chain._payloads import validate_payload
from chain.crosslog import REFERABLE, parse_refs
from chain.entries import EVENTS, event_payload, member_text, parse_entry, sign_entry
from chain.errors import MalformedEntryError

TS = 1_767_225_600_000
SEED = bytes([7]) * 32
REF = {
    "log": "farm-a.example/log",
    "index": 17,
    "hash": "ab" * 32,
    "size": 9,
    "root": "cd" * 32,
    "subject": "bird:0001",
}
SLAUGHTERED = event_payload(
    "slaughtered", 1, TS, ["bird:0001"], plant="Riverside", outputs=["carcass:0001"]
)
# Smallest valid forms, about bird:0001, of the kinds that may not reference.
UNREFERRING = {
    "hatched": event_payload("hatched", 1, TS, ["bird:0001"], breed="Ross 308"),
    "moved": event_payload("moved", 1, TS, ["bird:0001"], barn="barn2"),
    "died": event_payload("died", 1, TS, ["bird:0001"]),
}


def _refused(payload: dict[str, object], complaint: str) -> None:
    with pytest.raises(MalformedEntryError) as caught:
        validate_payload(payload, "plant")
    assert caught.value.reason == "malformed_reference"
    assert complaint in str(caught.value)


def test_a_signed_slaughter_carries_its_references_and_reads_them_back() -> None:
    entry = parse_entry(sign_entry(SLAUGHTERED | {"refs": [REF]}, "plant", SEED))
    assert [dict(item) for item in entry.payload["refs"]] == [REF]
    assert parse_refs(list(entry.payload["refs"]))[0].index == 17


def test_a_barn_treatment_references_two_birds_it_names() -> None:
    birds = ["bird:0001", "bird:0002", "barn:barn1"]
    refs = [REF, REF | {"index": 18, "subject": "bird:0002"}]
    validate_payload(event_payload("treated", 1, TS, birds, medicine="x", refs=refs), "vet")


def test_the_kinds_that_may_reference_are_real_events_and_the_others_refuse_refs() -> None:
    assert set(REFERABLE) <= EVENTS
    assert EVENTS - set(REFERABLE) == set(UNREFERRING)
    for event, payload in UNREFERRING.items():
        validate_payload(payload, "plant")
        _refused(payload | {"refs": [REF]}, f"refs: expected no refs in a {event} event")


def test_a_reference_about_a_subject_the_event_does_not_name_is_refused() -> None:
    ref = REF | {"subject": "bird:0002"}
    _refused(SLAUGHTERED | {"refs": [ref]}, "refs[0].subject: expected one of the event's")


@pytest.mark.parametrize(
    ("refs", "complaint"),
    [
        ([], "a list of 1 to 8"),
        (REF, "a list of 1 to 8"),
        ([REF | {"index": 17.0}], "index: expected an integer"),
        ([REF | {"hash": "AB" * 32}], "hash: expected 64 lowercase hex"),
        ([REF | {"extra": 1}], "unknown ['extra']"),
        ([REF, dict(REF)], "twice"),
    ],
)
def test_a_malformed_refs_member_is_refused_as_a_malformed_reference(
    refs: object, complaint: str
) -> None:
    _refused(SLAUGHTERED | {"refs": refs}, complaint)


def test_sign_entry_refuses_what_a_verifier_would() -> None:
    with pytest.raises(MalformedEntryError):
        sign_entry(UNREFERRING["hatched"] | {"refs": [REF]}, "plant", SEED)


def test_pages_and_traces_show_a_reference_as_its_log_and_entry() -> None:
    ref = {"log": "farm-a.example/log", "index": 17, "hash": "ab" * 32, "size": 9}
    assert member_text((ref, {**ref, "index": 18})) == (
        "farm-a.example/log entry 17, farm-a.example/log entry 18"
    )
    assert member_text(["bird:0001", "bird:0002"]) == "bird:0001, bird:0002"
    assert member_text(3) == "3"
