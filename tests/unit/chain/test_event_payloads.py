"""Per-event payload rules, derived subjects and their index (issue 4 plan, section 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chain import note
from chain._payloads import EVENT_SCHEMAS
from chain.entries import (
    EVENTS,
    WITHDRAWAL_DAYS_MAX,
    device_payload,
    event_outputs,
    event_payload,
    packing_day,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.errors import MalformedEntryError
from chain.log import LogWriter
from chain.store import Store, entry_subjects

TS = 1_767_225_600_000
SEED = bytes([9]) * 32
GTIN = "09506000134352"
DELETE = object()
_Form = dict[str, tuple[list[str], dict[str, object]]]

# event -> (subjects, required members): the smallest valid form.
MINIMAL: _Form = {
    "hatched": (["bird:b1"], {"breed": "Ross 308"}),
    "placed": (["bird:b1"], {"barn": "barn1"}),
    "moved": (["bird:b1"], {"barn": "barn2"}),
    "vaccinated": (["bird:b1"], {"vaccine": "Newcastle disease (live)"}),
    "treated": (["bird:b1"], {"medicine": "Amoxicillin"}),
    "inspected": (["barn:barn1"], {"result": "pass"}),
    "died": (["bird:b1"], {}),
    "slaughtered": (["bird:b1"], {"plant": "Plant 4", "outputs": ["carcass:b1"]}),
    "packed": (["carcass:b1"], {"gtin": GTIN, "serial": "S1"}),
    "shipped": ([f"pack:{GTIN}.S1"], {"destination": "DC North"}),
    "received": ([f"pack:{GTIN}.S1"], {"location": "Shop 12"}),
    "recalled": ([f"pack:{GTIN}.S1"], {"reason": "temperature excursion in transit"}),
}

# event -> (subjects, every member, required and optional, plus an extension member).
FULL: _Form = {
    "hatched": (
        ["bird:b1", "bird:b2"],
        {"breed": "Ross 308", "hatchery": "Hatchery Süd", "parent_flock": "PF-17"},
    ),
    "placed": (["bird:b1", "bird:b2"], {"barn": "barn1", "pen": "3"}),
    "moved": (["bird:b1"], {"barn": "barn2", "from_barn": "barn1"}),
    "vaccinated": (["bird:b1", "bird:b2"], {"vaccine": "IB H120", "dose": "0.03 ml"}),
    "treated": (
        ["bird:b1", "barn:barn1"],
        {"medicine": "Amoxicillin", "reason": "E. coli", "dose": "15 mg/kg", "withdrawal_days": 1},
    ),
    "inspected": (["bird:b1", "barn:barn1"], {"result": "fail", "note": "wet litter"}),
    "died": (["bird:b1"], {"cause": "heat stress"}),
    "slaughtered": (
        ["bird:b1"],
        {"plant": "Plant 4", "outputs": ["carcass:b1", "cut:b1.breast", "cut:b1.leg"]},
    ),
    "packed": (
        ["carcass:b1", "cut:b2.leg", "bird:b3"],
        {"gtin": GTIN, "lot": "L-2026.01", "plant": "Plant 4", "weight_g": 2150, "count": 3}
        | {"product": "Chicken legs", "best_before": "2026-01-08"},
    ),
    "shipped": ([f"lot:{GTIN}.L7", f"pack:{GTIN}.S1"], {"destination": "DC", "source": "P4"}),
    "received": ([f"lot:{GTIN}.L7"], {"location": "Shop 12", "by": "clerk-7"}),
    "recalled": (["bird:b1", f"lot:{GTIN}.L7", "barn:barn1"], {"reason": "Salmonella"}),
}


def _payload(event: str, form: _Form, **changes: object) -> dict[str, object]:
    subjects, members = form[event]
    payload = event_payload(event, 3, TS, subjects, **members)
    for name, value in changes.items():
        if value is DELETE:
            del payload[name]
        else:
            payload[name] = value
    return payload


def test_every_event_has_a_schema() -> None:
    assert EVENT_SCHEMAS.keys() == EVENTS == MINIMAL.keys() == FULL.keys()


@pytest.mark.parametrize("form", [MINIMAL, FULL], ids=["minimal", "full"])
@pytest.mark.parametrize("event", sorted(EVENTS))
def test_every_event_is_accepted(event: str, form: _Form) -> None:
    payload = _payload(event, form)
    entry = parse_entry(sign_entry(payload, "op-1", SEED))
    assert entry.type == "event" and entry.payload["event"] == event
    assert entry.payload["subjects"] == tuple(form[event][0])


_TEXT = "a string of at most 200 characters"
_DATE = "a calendar date YYYY-MM-DD (ISO 8601)"
_ID = "an id matching"
# (event, changes to its minimal form, message the error must start with, then contain)
BAD: list[tuple[str, dict[str, object], str, str]] = [
    ("hatched", {"breed": DELETE}, "breed", "required in hatched events, missing"),
    ("hatched", {"breed": 308}, "breed", _TEXT),
    ("hatched", {"breed": "x" * 201}, "breed", _TEXT),
    ("hatched", {"hatchery": ["h"]}, "hatchery", _TEXT),
    ("hatched", {"parent_flock": 1}, "parent_flock", _TEXT),
    ("hatched", {"subjects": ["barn:b1"]}, "subjects[0]", "a bird:<id> subject in a hatched"),
    ("hatched", {"subjects": ["bird:1", "egg:2"]}, "subjects[1]", "a bird:<id> subject"),
    ("placed", {"barn": DELETE}, "barn", "required in placed events"),
    ("placed", {"barn": "barn 1"}, "barn", _ID),
    ("placed", {"barn": "barn:b1"}, "barn", _ID),
    ("placed", {"subjects": ["barn:b1"]}, "subjects[0]", "a bird:<id> subject in a placed"),
    ("moved", {"barn": DELETE}, "barn", "required in moved events"),
    ("moved", {"from_barn": ""}, "from_barn", _ID),
    ("vaccinated", {"vaccine": DELETE}, "vaccine", "required in vaccinated events"),
    ("vaccinated", {"dose": 2}, "dose", _TEXT),
    ("inspected", {"result": DELETE}, "result", "required in inspected events"),
    ("inspected", {"result": "ok"}, "result", "one of fail, pass"),
    ("inspected", {"result": "PASS"}, "result", "one of fail, pass"),
    ("inspected", {"note": None}, "note", _TEXT),
    ("inspected", {"subjects": ["feeder:f1"]}, "subjects[0]", "a barn:<id> or bird:<id>"),
    ("died", {"cause": 5}, "cause", _TEXT),
    ("died", {"subjects": ["carcass:b1"]}, "subjects[0]", "a bird:<id> subject in a died"),
    ("slaughtered", {"plant": DELETE}, "plant", "required in slaughtered events"),
    ("slaughtered", {"outputs": DELETE}, "outputs", "required in slaughtered events"),
    ("slaughtered", {"outputs": []}, "outputs", "a non-empty array of outputs"),
    ("slaughtered", {"outputs": "carcass:b1"}, "outputs", "a non-empty array"),
    ("slaughtered", {"outputs": ["bird:b1"]}, "outputs[0]", "carcass:<id> or cut:<id>"),
    ("slaughtered", {"outputs": ["carcass:b1", 2]}, "outputs[1]", "carcass:<id>"),
    ("slaughtered", {"outputs": ["cut:a", "cut:a"]}, "outputs", "distinct outputs"),
    ("slaughtered", {"outputs": ["carcass:b/1"]}, "outputs[0]", "carcass:<id>"),
    ("slaughtered", {"subjects": ["bird:b1", "bird:b2"]}, "subjects", "exactly one subject"),
    ("slaughtered", {"subjects": ["barn:x"]}, "subjects[0]", "a bird:<id> subject"),
    ("packed", {"gtin": DELETE}, "gtin", "required in packed events"),
    ("packed", {"gtin": "09506000134353"}, "gtin", "ending in its GS1 check digit 2"),
    ("packed", {"gtin": "4006381333931"}, "gtin", "14 ASCII digits (pad a GTIN-8"),
    ("packed", {"gtin": "0950600013435"}, "gtin", "14 ASCII digits"),
    ("packed", {"gtin": "\u06609506000134352"}, "gtin", "14 ASCII digits"),
    ("packed", {"gtin": 9506000134352}, "gtin", "14 ASCII digits"),
    ("packed", {"gtin": "0950600013435a"}, "gtin", "14 ASCII digits"),
    ("packed", {"serial": DELETE}, "serial, lot", "exactly one is required in a packed event"),
    ("packed", {"lot": "L1"}, "serial, lot", "found both"),
    ("packed", {"serial": DELETE, "lot": "L/1"}, "lot", "1 to 20 characters"),
    ("packed", {"serial": "S" * 21}, "serial", "1 to 20 characters"),
    ("packed", {"serial": "-S1"}, "serial", "1 to 20 characters"),
    ("packed", {"serial": "S%201"}, "serial", "1 to 20 characters"),
    ("packed", {"serial": 17}, "serial", "1 to 20 characters"),
    ("packed", {"weight_g": 0}, "weight_g", "an integer in [1, 2**53)"),
    ("packed", {"weight_g": 2.5}, "weight_g", "an integer in"),
    ("packed", {"plant": {"id": 4}}, "plant", _TEXT),
    ("packed", {"subjects": ["pack:x"]}, "subjects[0]", "a bird:<id> or carcass:<id> or cut:"),
    ("packed", {"product": 5}, "product", _TEXT),
    ("packed", {"best_before": "2025-12-30"}, "best_before", "on or after the packing date 2025"),
    ("packed", {"best_before": "2026-02-30"}, "best_before", _DATE),
    ("packed", {"best_before": "20260108"}, "best_before", _DATE),
    ("packed", {"best_before": "2026-W02-1"}, "best_before", _DATE),
    ("packed", {"best_before": "2026-01-08T00:00"}, "best_before", _DATE),
    ("packed", {"best_before": "2026-1-8"}, "best_before", _DATE),
    ("packed", {"best_before": "0000-01-08"}, "best_before", _DATE),
    ("packed", {"best_before": 20260108}, "best_before", _DATE),
    ("treated", {"medicine": DELETE}, "medicine", "required in treated events"),
    ("treated", {"medicine": 5}, "medicine", _TEXT),
    ("treated", {"reason": ["E. coli"]}, "reason", _TEXT),
    ("treated", {"dose": 5}, "dose", _TEXT),
    ("treated", {"withdrawal_days": -1}, "withdrawal_days", "an integer in [0, 1000]"),
    ("treated", {"withdrawal_days": 1001}, "withdrawal_days", "an integer in [0, 1000]"),
    ("treated", {"withdrawal_days": 7.0}, "withdrawal_days", "an integer in [0, 1000]"),
    ("treated", {"withdrawal_days": "7"}, "withdrawal_days", "an integer in [0, 1000]"),
    ("treated", {"withdrawal_days": True}, "withdrawal_days", "an integer in [0, 1000]"),
    ("treated", {"subjects": ["carcass:b1"]}, "subjects[0]", "a barn:<id> or bird:<id> subject"),
    ("shipped", {"destination": DELETE}, "destination", "required in shipped events"),
    ("shipped", {"source": 3}, "source", _TEXT),
    ("shipped", {"subjects": ["bird:b1"]}, "subjects[0]", "a lot:<id> or pack:<id> subject"),
    ("received", {"location": DELETE}, "location", "required in received events"),
    ("received", {"location": ["Shop"]}, "location", _TEXT),
    ("received", {"subjects": ["carcass:b1"]}, "subjects[0]", "a lot:<id> or pack:<id>"),
    ("recalled", {"reason": DELETE}, "reason", "required in recalled events"),
    ("recalled", {"reason": "x" * 201}, "reason", _TEXT),
    ("recalled", {"extra": 1.5}, "extra", "a string, an integer or an array of strings"),
]


@pytest.mark.parametrize(
    ("event", "changes", "member", "expected"),
    BAD,
    ids=[f"{e}-{'-'.join(c)}-{i}" for i, (e, c, _, _) in enumerate(BAD)],
)
def test_every_rule_rejects_with_a_clear_message(
    event: str, changes: dict[str, object], member: str, expected: str
) -> None:
    payload = _payload(event, MINIMAL, **changes)
    pattern = rf"^{re.escape(member)}: .*{re.escape(expected)}"
    with pytest.raises(MalformedEntryError, match=pattern):
        sign_entry(payload, "op-1", SEED)


def test_device_registrations_may_name_their_location() -> None:
    key = bytes(range(32))
    with_location = device_payload("register", "b1-temp", 2, TS, pubkey=key, location="barn:b1")
    entry = parse_entry(sign_entry(with_location, "admin", SEED))
    assert entry.payload["location"] == "barn:b1"
    assert "location" not in device_payload("register", "b1-temp", 2, TS, pubkey=key)
    for bad in ("b1", "barn:", "Barn:b1", "barn:b 1", 7):
        payload = device_payload("register", "b1-temp", 2, TS, pubkey=key) | {"location": bad}
        with pytest.raises(MalformedEntryError, match=r"^location: expected a subject <kind>:<id>"):
            sign_entry(payload, "admin", SEED)


@pytest.mark.parametrize(
    ("event", "changes", "outputs"),
    [
        ("slaughtered", {}, ("carcass:b1",)),
        ("slaughtered", {"outputs": ["carcass:b1", "cut:b1.leg"]}, ("carcass:b1", "cut:b1.leg")),
        ("packed", {}, (f"pack:{GTIN}.S1",)),
        ("packed", {"serial": DELETE, "lot": "L7"}, (f"lot:{GTIN}.L7",)),
        ("shipped", {}, ()),
        ("hatched", {}, ()),
    ],
)
def test_event_outputs_are_the_derived_subjects(
    event: str, changes: dict[str, object], outputs: tuple[str, ...]
) -> None:
    entry = parse_entry(sign_entry(_payload(event, MINIMAL, **changes), "op-1", SEED))
    assert event_outputs(entry.payload) == outputs
    assert entry_subjects(entry) == (*entry.payload["subjects"], *outputs)


def test_readings_and_registrations_have_no_outputs() -> None:
    reading = reading_payload("dev-1", 1, TS, "temperature", "barn:b1", 21.0, "Cel")
    assert event_outputs(reading) == ()
    assert event_outputs(device_payload("revoke", "dev-1", 2, TS)) == ()


def test_the_store_finds_a_pack_its_carcass_and_its_bird(tmp_path: Path) -> None:
    origin = "farm.example/log"
    signer, _ = note.generate_key(origin, seed=b"k" * 32)
    slaughtered = _payload("slaughtered", MINIMAL)
    packed = _payload("packed", MINIMAL) | {"seq": 4, "ts": TS + 60_000}
    lot = _payload("packed", MINIMAL, serial=DELETE, lot="L7", subjects=["carcass:b2"])
    lot |= {"seq": 5, "ts": TS + 90_000}
    entries = [parse_entry(sign_entry(p, "plant-1", SEED)) for p in (slaughtered, packed, lot)]
    with Store.open(tmp_path / "log", origin=origin) as store:
        LogWriter(store, signer).commit_block(entries, TS + 100_000)
        [pack_index] = store.subject_entries(f"pack:{GTIN}.S1")
        pack = parse_entry(store.entry(pack_index))
        assert pack.payload["event"] == "packed"
        [carcass] = pack.payload["subjects"]
        assert list(store.subject_entries(carcass)) == [0, 1]  # slaughtered, then packed
        origin_event = parse_entry(store.entry(0))
        assert origin_event.payload["subjects"] == ("bird:b1",)
        assert list(store.subject_entries("bird:b1")) == [0]
        assert list(store.subject_entries(f"lot:{GTIN}.L7")) == [2]
        assert list(store.subject_entries(f"pack:{GTIN}.S2")) == []


HOUR = 3_600_000


@pytest.mark.parametrize(
    ("ts", "day"),
    [
        (TS, "2025-12-31"),  # midnight UTC is still the day before in UTC-12
        (TS + 12 * HOUR - 1, "2025-12-31"),
        (TS + 12 * HOUR, "2026-01-01"),
        (TS + 35 * HOUR, "2026-01-01"),  # 11:00 on Jan 2 in UTC, 23:00 on Jan 1 in UTC-12
        (0, "1969-12-31"),
    ],
)
def test_the_packing_day_is_the_earliest_local_date_of_the_ts(ts: int, day: str) -> None:
    assert packing_day(ts) == day


@pytest.mark.parametrize("best_before", ["2025-12-31", "2026-01-01", "2026-12-31", "9999-12-31"])
def test_a_best_before_on_or_after_the_packing_day_is_accepted(best_before: str) -> None:
    payload = _payload("packed", MINIMAL, best_before=best_before, product="Whole chicken")
    entry = parse_entry(sign_entry(payload, "op-1", SEED))
    assert entry.payload["best_before"] == best_before
    assert entry.payload["product"] == "Whole chicken"


def test_a_packed_entry_without_product_or_best_before_stays_valid() -> None:
    payload = _payload("packed", MINIMAL)
    assert not {"product", "best_before"} & payload.keys()
    parse_entry(sign_entry(payload, "op-1", SEED))


@pytest.mark.parametrize("days", [0, 1, WITHDRAWAL_DAYS_MAX])
def test_a_treatment_may_state_a_withdrawal_period_from_0_to_the_maximum(days: int) -> None:
    payload = _payload("treated", MINIMAL, withdrawal_days=days)
    assert parse_entry(sign_entry(payload, "vet", SEED)).payload["withdrawal_days"] == days
