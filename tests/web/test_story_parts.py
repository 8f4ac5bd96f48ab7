"""The pure parts of the lifecycle query: stays, buckets, limits, block counts, chart geometry."""

from __future__ import annotations

import random

import pytest

from consumer_web._aggregate import HOUR_MS, Bucket, bucket_stats, daily_consumption
from consumer_web._bird import stays_of
from consumer_web._charts import chart_view
from consumer_web._series import Series
from consumer_web._story import Chart, EventRow, Stay
from consumer_web._welfare import excursions, limits


def _row(index: int, ts: int, event: str, **fields: str) -> EventRow:
    return EventRow(index, 0, ts, event, "op", None, ("bird:b",), tuple(sorted(fields.items())))


def test_stays_open_at_placement_and_moves_and_close_at_the_end() -> None:
    rows = [
        _row(1, 10, "hatched", breed="x"),
        _row(2, 20, "placed", barn="b1"),
        _row(3, 25, "vaccinated", vaccine="v"),
        _row(4, 30, "moved", barn="b2", from_barn="b1"),
        _row(5, 40, "moved", barn="b1"),
        _row(6, 50, "died", cause="heat"),
        _row(7, 60, "inspected", result="pass"),
    ]
    assert stays_of(rows) == (
        Stay("b1", 20, 30, 2, 4),
        Stay("b2", 30, 40, 4, 5),
        Stay("b1", 40, 50, 5, 6),
    )
    assert stays_of(rows[:3]) == (Stay("b1", 20, None, 2, None),)
    assert stays_of([_row(1, 5, "slaughtered", plant="p")]) == ()


def _series(points: list[tuple[int, float]], kind: str = "temperature") -> Series:
    series = Series("barn:b1", kind, "d1", "Cel")
    for n, (ts, value) in enumerate(points):
        series.add(ts, value, 100 + n, n + 1)
    return series


def test_a_bucket_shared_by_two_windows_is_merged() -> None:
    series = _series([(m * 600_000, float(m)) for m in range(12)])  # every 10 min, 2 hours
    buckets = bucket_stats([series], [(0, 1_200_000), (3_000_000, 4_800_000)], HOUR_MS)
    # readings 0, 1 (first window) and 5 (second window) share hour 0; 6, 7 are in hour 1
    assert buckets == (
        Bucket(0, 3, 0.0, 2.0, 5.0, 6.0, 100, 105),
        Bucket(HOUR_MS, 2, 6.0, 6.5, 7.0, 13.0, 106, 107),
    )


def test_readings_arriving_out_of_order_are_sorted_in() -> None:
    rng = random.Random(5)
    points = [(rng.randrange(0, 10 * HOUR_MS), rng.uniform(-5, 5)) for _ in range(300)]
    series = Series("barn:b1", "temperature", "d1", "Cel")
    for n, (ts, value) in enumerate(points):
        series.add(ts, value, n, n + 1)
    assert list(series.ts) == sorted(ts for ts, _ in points)
    assert sorted(zip(series.ts, series.value, strict=True)) == sorted(points)


def test_consumption_counts_falls_of_a_hopper_and_rises_of_a_meter() -> None:
    hopper = _series([(0, 100.0), (1000, 90.0), (2000, 200.0), (3000, 150.0)], "feed")
    assert daily_consumption([hopper], [(0, 10_000)], falling=True) == ((0, 60.0),)
    assert daily_consumption([hopper], [(0, 10_000)], falling=False) == ((0, 110.0),)
    assert daily_consumption([hopper], [(1500, 10_000)], falling=True) == ((0, 50.0),)
    assert daily_consumption([hopper], [(2500, 10_000)], falling=True) == ()


def test_limits_follow_the_published_table() -> None:
    assert limits("temperature", 0) == (29.0, 35.0)  # 32 °C at placement
    assert limits("temperature", 7) == (26.0, 32.0)  # 29 °C at a week
    assert limits("temperature", 42) == (18.0, 24.0)  # 21 °C at six weeks
    assert limits("temperature", 100) == limits("temperature", 42)
    assert limits("temperature", -3) == limits("temperature", 0)
    low, high = limits("temperature", 3)
    assert high - low == 6.0 and low == pytest.approx(32.0 - 3 * 3 / 7 - 3, abs=0.01)
    assert limits("humidity", 20) == (40.0, 80.0)
    assert limits("activity", 20) is None


def test_an_excursion_holds_each_reading_until_the_next_at_most_half_an_hour() -> None:
    hot = 50.0
    minute = 60_000
    points = [(0, 30.0), (10 * minute, hot), (20 * minute, hot), (90 * minute, hot)]
    points += [(100 * minute, 30.0)]
    found = excursions(_series(points), [(0, 200 * minute)], hatch_ms=0)
    assert len(found) == 1
    run = found[0]
    assert (run.direction, run.start_ms, run.readings) == ("above", 10 * minute, 3)
    assert run.duration_ms == (10 + 30 + 10) * minute  # the silent hour counts 30 minutes
    assert run.end_ms == 100 * minute and run.peak == hot and run.peak_index == 101
    assert run.limit == 35.0


def test_chart_bands_break_where_buckets_are_missing() -> None:
    def bucket(hour: int) -> Bucket:
        return Bucket(hour * HOUR_MS, 1, 1.0, 2.0, 3.0, 2.0, hour, hour)

    chart = Chart("temperature", "barn:b1", "Cel", HOUR_MS, (bucket(0), bucket(1), bucket(5)))
    view = chart_view(chart)
    assert len(view.bands) == 2 and len(view.lines) == 2
    assert view.highest is not None and view.highest.value == 3.0
    totals = chart_view(
        Chart("feed", "barn:b1", "kg", 86_400_000, totals=((0, 5.0), (86_400_000, 0.0)))
    )
    assert len(totals.bars) == 2 and totals.bars[1][3] == 0.0
    assert chart_view(Chart("weight", "bird:x", "kg", 86_400_000)).bands == ()
