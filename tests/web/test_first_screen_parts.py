# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""The pack page's first-screen parts, alone: facts, journey, farm-local times, phrases."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chain.errors import MalformedError
from consumer_web import create_app
from consumer_web._aggregate import DAY_MS, HOUR_MS, Bucket
from consumer_web._facts import bird_facts
from consumer_web._journey import JOURNEY_WIDTH, journey_of
from consumer_web._localtime import farm_zone, format_local, offset_label
from consumer_web._story import (
    BirdStory,
    Chart,
    DeviceCompleteness,
    EventRow,
    Identity,
    Stay,
    Verification,
)
from consumer_web._summaries import badge_claim, subjects_summary

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BIRD = "bird:0001"


def row(
    index: int, ts: int, event: str, signer: str, subjects: tuple[str, ...], **fields: str
) -> EventRow:
    return EventRow(index, 0, ts, event, signer, signer.title(), subjects, tuple(fields.items()))


def bucket(start_ms: int, low: float, high: float) -> Bucket:
    return Bucket(start_ms, 6, low, (low + high) / 2, high, 0.0, 1, 2)


def story(
    timeline: tuple[EventRow, ...], charts: tuple[Chart, ...], stays: tuple[Stay, ...]
) -> BirdStory:
    ident = Identity(
        "0001", "Ross 308", "Hatchery", None, "farm-1", ("b1",), T0, None, None, None, None, ()
    )
    verification = Verification(0, len(timeline), 1, 1, 1, "key", True, (), 0)
    device = DeviceCompleteness("t1", ("temperature",), 1, 10, 10, 0, ())
    return BirdStory(ident, timeline, stays, charts, (), (device,), verification)


TIMELINE = (
    row(1, T0, "hatched", "hatchery", (BIRD,), hatchery="Sunrise"),
    row(2, T0 + HOUR_MS, "vaccinated", "hatchery", (BIRD, "bird:0002"), vaccine="Marek"),
    row(3, T0 + DAY_MS, "placed", "farmer", (BIRD,), barn="b1"),
    row(4, T0 + 2 * DAY_MS, "inspected", "vet", ("barn:b1",), result="pass"),
    row(5, T0 + 3 * DAY_MS, "inspected", "vet", ("barn:b2",), result="fail"),  # not its barn
    row(6, T0 + 4 * DAY_MS, "inspected", "vet", ("barn:b1",), result="fail"),
    row(7, T0 + 5 * DAY_MS, "slaughtered", "plant", (BIRD,), plant="Riverside"),
    row(8, T0 + 6 * DAY_MS, "received", "dc", ("pack:09506000134352.S1",), location="DC"),
    row(9, T0 + 7 * DAY_MS, "received", "shop", ("pack:09506000134352.S1",), location="Shop 12"),
)
STAYS = (Stay("b1", T0 + DAY_MS, T0 + 5 * DAY_MS, 3, 7),)


def test_facts_count_days_band_hours_feed_vaccines_checks_and_parties() -> None:
    limits = tuple((T0 + d * DAY_MS, 20.0, 30.0) for d in range(6))
    hours = [bucket(T0 + DAY_MS + h * HOUR_MS, 21.0, 29.0) for h in range(10)]
    hours[3] = bucket(hours[3].start_ms, 21.0, 30.5)  # one reading above the band
    hours[7] = bucket(hours[7].start_ms, 19.9, 25.0)  # one below
    temperature = Chart("temperature", "barn:b1", "Cel", HOUR_MS, tuple(hours), limits=limits)
    days = [T0 + d * DAY_MS for d in (1, 2, 3, 4)]  # the whole days of the stay
    feed = Chart("feed", "barn:b1", "kg", DAY_MS, totals=tuple((d, 50.0) for d in days))
    water = Chart("water", "barn:b1", "l", DAY_MS, totals=tuple((d, 90.0) for d in days[:3]))
    facts = bird_facts(story(TIMELINE, (temperature, feed, water), STAYS))
    assert facts.farm == "Farmer"  # the placing operator's registered name
    assert facts.days_on_farm == 4
    assert (facts.band_hours, facts.climate_hours, facts.band_percent) == (8, 10, 80)
    assert (facts.fed_days, facts.farm_days, facts.fed_every_day) == (3, 4, False)
    assert [v.vaccine for v in facts.vaccinations] == ["Marek"]
    assert (facts.inspections, facts.failed_inspections) == (2, 1)
    assert [p.signer for p in facts.parties] == ["hatchery", "farmer", "vet", "plant", "dc", "shop"]
    assert [p.index for p in facts.parties] == [1, 3, 4, 7, 8, 9]
    assert facts.sensors == 1 and not facts.recalled


def test_facts_say_nothing_rather_than_guess_without_readings() -> None:
    facts = bird_facts(story(TIMELINE, (), STAYS))
    assert facts.band_percent is None  # no temperature hour: no share
    assert facts.fed_every_day is None  # no feeder, no water meter: not measured, not "no"
    facts = bird_facts(story(TIMELINE, (), ()))
    assert facts.days_on_farm is None and facts.fed_every_day is None


def test_the_journey_names_receipts_by_the_receivers_role() -> None:
    roles = {"dc": frozenset({"distributor"}), "shop": frozenset({"retailer"})}
    journey = journey_of(TIMELINE, lambda kid: roles.get(kid, frozenset()), "Green Valley")
    stages = [(s.stage, s.place) for s in journey.stops]
    assert stages == [
        ("hatchery", "Sunrise"),
        ("farm", "Green Valley"),
        ("plant", "Riverside"),
        ("distributor", "DC"),
        ("shop", "Shop 12"),
    ]
    xs = [s.x for s in journey.stops]
    assert xs == sorted(xs) and xs[0] > 0 and xs[-1] < JOURNEY_WIDTH
    unknown = journey_of(TIMELINE, lambda kid: frozenset())
    assert [s.stage for s in unknown.stops][-2:] == ["distributor", "distributor"]
    assert journey_of((), lambda kid: frozenset()).stops == ()


@pytest.mark.parametrize(
    ("zone", "when", "label"),
    [
        ("Europe/Amsterdam", datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "UTC+1"),
        ("Europe/Amsterdam", datetime(2026, 7, 3, 12, 0, tzinfo=UTC), "UTC+2"),
        ("Asia/Kolkata", datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "UTC+5:30"),
        ("America/St_Johns", datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "UTC-3:30"),
        ("UTC", datetime(2026, 1, 3, 12, 0, tzinfo=UTC), "UTC"),
    ],
)
def test_offsets_are_the_ones_in_force_then(zone: str, when: datetime, label: str) -> None:
    assert offset_label(when.astimezone(ZoneInfo(zone))) == label


def test_times_read_in_the_farms_zone_and_the_pages_language() -> None:
    ms = int(datetime(2026, 1, 3, 13, 5, tzinfo=UTC).timestamp() * 1000)
    shanghai = farm_zone("Asia/Shanghai")
    assert format_local(ms, shanghai, "en") == "Jan 3, 2026 21:05 (UTC+8)"
    assert format_local(ms, shanghai, "zh-CN") == "2026年1月3日 21:05 (UTC+8)"
    assert format_local(ms, shanghai, "zh-CN", short=True) == "1月3日"
    assert format_local(None, shanghai, "en") == ""
    assert format_local(2**62, shanghai, "en") == f"{2**62} ms"


def test_an_unknown_farm_zone_is_refused_at_start() -> None:
    with pytest.raises(MalformedError, match="Mars/Olympus"):
        farm_zone("Mars/Olympus")
    with pytest.raises(MalformedError, match="IANA time zone"):
        create_app({"FARM_TZ": "../etc/passwd", "SITE_DATA": object()})


def test_phrases_name_few_subjects_and_count_many() -> None:
    assert subjects_summary("en", ["barn:b2", "pack:09506000134352.S0001"]) == (
        "barn b2, pack S0001"
    )
    many = [f"bird:{n:04d}" for n in range(40)] + ["lot:09506000134352.L1"]
    assert subjects_summary("en", many) == "40 birds, 1 lot"
    assert subjects_summary("zh-CN", many) == "40 只鸡、1 个批次"
    assert badge_claim("en", 1, 0, 0) == "signed by 1 party"
    assert badge_claim("en", 6, 5, 2) == (
        "signed by 6 parties and 5 sensors, vouched for by 2 independent witnesses"
    )
    assert badge_claim("zh-CN", 6, 5, 2) == "由 6 方和 5 个传感器签名，并有 2 个独立见证方作证"
