"""The barn models behave plausibly, deterministically, and refuse to run backwards."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from firmware_sim.models import (
    ActivityConfig,
    ActivityTag,
    BarnClimate,
    BirdWeight,
    ClimateConfig,
    DayCycle,
    Feeder,
    FeederConfig,
    GrowthConfig,
    WaterMeter,
    WaterMeterConfig,
)
from firmware_sim.models.activity import poisson
from firmware_sim.models.climate import setpoint_c
from firmware_sim.models.daycycle import DAY_MS, HOUR_MS, MINUTE_MS
from firmware_sim.models.feeder import daily_feed_kg, flock_feed_kg
from firmware_sim.models.growth import gompertz_kg

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a midnight
DAY = DayCycle()  # lights 04:00-22:00 UTC, warmest at 15:00


def _times(first_day: float, days: float, step_ms: int) -> list[int]:
    first = START + int(first_day * DAY_MS)
    return list(range(first + step_ms, first + int(days * DAY_MS), step_ms))


# --- day cycle --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "on"), [(0, False), (3.99, False), (4, True), (12, True), (21.99, True), (22, False)]
)
def test_lights_follow_the_programme(hour: float, on: bool) -> None:
    assert DAY.lights_on(START + int(hour * HOUR_MS)) is on


def test_light_ms_counts_eighteen_hours_a_day_across_any_window() -> None:
    assert DAY.light_ms_per_day == 18 * HOUR_MS
    assert DAY.light_ms(START, START + 3 * DAY_MS) == 54 * HOUR_MS
    assert DAY.light_ms(START + 21 * HOUR_MS, START + 29 * HOUR_MS) == 2 * HOUR_MS
    assert DAY.light_ms(START + 5 * HOUR_MS, START + 5 * HOUR_MS) == 0
    assert DAY.light_ms(START + 5 * HOUR_MS, START) == 0


def test_a_light_period_may_wrap_midnight_and_follow_the_utc_offset() -> None:
    wrapped = DayCycle(lights_on_hour=20, lights_off_hour=14)
    assert wrapped.lights_on(START + 23 * HOUR_MS) and wrapped.lights_on(START + HOUR_MS)
    assert not wrapped.lights_on(START + 15 * HOUR_MS)
    assert wrapped.light_ms_per_day == 18 * HOUR_MS
    shifted = DayCycle(utc_offset_min=120)  # local 04:00 is 02:00 UTC
    assert shifted.lights_on(START + 2 * HOUR_MS) and not DAY.lights_on(START + 2 * HOUR_MS)
    assert shifted.light_ms(START, START + DAY_MS) == 18 * HOUR_MS


def test_diurnal_peaks_at_the_warmest_hour_and_bottoms_twelve_hours_later() -> None:
    assert DAY.diurnal(START + 15 * HOUR_MS) == pytest.approx(1.0)
    assert DAY.diurnal(START + 3 * HOUR_MS) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"lights_on_hour": 24}, {"lights_off_hour": -1}, {"lights_on_hour": 6, "lights_off_hour": 6}],
)
def test_day_cycle_rejects_impossible_hours(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="hour"):
        DayCycle(**kwargs)  # type: ignore[arg-type]


# --- climate ----------------------------------------------------------------


def _climate_series(
    config: ClimateConfig, times: list[int], seed: int = 1
) -> list[tuple[int, float, float]]:
    climate, rng = BarnClimate(config, times[0] - 1), random.Random(seed)
    return [(ts, (s := climate.step(ts, rng)).temperature, s.humidity) for ts in times]


def test_night_is_cooler_and_more_humid_than_afternoon() -> None:
    series = _climate_series(ClimateConfig(START), _times(10, 3, 5 * MINUTE_MS))
    afternoon = [(t, h) for ts, t, h in series if 13 <= DAY.local_hour(ts) < 17]
    night = [(t, h) for ts, t, h in series if 1 <= DAY.local_hour(ts) < 5]
    assert statistics.mean(t for t, _ in afternoon) > statistics.mean(t for t, _ in night) + 2.0
    assert statistics.mean(h for _, h in afternoon) < statistics.mean(h for _, h in night) - 4.0


@pytest.mark.parametrize(("day", "expected"), [(0.5, 32.0), (21, 24.5), (41.5, 21.0)])
def test_temperature_tracks_the_age_setpoint_from_32_to_21(day: float, expected: float) -> None:
    series = _climate_series(ClimateConfig(START), _times(day - 0.5, 1, 10 * MINUTE_MS))
    assert statistics.mean(t for _, t, _ in series) == pytest.approx(expected, abs=0.8)
    assert setpoint_c(0) == 32.0 and setpoint_c(42) == 21.0 and setpoint_c(99) == 21.0


def test_ventilation_failure_raises_temperature_and_humidity_then_recovers() -> None:
    fail_start, fail_end = START + 20 * DAY_MS + 10 * HOUR_MS, START + 20 * DAY_MS + 14 * HOUR_MS
    times = _times(19.5, 1.5, 5 * MINUTE_MS)
    normal = _climate_series(ClimateConfig(START), times)
    failed = _climate_series(ClimateConfig(START, failures=((fail_start, fail_end),)), times)
    for (ts, t0, h0), (_, t1, h1) in zip(normal, failed, strict=True):
        if ts < fail_start:
            assert (t1, h1) == (t0, h0)
        elif fail_start + 2 * HOUR_MS <= ts < fail_end:
            assert t1 > t0 + 5 and h1 > h0 + 10
        elif ts >= fail_end + 6 * HOUR_MS:
            assert abs(t1 - t0) < 0.1 and abs(h1 - h0) < 0.3
    assert max(h for _, _, h in failed) <= 99.5


def test_climate_is_deterministic_per_seed_and_refuses_to_go_back() -> None:
    times = _times(3, 0.5, 5 * MINUTE_MS)
    assert _climate_series(ClimateConfig(START), times) == _climate_series(
        ClimateConfig(START), times
    )
    assert _climate_series(ClimateConfig(START), times, 2) != _climate_series(
        ClimateConfig(START), times
    )
    climate = BarnClimate(ClimateConfig(START), START)
    climate.step(START + HOUR_MS, random.Random(0))
    with pytest.raises(ValueError, match="step forward"):
        climate.step(START + HOUR_MS - 1, random.Random(0))
    with pytest.raises(ValueError, match="start <= end"):
        ClimateConfig(START, failures=((START + 1, START),))


# --- feeder and water -------------------------------------------------------


def _feeder_series(
    config: FeederConfig, times: list[int], seed: int = 1
) -> list[tuple[int, float]]:
    feeder, rng = Feeder(config, times[0] - 5 * MINUTE_MS), random.Random(seed)
    return [(ts, feeder.step(ts, rng)) for ts in times]


def test_feeder_drops_by_day_holds_at_night_and_jumps_at_refills() -> None:
    config = FeederConfig(START, birds=5000)
    series = _feeder_series(config, _times(30, 3, 5 * MINUTE_MS))
    steps = [(ts, b - a) for (_, a), (ts, b) in itertools.pairwise(series)]
    refills = [d for _, d in steps if d > 0.5]
    assert len(refills) >= 6  # ~850 kg a day from a 400 kg hopper
    assert all(d > config.capacity_kg - config.refill_below_kg - 30 for d in refills)
    for ts, delta in steps:
        if not DAY.lights_on(ts - 1) and not DAY.lights_on(ts - 5 * MINUTE_MS):
            assert abs(delta) < 1.0  # birds rest: only load-cell noise
    eating = [d for ts, d in steps if DAY.lights_on(ts - 5 * MINUTE_MS) and d <= 0.5]
    assert statistics.mean(eating) < -2.0
    assert min(v for _, v in series) >= 0


def test_feed_eaten_scales_with_flock_size_and_age_and_only_in_light() -> None:
    day_of = lambda d: (START + d * DAY_MS, START + (d + 1) * DAY_MS)  # noqa: E731
    assert flock_feed_kg(2000, START, DAY, *day_of(30)) == pytest.approx(
        2 * flock_feed_kg(1000, START, DAY, *day_of(30))
    )
    assert flock_feed_kg(1000, START, DAY, *day_of(30)) == pytest.approx(
        1000 * daily_feed_kg(30.5), rel=0.01
    )
    assert daily_feed_kg(35) > daily_feed_kg(21) > daily_feed_kg(7) > daily_feed_kg(0) > 0
    assert daily_feed_kg(-1) == 0
    assert flock_feed_kg(1000, START, DAY, START + 23 * HOUR_MS, START + 27 * HOUR_MS) == 0
    total = sum(flock_feed_kg(1, START, DAY, *day_of(d)) for d in range(42))
    assert 4.6 < total < 5.4  # kg per bird to day 42: FCR ~1.7 at ~2.9 kg


def test_feeder_config_rejects_a_threshold_at_or_above_capacity() -> None:
    with pytest.raises(ValueError, match="refill_below_kg"):
        FeederConfig(START, birds=10, capacity_kg=50, refill_below_kg=50)
    with pytest.raises(ValueError, match="birds"):
        FeederConfig(START, birds=0)


def test_water_meter_counts_up_at_about_1_8_times_the_feed() -> None:
    meter, rng = WaterMeter(WaterMeterConfig(START, birds=1000), START), random.Random(4)
    times = _times(0, 42, 30 * MINUTE_MS)
    values = [meter.step(ts, rng) for ts in times]
    assert all(b >= a for a, b in itertools.pairwise(values))
    feed = sum(
        flock_feed_kg(1000, START, DAY, a, b) for a, b in itertools.pairwise([START, *times])
    )
    assert values[-1] == pytest.approx(1.8 * feed, rel=0.03)
    with pytest.raises(ValueError, match="water_per_feed"):
        WaterMeterConfig(START, birds=1, water_per_feed=0)


# --- birds ------------------------------------------------------------------


def test_activity_is_low_at_night_and_follows_vigour() -> None:
    def counts(vigour: float) -> list[tuple[int, int]]:
        tag, rng = ActivityTag(ActivityConfig(START, vigour=vigour), START), random.Random(9)
        return [(ts, tag.step(ts, rng)) for ts in _times(0, 7, 15 * MINUTE_MS)]

    series = counts(1.0)
    day = [c for ts, c in series if DAY.lights_on(ts - 1) and DAY.lights_on(ts - 15 * MINUTE_MS)]
    night = [
        c
        for ts, c in series
        if not DAY.lights_on(ts - 1) and not DAY.lights_on(ts - 15 * MINUTE_MS)
    ]
    assert statistics.mean(night) < 0.2 * statistics.mean(day)
    assert all(c >= 0 and isinstance(c, int) for _, c in series)
    assert sum(c for _, c in counts(1.5)) > 1.5 * sum(c for _, c in counts(0.7))


def test_activity_declines_as_birds_grow_heavy() -> None:
    tag = ActivityTag(ActivityConfig(START), START)
    assert tag.expected(START + 40 * DAY_MS, START + 41 * DAY_MS) < 0.6 * tag.expected(
        START, START + DAY_MS
    )


@pytest.mark.parametrize("mean", [0.5, 4.0, 25.0, 400.0])
def test_poisson_draws_have_the_requested_mean(mean: float) -> None:
    rng = random.Random(5)
    draws = [poisson(mean, rng) for _ in range(4000)]
    assert statistics.mean(draws) == pytest.approx(mean, rel=0.06, abs=0.05)
    assert statistics.variance(draws) == pytest.approx(mean, rel=0.15, abs=0.1)
    assert poisson(0, rng) == 0


def test_gompertz_curve_passes_through_its_anchors_and_only_rises() -> None:
    config = GrowthConfig(START)
    assert gompertz_kg(config, 0) == pytest.approx(0.042)
    assert gompertz_kg(config, 42) == pytest.approx(2.9)
    curve = [gompertz_kg(config, d / 4) for d in range(0, 4 * 60)]
    assert all(b > a for a, b in itertools.pairwise(curve))
    with pytest.raises(ValueError, match="hatch_kg"):
        GrowthConfig(START, target_kg=5.0)


# Ross 308 as-hatched objectives (Aviagen) are about 0.2, 1.0 and 3.0 kg at days
# 7, 21 and 42; the ranges allow for flock variation and other strains.
@pytest.mark.parametrize(("day", "low", "high"), [(7, 0.15, 0.25), (21, 0.85, 1.2), (42, 2.6, 3.3)])
def test_flock_weight_is_within_published_broiler_ranges(day: int, low: float, high: float) -> None:
    rng = random.Random(day)
    birds = [BirdWeight(GrowthConfig(START, size=rng.gauss(1.0, 0.08))) for _ in range(200)]
    weights = [b.step(START + day * DAY_MS, rng) for b in birds]
    assert low < statistics.mean(weights) < high
    assert statistics.stdev(weights) / statistics.mean(weights) < 0.15


def test_a_birds_weighings_rise_day_by_day_with_small_scale_noise() -> None:
    scale, rng = BirdWeight(GrowthConfig(START, size=1.05)), random.Random(2)
    daily = [
        statistics.mean(scale.step(START + d * DAY_MS + h * HOUR_MS, rng) for h in range(0, 24, 4))
        for d in range(42)
    ]
    assert all(b > a for a, b in itertools.pairwise(daily))
