"""The lifecycle across logs: subjects named by references are keyed by (log, subject)."""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.crosslog import LogReference, foreign_key, split_foreign
from chain.entries import Entry, event_payload, parse_entry, sign_entry
from chain.errors import LifecycleError
from chain.lifecycle import LifecycleState, state_for
from chain.store import entry_subjects

T0 = 1_767_225_600_000
SEED = bytes([7]) * 32
GTIN = "09506000134352"
PACK = f"pack:{GTIN}.S1"
LOT = f"lot:{GTIN}.L1"
FARM_A, FARM_B = "farm-a.example/log", "farm-b.example/log"
PLANT = "plant.example/log"
A1, B1 = foreign_key(FARM_A, "bird:0001"), foreign_key(FARM_B, "bird:0001")


def ref(log: str, subject: str, index: int = 3) -> dict[str, object]:
    """A well-formed reference (whether it holds is check_reference's job, not the lifecycle's)."""
    return LogReference(log, index, "ab" * 32, index + 1, "cd" * 32, subject).to_json()


def signed(event: str, seq: int, ts: int, subjects: Sequence[str], **fields: object) -> Entry:
    return parse_entry(sign_entry(event_payload(event, seq, ts, subjects, **fields), "op", SEED))


class Log:
    """A referencing log being replayed: each accepted event is applied at the next index."""

    def __init__(self) -> None:
        self.state = LifecycleState()
        self.index = 0
        self.ts = T0

    def entry(self, event: str, subjects: list[str], fields: dict[str, Any]) -> Entry:
        ts = fields.pop("ts", None)
        self.ts = self.ts + 1000 if ts is None else ts
        return signed(event, self.index + 1, self.ts, subjects, **fields)

    def ok(self, event: str, subjects: list[str], **fields: Any) -> int:
        entry = self.entry(event, subjects, fields)
        self.state.check(entry, self.index)
        self.state.apply(entry, self.index)
        self.index += 1
        return self.index - 1

    def refused(self, event: str, subjects: list[str], **fields: Any) -> LifecycleError:
        entry = self.entry(event, subjects, fields)
        with pytest.raises(LifecycleError) as caught:
            self.state.check(entry, self.index)
        return caught.value

    def slaughter(self, farm: str, bird: str = "bird:0001", *outputs: str) -> int:
        made = list(outputs) or [f"carcass:{bird[5:]}"]
        refs = [ref(farm, bird)]
        return self.ok("slaughtered", [bird], plant="P", outputs=made, refs=refs)


@pytest.fixture
def plant() -> Log:
    return Log()


# -- keys -----------------------------------------------------------------------

_ORIGIN_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "+")
_ID_CHARS = string.ascii_letters + string.digits + "._-"


@given(
    st.text(_ORIGIN_CHARS, min_size=1, max_size=40),
    st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
    st.text(_ID_CHARS, min_size=1, max_size=12).filter(lambda s: s[0] not in "._-"),
)
def test_a_foreign_key_splits_back_into_its_log_and_subject(
    origin: str, kind: str, ident: str
) -> None:
    subject = f"{kind}:{ident}"
    LogReference(origin, 0, "ab" * 32, 1, "cd" * 32, subject)  # both valid as references
    key = foreign_key(origin, subject)
    assert split_foreign(key) == (origin, subject)
    assert split_foreign(subject) == (None, subject)


def test_a_foreign_key_reads_as_origin_bar_subject() -> None:
    assert foreign_key(FARM_A, "bird:0001") == "farm-a.example/log|bird:0001"
    assert split_foreign("we|ird:8080/log|bird:0001") == ("we|ird:8080/log", "bird:0001")
    assert split_foreign("bird:0001") == (None, "bird:0001")


# -- seeding and the rules ------------------------------------------------------------


def test_the_plant_slaughters_a_farms_bird_once(plant: Log) -> None:
    first = plant.slaughter(FARM_A)
    state = plant.state.status(A1)
    assert state is not None and (state.created, state.slaughtered) == (first, first)
    assert plant.state.status("bird:0001") is None, "the bird is farm A's, not the plant's"
    error = plant.refused(
        "slaughtered",
        ["bird:0001"],
        plant="P",
        outputs=["carcass:x"],
        refs=[ref(FARM_A, "bird:0001", 5)],
    )
    assert str(error) == (f"slaughtered: bird:0001 of {FARM_A} was slaughtered in entry {first}")
    assert (error.subject, error.index, error.existing_index) == ("bird:0001", 1, first)


def test_two_farms_birds_of_one_name_are_two_birds(plant: Log) -> None:
    a = plant.slaughter(FARM_A, "bird:0001", "carcass:a1")
    b = plant.slaughter(FARM_B, "bird:0001", "carcass:b1")
    assert plant.state.status(A1).slaughtered == a  # type: ignore[union-attr]
    assert plant.state.status(B1).slaughtered == b  # type: ignore[union-attr]
    assert plant.state.keys_of("bird:0001") == (A1, B1)
    assert plant.state.status("carcass:a1").parents == (A1,)  # type: ignore[union-attr]
    assert plant.state.status("carcass:b1").parents == (B1,)  # type: ignore[union-attr]


def test_a_subject_without_a_ref_means_the_one_log_that_introduced_it(plant: Log) -> None:
    plant.ok("inspected", ["bird:0001"], result="pass", refs=[ref(FARM_A, "bird:0001")])
    done = plant.ok("slaughtered", ["bird:0001"], plant="P", outputs=["carcass:0001"])
    assert plant.state.status(A1).slaughtered == done  # type: ignore[union-attr]
    assert plant.state.status("bird:0001") is None
    error = plant.refused("slaughtered", ["bird:0001"], plant="P", outputs=["carcass:2"])
    assert str(error) == f"slaughtered: bird:0001 of {FARM_A} was slaughtered in entry {done}"


def test_a_subject_known_from_two_logs_must_be_named_with_a_ref(plant: Log) -> None:
    plant.slaughter(FARM_A, "bird:0001", "carcass:a1")
    plant.slaughter(FARM_B, "bird:0001", "carcass:b1")
    error = plant.refused("recalled", ["bird:0001"], reason="Salmonella")
    assert str(error) == (
        f"recalled: bird:0001 is known from 2 logs ({FARM_A}, {FARM_B}); name it with a ref"
    )
    assert error.subject == "bird:0001" and error.existing_index is None
    recall = plant.ok(
        "recalled", ["bird:0001"], reason="Salmonella", refs=[ref(FARM_B, "bird:0001")]
    )
    assert plant.state.status(B1).recalled == recall  # type: ignore[union-attr]
    assert plant.state.status(A1).recalled is None  # type: ignore[union-attr]


def test_a_local_subject_and_a_foreign_one_of_one_name_are_ambiguous_without_a_ref() -> None:
    farm = Log()
    farm.ok("hatched", ["bird:0001"], breed="Ross 308")
    farm.ok("placed", ["bird:0001"], barn="b1", refs=[ref("hatchery.example/log", "bird:0001")])
    error = farm.refused("vaccinated", ["bird:0001"], vaccine="ND")
    assert "bird:0001 is known from 2 logs (this log, hatchery.example/log)" in str(error)


def test_one_subject_named_by_references_to_two_logs_is_refused(plant: Log) -> None:
    refs = [ref(FARM_A, "bird:0001"), ref(FARM_B, "bird:0001")]
    error = plant.refused(
        "slaughtered", ["bird:0001"], plant="P", outputs=["carcass:c1"], refs=refs
    )
    assert str(error) == (
        f"slaughtered: bird:0001 is named by references to 2 logs ({FARM_A}, {FARM_B}); "
        "a subject's references name one log"
    )
    two_entries_one_log = [ref(FARM_A, "bird:0001", 3), ref(FARM_A, "bird:0001", 4)]
    plant.ok(
        "slaughtered", ["bird:0001"], plant="P", outputs=["carcass:c1"], refs=two_entries_one_log
    )


def test_check_seeds_nothing(plant: Log) -> None:
    entry = signed(
        "slaughtered",
        1,
        T0,
        ["bird:0001"],
        plant="P",
        outputs=["carcass:1"],
        refs=[ref(FARM_A, "bird:0001")],
    )
    plant.state.check(entry, 0)
    assert list(plant.state.subjects()) == [] and plant.state.keys_of("bird:0001") == ()


def test_the_plant_packs_carcasses_it_produced_from_a_foreign_bird(plant: Log) -> None:
    plant.slaughter(FARM_A, "bird:0001", "carcass:a1", "cut:a1")
    packed = plant.ok("packed", ["carcass:a1", "cut:a1"], gtin=GTIN, serial="S1")
    pack = plant.state.status(PACK)
    assert pack is not None and (pack.created, pack.parents) == (packed, ("carcass:a1", "cut:a1"))
    error = plant.refused("packed", ["carcass:a1"], gtin=GTIN, serial="S2")
    assert str(error).endswith(f"carcass:a1 was already packed in entry {packed}")


def test_a_plant_packs_carcasses_another_log_slaughtered_once(plant: Log) -> None:
    refs = [ref(PLANT, "carcass:9")]
    packed = plant.ok("packed", ["carcass:9"], gtin=GTIN, lot="L1", refs=refs)
    key = foreign_key(PLANT, "carcass:9")
    assert plant.state.status(LOT).parents == (key,)  # type: ignore[union-attr]
    error = plant.refused("packed", ["carcass:9"], gtin=GTIN, serial="S1", refs=refs)
    assert str(error).endswith(f"carcass:9 of {PLANT} was already packed in entry {packed}")
    plant.ok("packed", ["bird:0001"], gtin=GTIN, serial="S1", refs=[ref(PLANT, "bird:0001")])


def test_a_new_carcass_may_not_take_the_name_of_one_another_log_made(plant: Log) -> None:
    plant.ok("packed", ["carcass:9"], gtin=GTIN, lot="L1", refs=[ref(PLANT, "carcass:9")])
    error = plant.refused(
        "slaughtered",
        ["bird:0001"],
        plant="P",
        outputs=["carcass:9"],
        refs=[ref(FARM_A, "bird:0001")],
    )
    assert str(error) == f"slaughtered: carcass:9 of {PLANT} already exists: produced by entry 0"


def test_a_distributor_receives_ships_and_cannot_receive_twice() -> None:
    dc = Log()
    got = dc.ok("received", [PACK], location="DC", refs=[ref(PLANT, PACK)])
    key = foreign_key(PLANT, PACK)
    state = dc.state.status(key)
    assert state is not None and (state.shipped, state.received) == (None, got)
    assert "is not in transit: it was received in entry 0" in str(
        dc.refused("received", [PACK], location="DC")
    )
    sent = dc.ok("shipped", [PACK], destination="shop")
    error = dc.refused("shipped", [PACK], destination="shop 2")
    assert str(error) == (
        f"shipped: {PACK} of {PLANT} is already in transit: shipped in entry {sent}, "
        "not yet received"
    )


def test_a_shop_ships_on_what_another_log_packed() -> None:
    shop = Log()
    shop.ok("shipped", [PACK], destination="branch", refs=[ref(PLANT, PACK)])
    shop.ok("received", [PACK], location="branch")
    assert shop.state.status(foreign_key(PLANT, PACK)).received == 1  # type: ignore[union-attr]


def test_a_recall_of_a_foreign_bird_reaches_the_packs_made_from_it(plant: Log) -> None:
    plant.slaughter(FARM_A, "bird:0001", "carcass:a1")
    plant.slaughter(FARM_B, "bird:0001", "carcass:b1")
    plant.ok("packed", ["carcass:a1"], gtin=GTIN, serial="S1")
    plant.ok("packed", ["carcass:b1"], gtin=GTIN, lot="L1")
    recall = plant.ok("recalled", ["bird:0001"], reason="feed", refs=[ref(FARM_A, "bird:0001")])
    assert plant.state.recalled_through(PACK) == (A1, recall)
    assert plant.state.recalled_through(LOT) is None, "farm B's bird:0001 was not recalled"
    error = plant.refused("shipped", [PACK], destination="DC")
    assert str(error) == (
        f"shipped: {PACK} was recalled in entry {recall} (through bird:0001 of {FARM_A})"
    )
    plant.ok("shipped", [LOT], destination="DC")


def test_a_recall_following_another_logs_recall_stops_shipping(plant: Log) -> None:
    dc = Log()
    dc.ok("received", [LOT], location="DC", refs=[ref(PLANT, LOT)])
    recall = dc.ok("recalled", [LOT], reason="plant recall", refs=[ref(PLANT, LOT, 9)])
    assert dc.state.recalled_through(LOT) is None, "plain lot: not this log's"
    assert dc.state.recalled_through(foreign_key(PLANT, LOT)) == (foreign_key(PLANT, LOT), recall)
    error = dc.refused("shipped", [LOT], destination="shop")
    assert str(error) == f"shipped: {LOT} of {PLANT} was recalled in entry {recall}"


def test_no_time_travel_for_a_foreign_subject(plant: Log) -> None:
    plant.ok("inspected", ["bird:0001"], result="pass", refs=[ref(FARM_A, "bird:0001")], ts=T0)
    error = plant.refused(
        "slaughtered", ["bird:0001"], plant="P", outputs=["carcass:c1"], ts=T0 - 1
    )
    assert f"bird:0001 of {FARM_A} has a later event: ts {T0 - 1} precedes ts {T0}" in str(error)


def test_a_withdrawal_on_a_foreign_bird_is_a_breach_at_its_slaughter(plant: Log) -> None:
    treated = plant.ok(
        "treated",
        ["bird:0001"],
        medicine="Amoxicillin",
        withdrawal_days=5,
        refs=[ref(FARM_A, "bird:0001")],
    )
    entry = plant.entry(
        "slaughtered",
        ["bird:0001"],
        {"plant": "P", "outputs": ["carcass:c1"], "refs": [ref(FARM_A, "bird:0001")]},
    )
    breach = plant.state.withdrawal_breach(entry, plant.index)
    assert breach is not None and (breach.subject, breach.treated_index) == (A1, treated)
    assert breach.describe().startswith(f"slaughtered: bird:0001 of {FARM_A} was slaughtered")
    other = plant.entry(
        "slaughtered",
        ["bird:0001"],
        {"plant": "P", "outputs": ["carcass:c1"], "refs": [ref(FARM_B, "bird:0001")]},
    )
    assert plant.state.withdrawal_breach(other, plant.index) is None


def test_apply_records_an_ambiguous_event_without_raising(plant: Log) -> None:
    plant.slaughter(FARM_A, "bird:0001", "carcass:a1")
    plant.slaughter(FARM_B, "bird:0001", "carcass:b1")
    bad = signed("recalled", 9, plant.ts + 1, ["bird:0001"], reason="x")
    plant.state.apply(bad, 2)
    assert plant.state.status("bird:0001").recalled == 2  # type: ignore[union-attr]
    assert plant.state.keys_of("bird:0001") == ("bird:0001", A1, B1)


# -- state_for judges as the whole replay does, with references ------------------------

BIRDS = ["bird:1", "bird:2"]
LOGS = [FARM_A, FARM_B]
_Event = tuple[str, list[str], dict[str, object]]


def _maybe_ref(draw: st.DrawFn, event: str, subjects: list[str]) -> dict[str, object]:
    if event in ("hatched", "moved", "died") or not draw(st.booleans()):
        return {}
    subject = draw(st.sampled_from(subjects))
    return {"refs": [ref(draw(st.sampled_from(LOGS)), subject, draw(st.integers(0, 3)))]}


@st.composite
def events(draw: st.DrawFn) -> _Event:
    kind = draw(
        st.sampled_from(
            [
                *("hatched", "placed", "inspected", "slaughtered"),
                *("packed", "shipped", "received", "recalled"),
            ]
        )
    )
    carcasses = ["carcass:1", "carcass:2"]
    goods = [PACK, LOT]
    if kind in ("hatched", "placed", "inspected"):
        subjects = draw(st.lists(st.sampled_from(BIRDS), min_size=1, max_size=2, unique=True))
        member = {"hatched": ("breed", "Ross 308"), "placed": ("barn", "b1")}.get(kind)
        fields: dict[str, object] = dict([member or ("result", "pass")])
    elif kind == "slaughtered":
        subjects = [draw(st.sampled_from(BIRDS))]
        fields = {"plant": "P", "outputs": [draw(st.sampled_from(carcasses))]}
    elif kind == "packed":
        subjects = draw(
            st.lists(st.sampled_from(BIRDS + carcasses), min_size=1, max_size=2, unique=True)
        )
        fields = draw(
            st.sampled_from([{"gtin": GTIN, "serial": "S1"}, {"gtin": GTIN, "lot": "L1"}])
        )
    elif kind == "recalled":
        subjects = [draw(st.sampled_from(BIRDS + carcasses + goods))]
        fields = {"reason": "test"}
    else:
        subjects = draw(st.lists(st.sampled_from(goods), min_size=1, max_size=2, unique=True))
        fields = {"destination": "DC"} if kind == "shipped" else {"location": "DC"}
    return kind, subjects, fields | _maybe_ref(draw, kind, subjects)


class MemorySource:
    """The first entries of a log, held in memory, indexed as the store indexes them."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries
        self.subjects = [entry_subjects(e) for e in entries]

    def subject_events(self, subject: str) -> list[int]:
        return [i for i, subjects in enumerate(self.subjects) if subject in subjects]

    def event_indexes(self) -> list[int]:
        return list(range(len(self.entries)))

    def entry(self, index: int) -> bytes:
        return self.entries[index].raw


def verdict(state: LifecycleState, entry: Entry, index: int) -> str | None:
    try:
        state.check(entry, index)
    except LifecycleError as exc:
        return str(exc)
    return None


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), min_size=1, max_size=14))
def test_state_for_judges_events_with_refs_as_the_whole_replay_does(story: list[_Event]) -> None:
    entries = [signed(e, seq, T0 + seq, s, **f) for seq, (e, s, f) in enumerate(story, start=1)]
    full = LifecycleState()
    for index, entry in enumerate(entries):
        partial = state_for(MemorySource(entries[:index]), entry_subjects(entry))
        assert verdict(partial, entry, index) == verdict(full, entry, index)
        full.apply(entry, index)
    source = MemorySource(entries)
    for key in full.subjects():
        assert state_for(source, [key]).status(key) == full.status(key)
        assert key in full.keys_of(split_foreign(key)[1])


def test_events_without_refs_keep_plain_keys() -> None:
    log = Log()
    log.ok("hatched", ["bird:1"], breed="Ross 308")
    log.ok("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"])
    assert list(log.state.subjects()) == ["bird:1", "carcass:1"]
    assert log.state.keys_of("bird:1") == ("bird:1",)
