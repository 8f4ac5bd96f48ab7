"""The shared path of ``farmtrace event`` and the desk: drafts, kinds and the pre-check."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chain.entries import EVENTS, event_payload, parse_entry, sign_entry
from chain.errors import AuthorizationError, LifecycleError, MalformedEntryError, SourceError
from chain.keyfile import SignerKey
from chain.registry import EVENT_ROLES
from signer.operator_events import (
    EVENT_KINDS,
    HistorySource,
    draft_event,
    kinds_for_roles,
    precheck,
    split_list,
)

FARM = SignerKey.generate("farmer")
GTIN = "09506000134352"
SAMPLES = {
    "hatched": ("bird:1", {"breed": "Ross 308", "hatchery": "", "parent_flock": "PF-7"}),
    "placed": ("bird:1", {"barn": "b1"}),
    "moved": ("bird:1", {"barn": "b2", "from_barn": "b1"}),
    "vaccinated": ("bird:1, bird:2", {"vaccine": "Newcastle", "dose": ""}),
    "treated": ("bird:1", {"medicine": "Amoxicillin", "reason": "", "withdrawal_days": "1"}),
    "inspected": ("barn:b1", {"result": "pass", "note": "dry litter"}),
    "died": ("bird:1", {"cause": ""}),
    "slaughtered": ("bird:1", {"plant": "Riverside", "outputs": "carcass:1\ncut:1-breast"}),
    "packed": (
        "carcass:1",
        {"gtin": GTIN, "serial": "s1", "lot": "", "weight_g": "1850"}
        | {"product": "Whole chicken", "best_before": "2023-11-21"},
    ),
    "shipped": (f"pack:{GTIN}.s1", {"destination": "Shop", "source": ""}),
    "received": (f"pack:{GTIN}.s1", {"location": "Shop"}),
    "recalled": ("lot:x", {"reason": "salmonella"}),
}


def test_every_kind_is_described_with_its_roles_in_lifecycle_order() -> None:
    assert set(EVENT_KINDS) == set(EVENTS) == set(SAMPLES)
    first, *_, last = EVENT_KINDS
    assert (first, last) == ("hatched", "recalled")
    for name, kind in EVENT_KINDS.items():
        assert kind.roles == EVENT_ROLES[name]
        presented = kind.lists | kind.integers | kind.dates | set(kind.choices)
        assert presented <= set(kind.members)
    assert kinds_for_roles(["vet"]) == ("vaccinated", "treated", "inspected", "died")
    assert kinds_for_roles([]) == ()


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_form_filled_as_described_makes_a_valid_event(kind: str) -> None:
    subjects, members = SAMPLES[kind]
    draft = draft_event(kind, subjects, members, 1_700_000_000_000)
    payload = draft.payload(7)
    entry = parse_entry(sign_entry(payload, FARM.id, FARM.seed))
    assert entry.payload["event"] == kind and entry.seq == 7
    assert all(value != "" for value in payload.values())  # blank optional members are left out
    spec = EVENT_KINDS[kind]
    for name in spec.lists & set(payload):
        assert isinstance(payload[name], list)
    for name in spec.integers & set(payload):
        assert isinstance(payload[name], int)


def test_draft_splits_lists_and_trims() -> None:
    draft = draft_event(
        "slaughtered", " bird:9 ", {"plant": " P ", "outputs": "carcass:9, cut:9-a\n"}, 5
    )
    assert draft.subjects == ("bird:9",)
    assert draft.members == {"plant": "P", "outputs": ["carcass:9", "cut:9-a"]}
    assert draft.outputs == ("carcass:9", "cut:9-a")
    assert split_list(" a,, b \n c ") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("kind", "subjects", "members", "message"),
    [
        ("teleported", "bird:1", {}, "event: expected one of"),
        ("placed", "bird:1", {"barn": "b1", "colour": "red"}, "colour: not a member"),
        ("placed", " ", {"barn": "b1"}, "subjects: at least one"),
        ("placed", "bird:1", {"barn": ""}, "barn: required"),
        ("placed", "pack:1", {"barn": "b1"}, "a bird:<id> subject"),
        ("packed", "carcass:1", {"gtin": GTIN, "weight_g": "-3", "lot": "L"}, "whole number"),
        ("packed", "carcass:1", {"gtin": GTIN, "serial": "s", "lot": "L"}, "found both"),
        ("inspected", "bird:1", {"result": "maybe"}, "one of fail, pass"),
    ],
)
def test_bad_drafts_name_the_member(
    kind: str, subjects: str, members: dict[str, str], message: str
) -> None:
    with pytest.raises(MalformedEntryError, match=message):
        draft_event(kind, subjects, members, 5)


def event(index_ts: int, seq: int, kind: str, subjects: Sequence[str], **fields: object) -> bytes:
    return sign_entry(event_payload(kind, seq, index_ts, subjects, **fields), FARM.id, FARM.seed)


LOG = [
    event(10, 1, "hatched", ["bird:1"], breed="Ross"),
    event(20, 2, "placed", ["bird:1"], barn="b1"),
    event(30, 3, "slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]),
]


def history(subject: str) -> list[tuple[int, bytes]]:
    """Events about ``subject`` in LOG (as a read API answers), indexes 5, 6, 7."""
    found = []
    for index, raw in enumerate(LOG, start=5):
        entry = parse_entry(raw)
        outputs = entry.payload.get("outputs", ())
        if subject in entry.payload["subjects"] or subject in outputs:
            found.append((index, raw))
    return found


def test_precheck_refuses_what_contradicts_the_log() -> None:
    again = draft_event("slaughtered", "bird:1", {"plant": "P", "outputs": "carcass:2"}, 40)
    with pytest.raises(LifecycleError, match="bird:1") as raised:
        precheck(again, FARM.id, history)
    assert raised.value.existing_index == 7 and raised.value.index == 8
    never = draft_event("packed", "bird:2", {"gtin": GTIN, "serial": "s"}, 40)
    with pytest.raises(LifecycleError, match="bird:2"):
        precheck(never, FARM.id, history)
    ok = draft_event("packed", "carcass:1", {"gtin": GTIN, "serial": "s"}, 40)
    assert precheck(ok, FARM.id, history, roles=["plant"]).kid == FARM.id


def test_precheck_refuses_a_kind_the_roles_do_not_allow() -> None:
    draft = draft_event("packed", "carcass:1", {"gtin": GTIN, "serial": "s"}, 40)
    with pytest.raises(AuthorizationError, match="packed events need one of"):
        precheck(draft, FARM.id, history, roles=["farm", "vet"])


def test_a_barn_recall_is_left_to_the_gateway_only_when_the_log_is_read_partially() -> None:
    draft = draft_event("recalled", "barn:b9", {"reason": "flood"}, 40)
    precheck(draft, FARM.id, history)  # a read API cannot list a barn's placements

    class Complete:  # an EventSource that, like a store, knows every event
        def subject_events(self, subject: str) -> list[int]:
            return [index for index, _ in history(subject)]

        def event_indexes(self) -> list[int]:
            return [5, 6, 7]

        def entry(self, index: int) -> bytes:
            return LOG[index - 5]

    with pytest.raises(LifecycleError, match="barn:b9"):
        precheck(draft, FARM.id, Complete(), next_index=8)
    precheck(draft_event("recalled", "barn:b1", {"reason": "flood"}, 40), FARM.id, Complete())


def test_a_history_too_large_is_refused_not_read_for_ever() -> None:
    source = HistorySource(history, limit=2)
    draft = draft_event("packed", "carcass:1", {"gtin": GTIN, "serial": "s"}, 40)
    with pytest.raises(SourceError, match="more than 2 events"):
        precheck(draft, FARM.id, source)
