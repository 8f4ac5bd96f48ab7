"""The lifecycle rules, one by one: what each event needs of the log before it."""

from __future__ import annotations

from typing import Any

import pytest

from chain.entries import Entry, event_payload, parse_entry, reading_payload, sign_entry
from chain.errors import LifecycleError, VerificationError
from chain.lifecycle import LifecycleState

T0 = 1_767_225_600_000
SEED = bytes([5]) * 32
GTIN = "09506000134352"
PACK = f"pack:{GTIN}.S1"


class Log:
    """A log of events being replayed: each accepted event is applied at the next index."""

    def __init__(self) -> None:
        self.state = LifecycleState()
        self.index = 0
        self.ts = T0

    def entry(self, event: str, subjects: list[str], ts: int | None, **fields: object) -> Entry:
        self.ts = self.ts + 1000 if ts is None else ts
        payload = event_payload(event, self.index + 1, self.ts, subjects, **fields)
        return parse_entry(sign_entry(payload, "op", SEED))

    def ok(self, event: str, subjects: list[str], ts: int | None = None, **fields: Any) -> int:
        entry = self.entry(event, subjects, ts, **fields)
        self.state.check(entry, self.index)
        self.state.apply(entry, self.index)
        self.index += 1
        return self.index - 1

    def refused(
        self, event: str, subjects: list[str], ts: int | None = None, **fields: Any
    ) -> LifecycleError:
        entry = self.entry(event, subjects, ts, **fields)
        with pytest.raises(LifecycleError) as caught:
            self.state.check(entry, self.index)
        return caught.value


@pytest.fixture
def log() -> Log:
    """bird:1 and bird:2 hatched (entry 0); bird:1 placed in b1 (entry 1)."""
    log = Log()
    log.ok("hatched", ["bird:1", "bird:2"], breed="Ross 308")
    log.ok("placed", ["bird:1"], barn="b1")
    return log


def slaughter(log: Log, bird: str = "bird:1", *outputs: str) -> int:
    return log.ok(
        "slaughtered", [bird], plant="P", outputs=list(outputs or [f"carcass:{bird[5:]}"])
    )


def test_an_error_names_event_entry_subject_and_the_earlier_entry(log: Log) -> None:
    error = log.refused("hatched", ["bird:3", "bird:1"], breed="Ross 308")
    assert str(error) == "hatched: bird:1 was already hatched in entry 0"
    assert (error.subject, error.event, error.index, error.existing_index) == (
        "bird:1",
        "hatched",
        2,
        0,
    )
    assert error.reason == "lifecycle_conflict" and isinstance(error, VerificationError)
    assert log.state.status("bird:3") is None, "check changes nothing"


def test_placed_needs_a_hatched_living_bird_not_yet_placed(log: Log) -> None:
    assert str(log.refused("placed", ["bird:9"], barn="b1")).endswith("bird:9 was never hatched")
    error = log.refused("placed", ["bird:1"], barn="b2")
    assert "bird:1 is already in barn b1 (entry 1); a change of barn is a moved event" in str(error)
    assert error.existing_index == 1
    died = log.ok("died", ["bird:2"], cause="heat stress")
    error = log.refused("placed", ["bird:2"], barn="b1")
    assert str(error).endswith(f"bird:2 was recorded dead in entry {died}")
    log.ok("hatched", ["bird:3"], breed="Ross 308")
    log.ok("placed", ["bird:3"], barn="b2")
    assert log.state.status("bird:3").barn == "b2"  # type: ignore[union-attr]


def test_a_slaughtered_bird_cannot_be_placed(log: Log) -> None:
    done = slaughter(log, "bird:2")
    error = log.refused("placed", ["bird:2"], barn="b1")
    assert str(error).endswith(f"bird:2 was slaughtered in entry {done}")


def test_moved_needs_a_placed_bird_and_another_barn(log: Log) -> None:
    error = log.refused("moved", ["bird:2"], barn="b2")
    assert str(error).endswith("bird:2 was never placed in a barn")
    error = log.refused("moved", ["bird:1"], barn="b1")
    assert str(error).endswith("bird:1 is in barn b1 (entry 1) already")
    error = log.refused("moved", ["bird:1"], barn="b2", from_barn="b3")
    assert str(error).endswith("bird:1 is in barn b1 (entry 1), not in from_barn b3")
    assert error.existing_index == 1
    moved = log.ok("moved", ["bird:1"], barn="b2", from_barn="b1")
    state = log.state.status("bird:1")
    assert state is not None and (state.barn, state.placed) == ("b2", moved)
    log.ok("moved", ["bird:1"], barn="b1")
    log.ok("died", ["bird:1"])
    assert "was recorded dead" in str(log.refused("moved", ["bird:1"], barn="b2"))


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ("vaccinated", {"vaccine": "ND"}),
        ("treated", {"medicine": "Amoxicillin", "withdrawal_days": 1}),
        ("died", {}),
        ("inspected", {"result": "pass"}),
    ],
)
def test_bird_care_needs_a_hatched_living_unslaughtered_bird(
    log: Log, event: str, fields: dict[str, Any]
) -> None:
    assert str(log.refused(event, ["bird:7"], **fields)).endswith("bird:7 was never hatched")
    first = log.ok(event, ["bird:1"], **fields)
    died = first if event == "died" else log.ok("died", ["bird:1"])
    error = log.refused(event, ["bird:1"], **fields)
    assert str(error) == f"{event}: bird:1 was recorded dead in entry {died}"
    done = slaughter(log, "bird:2")
    error = log.refused(event, ["bird:2"], **fields)
    assert str(error).endswith(f"bird:2 was slaughtered in entry {done}")


def test_inspecting_or_treating_a_barn_needs_nothing(log: Log) -> None:
    log.ok("inspected", ["barn:nowhere", "barn:b1"], result="fail", note="wet litter")
    log.ok("treated", ["barn:nowhere"], medicine="Amoxicillin", withdrawal_days=1)


def test_a_bird_cannot_be_slaughtered_twice_or_after_it_died(log: Log) -> None:
    first = slaughter(log, "bird:1")
    error = log.refused("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1b"])
    assert str(error).endswith(f"bird:1 was slaughtered in entry {first}")
    assert error.existing_index == first
    died = log.ok("died", ["bird:2"])
    error = log.refused("slaughtered", ["bird:2"], plant="P", outputs=["carcass:2"])
    assert str(error).endswith(f"bird:2 was recorded dead in entry {died}")
    error = log.refused("slaughtered", ["bird:5"], plant="P", outputs=["carcass:5"])
    assert str(error).endswith("bird:5 was never hatched")


def test_slaughter_outputs_must_be_new(log: Log) -> None:
    first = slaughter(log, "bird:1", "carcass:1", "cut:1-leg")
    error = log.refused("slaughtered", ["bird:2"], plant="P", outputs=["cut:2", "cut:1-leg"])
    assert str(error).endswith(f"cut:1-leg already exists: produced by entry {first}")
    state = log.state.status("carcass:1")
    assert state is not None and (state.created, state.parents) == (first, ("bird:1",))


def test_packing_needs_slaughter_outputs_or_slaughtered_birds(log: Log) -> None:
    error = log.refused("packed", ["carcass:7"], gtin=GTIN, serial="S1")
    assert str(error) == "packed: carcass:7 was never produced by a slaughtered event"
    assert error.existing_index is None
    assert str(log.refused("packed", ["bird:2"], gtin=GTIN, serial="S1")).endswith(
        "bird:2 was never slaughtered"
    )
    assert str(log.refused("packed", ["bird:8"], gtin=GTIN, lot="L1")).endswith(
        "bird:8 was never hatched"
    )
    slaughter(log, "bird:1")
    slaughter(log, "bird:2")
    packed = log.ok("packed", ["carcass:1"], gtin=GTIN, serial="S1")
    assert log.state.status(PACK).parents == ("carcass:1",)  # type: ignore[union-attr]
    error = log.refused("packed", ["carcass:1"], gtin=GTIN, serial="S2")
    assert str(error).endswith(f"carcass:1 was already packed in entry {packed}")
    error = log.refused("packed", ["carcass:2"], gtin=GTIN, serial="S1")
    assert str(error).endswith(f"{PACK} already exists: packed by entry {packed}")
    log.ok("packed", ["bird:2"], gtin=GTIN, lot="L1")  # a slaughtered bird, packed whole
    error = log.refused("packed", ["bird:2"], gtin=GTIN, lot="L2")
    assert "bird:2 was already packed" in str(error)


def packed_goods(log: Log) -> None:
    slaughter(log, "bird:1")
    slaughter(log, "bird:2")
    log.ok("packed", ["carcass:1"], gtin=GTIN, serial="S1")
    log.ok("packed", ["carcass:2"], gtin=GTIN, lot="L1")


def test_shipping_needs_a_pack_not_in_transit(log: Log) -> None:
    error = log.refused("shipped", [f"pack:{GTIN}.S9"], destination="DC")
    assert str(error).endswith(f"pack:{GTIN}.S9 was never packed")
    packed_goods(log)
    shipped = log.ok("shipped", [PACK, f"lot:{GTIN}.L1"], destination="DC")
    error = log.refused("shipped", [PACK], destination="shop")
    assert str(error).endswith(
        f"{PACK} is already in transit: shipped in entry {shipped}, not yet received"
    )
    log.ok("received", [PACK], location="DC")
    log.ok("shipped", [PACK], destination="shop")


def test_received_needs_a_pack_in_transit(log: Log) -> None:
    packed_goods(log)
    error = log.refused("received", [PACK], location="DC")
    assert str(error).endswith(f"{PACK} is not in transit: it was never shipped")
    error = log.refused("received", [f"pack:{GTIN}.S7"], location="DC")
    assert str(error).endswith("was never packed")
    log.ok("shipped", [PACK], destination="DC")
    received = log.ok("received", [PACK], location="DC")
    error = log.refused("received", [PACK], location="DC")
    assert str(error).endswith(f"is not in transit: it was received in entry {received}")


def test_a_recalled_pack_is_not_shipped_nor_one_whose_bird_was_recalled(log: Log) -> None:
    packed_goods(log)
    recall = log.ok("recalled", [PACK], reason="cold chain break")
    error = log.refused("shipped", [PACK], destination="DC")
    assert str(error).endswith(f"{PACK} was recalled in entry {recall}")
    recall = log.ok("recalled", ["bird:2"], reason="residue found")
    error = log.refused("shipped", [f"lot:{GTIN}.L1"], destination="DC")
    assert str(error).endswith(f"was recalled in entry {recall} (through bird:2)")
    assert log.state.recalled_through(f"lot:{GTIN}.L1") == ("bird:2", recall)


def test_a_recall_names_something_that_exists(log: Log) -> None:
    error = log.refused("recalled", ["bird:9"], reason="x")
    assert str(error).endswith("bird:9 is not a known bird: no event created it")
    error = log.refused("recalled", ["barn:b2"], reason="x")
    assert str(error).endswith("barn:b2 is not a known barn: no bird was ever placed in it")
    error = log.refused("recalled", ["feeder:f1"], reason="x")
    assert str(error).endswith(
        "feeder:f1 cannot be recalled: expected a bird, carcass, cut, pack, lot or barn"
    )
    log.ok("recalled", ["barn:b1", "bird:2"], reason="avian influenza nearby")
    assert log.state.status("barn:b1").recalled == 2  # type: ignore[union-attr]


def test_no_event_precedes_the_latest_event_of_an_item_it_names(log: Log) -> None:
    vaccinated = log.ok("vaccinated", ["bird:1"], ts=T0 + 50_000, vaccine="ND")
    error = log.refused("vaccinated", ["bird:2", "bird:1"], ts=T0 + 49_999, vaccine="IB")
    assert str(error) == (
        f"vaccinated: bird:1 has a later event: ts {T0 + 49_999} "
        f"precedes ts {T0 + 50_000} of entry {vaccinated} (no time travel)"
    )
    assert error.existing_index == vaccinated
    log.ok("vaccinated", ["bird:1"], ts=T0 + 50_000, vaccine="IB")  # the same ts is fine
    log.ok("inspected", ["barn:b1"], ts=T0 + 60_000, result="pass")
    log.ok("inspected", ["barn:b1"], ts=T0 + 55_000, result="pass")  # barns are places


def test_entries_other_than_events_always_pass(log: Log) -> None:
    reading = parse_entry(
        sign_entry(reading_payload("d", 1, T0, "weight", "bird:9", 2.1, "kg"), "d", SEED)
    )
    log.state.check(reading, 5)
    log.state.apply(reading, 5)
    assert log.state.status("bird:9") is None


def test_apply_records_even_what_check_refuses(log: Log) -> None:
    bad = log.entry("packed", ["carcass:7"], None, gtin=GTIN, serial="S1")
    log.state.apply(bad, 2)
    pack = log.state.status(PACK)
    assert pack is not None and pack.created == 2
    later = log.entry("packed", ["carcass:7"], None, gtin=GTIN, serial="S2")
    with pytest.raises(LifecycleError, match="carcass:7 was never produced"):
        log.state.check(later, 3)


def test_from_entries_checks_unless_told_the_log_is_trusted(log: Log) -> None:
    entries = [
        (0, log.entry("hatched", ["bird:1"], None, breed="Ross 308")),
        (1, log.entry("hatched", ["bird:1"], None, breed="Ross 308")),
    ]
    with pytest.raises(LifecycleError, match="already hatched in entry 0"):
        LifecycleState.from_entries(entries)
    state = LifecycleState.from_entries(entries, check=False)
    assert state.status("bird:1") is not None and list(state.subjects()) == ["bird:1"]
