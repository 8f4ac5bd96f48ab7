"""The lifecycle JSON API, checked figure by figure against a brute-force reading of the log."""

from __future__ import annotations

import pytest
from conftest import StoryLog
from flask.testing import FlaskClient
from story_reference import DAY, FOREVER, Reference

from chain.entries import parse_entry


@pytest.fixture(scope="module")
def reference(story: StoryLog) -> Reference:
    return Reference(story.store)


def _birds(story: StoryLog) -> list[str]:
    """A bird of every kind: packed alone, moved, in the lot, recalled, still on the farm."""
    m = story.manifest
    moved = [b for b in m.birds if len(m.stays[b]) > 1]
    on_farm = [b for b in m.birds if b not in {p.bird for p in m.packs} | set(m.lots[0].birds)]
    recalled = [p.bird for p in m.packs if p.recalled]
    return sorted({m.packs[0].bird, moved[0], m.lots[0].birds[0], recalled[0], on_farm[-1]})


def _lifecycle(client: FlaskClient, bird: str) -> dict:
    response = client.get(f"/api/v1/birds/{bird}/lifecycle")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _windows(story: dict, barn: str) -> list[tuple[int, int]]:
    return [
        (s["start_ms"], FOREVER if s["end_ms"] is None else s["end_ms"])
        for s in story["stays"]
        if s["barn"] == barn
    ]


def test_stays_and_identity_match_the_events(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    m = story.manifest
    for bird in _birds(story):
        body = _lifecycle(client, bird)
        stays = [(s["barn"], s["start_ms"], s["end_ms"] or FOREVER) for s in body["stays"]]
        assert stays == reference.stays(bird)
        expected = [(s.barn, s.start_ms) for s in m.stays[bird]]
        assert [(b, start) for b, start, _ in stays] == expected
        identity = body["identity"]
        assert identity["breed"] == "Ross 308"
        assert identity["hatch_ms"] == reference.hatch(bird)
        assert identity["farm"] == "story-farm"
        assert identity["barns"] == list(dict.fromkeys(s.barn for s in m.stays[bird]))
    packed = m.packs[0]
    identity = _lifecycle(client, packed.bird)["identity"]
    assert [(p["gtin"], p["serial"], p["weight_g"]) for p in identity["packs"]] == [
        (packed.gtin, packed.serial, packed.weight_g)
    ]
    assert identity["packs"][0]["path"] == packed.link.path
    assert identity["plant"] == "Riverside Processing Plant"


def test_hourly_climate_is_the_readings_inside_the_stays(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    checked = 0
    for bird in _birds(story):
        body = _lifecycle(client, bird)
        charts = {(c["kind"], c["subject"]): c for c in body["charts"]}
        for barn in {s["barn"] for s in body["stays"]}:
            windows = _windows(body, barn)
            for kind in ("temperature", "humidity"):
                chart = charts[(kind, f"barn:{barn}")]
                assert chart["bucket_ms"] == 3_600_000
                want = reference.hourly(f"barn:{barn}", kind, windows)
                got = {
                    b["start_ms"]: (b["count"], b["min"], b["mean"], b["max"])
                    for b in chart["buckets"]
                }
                assert got.keys() == want.keys()
                for hour, (count, low, mean, high) in want.items():
                    assert got[hour][0] == count
                    assert got[hour][1] == low and got[hour][3] == high
                    assert got[hour][2] == pytest.approx(mean)
                for bucket in chart["buckets"][:: max(1, len(chart["buckets"]) // 10)]:
                    for side in ("min", "max"):
                        entry = parse_entry(story.store.entry(bucket[f"{side}_index"]))
                        assert entry.payload["kind"] == kind
                        assert entry.payload["subject"] == f"barn:{barn}"
                        assert entry.payload["value"] == bucket[side]
                        assert bucket["start_ms"] <= entry.ts < bucket["start_ms"] + 3_600_000
                checked += len(want)
    assert checked > 100


def test_a_stay_starts_and_ends_inside_its_boundary_hours(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    moved = next(b for b in story.manifest.birds if len(story.manifest.stays[b]) > 1)
    body = _lifecycle(client, moved)
    first = body["stays"][0]
    chart = next(c for c in body["charts"] if c["kind"] == "temperature")
    last_hour = max(b["start_ms"] for b in chart["buckets"])
    # The move happens at hh:00 + 10 h: the last bucket is the hour before it.
    assert last_hour < first["end_ms"] <= last_hour + 3_600_000
    all_readings = reference.series(chart["subject"], "temperature")
    assert any(r.ts >= first["end_ms"] for r in all_readings)  # there was more to leave out


def test_feed_and_water_per_day(client: FlaskClient, story: StoryLog, reference: Reference) -> None:
    located = {d.id: d.location for d in story.manifest.devices}
    for bird in _birds(story):
        body = _lifecycle(client, bird)
        charts = {(c["kind"], c["subject"]): c for c in body["charts"]}
        for barn in {s["barn"] for s in body["stays"]}:
            windows = _windows(body, barn)
            feeders = [
                r
                for r in reference.readings
                if r.kind == "feed" and located.get(r.dev) == f"barn:{barn}"
            ]
            by_dev: dict[int, float] = {}
            for dev in sorted({r.dev for r in feeders}):
                mine = sorted((r for r in feeders if r.dev == dev), key=lambda r: (r.ts, r.index))
                for day, amount in reference.daily_use(mine, windows, falling=True).items():
                    by_dev[day] = by_dev.get(day, 0.0) + amount
            got = {t["start_ms"]: t["amount"] for t in charts[("feed", f"barn:{barn}")]["totals"]}
            assert got == pytest.approx(by_dev)
            assert all(day % DAY == 0 for day in got)
            water = reference.series(f"barn:{barn}", "water")
            want = reference.daily_use(water, windows, falling=False)
            got = {t["start_ms"]: t["amount"] for t in charts[("water", f"barn:{barn}")]["totals"]}
            assert got == pytest.approx(want)
            assert sum(got.values()) > 0


def test_the_birds_own_activity_and_weight(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    bird = story.manifest.packs[0].bird
    body = _lifecycle(client, bird)
    charts = {c["kind"]: c for c in body["charts"] if c["subject"] == f"bird:{bird}"}
    activity = reference.hourly(f"bird:{bird}", "activity", [(0, FOREVER)], DAY)
    totals = {t["start_ms"]: t["amount"] for t in charts["activity"]["totals"]}
    assert totals == pytest.approx({d: count * mean for d, (count, _, mean, _) in activity.items()})
    weight = reference.hourly(f"bird:{bird}", "weight", [(0, FOREVER)], DAY)
    got = {b["start_ms"]: (b["count"], b["min"], b["max"]) for b in charts["weight"]["buckets"]}
    assert got == {d: (c, lo, hi) for d, (c, lo, _, hi) in weight.items()}


def test_excursions_are_the_minutes_outside_the_limits(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    seen = 0
    for bird in _birds(story):
        body = _lifecycle(client, bird)
        hatch = body["identity"]["hatch_ms"]
        want = []
        for barn in sorted({s["barn"] for s in body["stays"]}):
            for kind in ("temperature", "humidity"):
                found = reference.excursions(f"barn:{barn}", kind, _windows(body, barn), hatch)
                want += [(f"barn:{barn}", kind, *x) for x in found]
        got = [
            (
                e["subject"],
                e["kind"],
                e["dev"],
                e["direction"],
                e["start_ms"],
                e["end_ms"],
                e["duration_ms"],
                e["readings"],
                e["peak"],
                e["peak_index"],
            )
            for e in body["excursions"]
        ]
        assert sorted(got) == sorted(want)
        seen += len(got)
    assert seen > 0  # the ventilation failure in b1 is one


def test_the_ventilation_failure_is_an_excursion_above(
    client: FlaskClient, story: StoryLog
) -> None:
    failure = story.manifest.excursions[0]
    in_b1 = next(b for b in story.manifest.birds if story.manifest.stays[b][0].barn == "b1")
    body = _lifecycle(client, in_b1)
    heat = [
        e
        for e in body["excursions"]
        if e["kind"] == "temperature" and e["direction"] == "above" and e["subject"] == "barn:b1"
    ]
    assert heat, body["excursions"]
    worst = max(heat, key=lambda e: e["duration_ms"])
    assert failure.start_ms <= worst["start_ms"] < failure.end_ms
    assert worst["minutes"] >= 60
    assert worst["peak"] > worst["limit"]


def test_completeness_and_verification_counts(
    client: FlaskClient, story: StoryLog, reference: Reference
) -> None:
    bird = story.manifest.packs[0].bird
    body = _lifecycle(client, bird)
    devices = {c["dev"] for c in body["completeness"]}
    barn = story.manifest.stays[bird][0].barn
    assert devices == {
        d.id for d in story.manifest.devices if d.location in (f"barn:{barn}", f"bird:{bird}")
    }
    for c in body["completeness"]:
        assert c["missing"] == 0 and c["gaps"] == []
        assert c["received"] == c["last_seq"] - c["first_seq"] + 1
    verification = body["verification"]
    assert verification["log_signature_ok"] is True
    assert verification["witnesses"] == []
    assert verification["checkpoint_size"] == story.store.size
    assert verification["events"] == len(body["timeline"])
    windows = _windows(body, barn)
    used = [
        r
        for r in reference.readings
        if (r.subject == f"barn:{barn}" or r.dev.startswith(f"{barn}-feeder"))
        and any(s <= r.ts < e for s, e in windows)
    ]
    used += [r for r in reference.readings if r.subject == f"bird:{bird}"]
    assert verification["readings"] == len(used)
    heights = {story.store.block_of_entry(r.index) for r in used}
    heights |= {row["block"] for row in body["timeline"]}
    assert verification["blocks"] == len(heights)
    assert body["checkpoint"] == {"size": story.store.size, "entry_count": reference.cutoff}


def test_the_timeline_tells_the_whole_story(client: FlaskClient, story: StoryLog) -> None:
    pack = next(p for p in story.manifest.packs if p.recalled)
    body = _lifecycle(client, pack.bird)
    events = [row["event"] for row in body["timeline"]]
    for event in ("hatched", "vaccinated", "placed", "inspected", "slaughtered", "packed"):
        assert event in events
    assert events.count("shipped") == 2 and events.count("received") == 2
    assert events[-1] == "recalled" and body["recalled"] is True
    assert [row["ts"] for row in body["timeline"]] == sorted(row["ts"] for row in body["timeline"])
    for row in body["timeline"]:
        assert parse_entry(story.store.entry(row["index"])).ts == row["ts"]
    assert _lifecycle(client, story.manifest.packs[0].bird)["recalled"] is False


@pytest.mark.parametrize("bird", ["nope", "-bad", "a" * 65, "<script>"])
def test_unknown_birds_are_json_404s(client: FlaskClient, bird: str) -> None:
    response = client.get(f"/api/v1/birds/{bird}/lifecycle")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert "error" in response.get_json()
