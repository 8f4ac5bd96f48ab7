"""The simulated farm: its devices, reading order, determinism, signing, scenarios, clock."""

from __future__ import annotations

import collections
import itertools
import random
import re
from pathlib import Path

import pytest

from chain.entries import parse_entry, verify_entry
from chain.jws import ID_PATTERN
from firmware_sim.farm import (
    UNITS,
    AcceleratedClock,
    FarmConfig,
    SimReading,
    SimulatedFarm,
    VentilationFailure,
)
from firmware_sim.models.daycycle import DAY_MS, HOUR_MS, MINUTE_MS
from signer.identity import DeviceIdentity

START = FarmConfig().start_ms
TINY = FarmConfig(farm_id="tiny", barns=1, tagged_birds=3, birds_per_barn=100)


def _run(config: FarmConfig, seed: int, start: int, end: int) -> list[SimReading]:
    return list(SimulatedFarm(config, random.Random(seed)).readings(start, end))


def test_the_demo_farm_has_eight_environment_sensors_and_a_hundred_tagged_birds() -> None:
    farm = SimulatedFarm(FarmConfig(), random.Random(1))
    ids = [d.id for d in farm.devices]
    barn = ["b1-temp", "b1-hum", "b1-feeder1", "b1-water"]
    assert ids[:8] == barn + [i.replace("b1", "b2") for i in barn]
    assert ids[8:] == [f"bird-{n:04d}" for n in range(1, 101)]
    assert all(re.fullmatch(ID_PATTERN, i) for i in ids)
    specs = {d.id: d for d in farm.devices}
    assert specs["b2-feeder1"].subject == "feeder:b2-feeder1"
    assert specs["b1-water"].subject == "barn:b1" and specs["b1-water"].kinds == ("water",)
    assert specs["bird-0002"].subject == "bird:0002" and specs["bird-0002"].barn == "b2"
    assert specs["bird-0002"].kinds == ("activity", "weight")


def test_more_sensors_feeders_and_birds_get_their_own_ids() -> None:
    config = FarmConfig(barns=1, climate_sensors_per_barn=2, feeders_per_barn=2, tagged_birds=10000)
    ids = [d.id for d in SimulatedFarm(config, random.Random(1)).devices]
    assert ids[:6] == ["b1-temp", "b1-hum", "b1-temp2", "b1-hum2", "b1-feeder1", "b1-feeder2"]
    assert ids[7] == "bird-00001" and ids[-1] == "bird-10000" and len(set(ids)) == len(ids)


def test_readings_come_in_time_order_within_the_window_at_each_devices_rate() -> None:
    end = START + 2 * DAY_MS
    readings = _run(FarmConfig(), 1, START, end)
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(readings))
    assert all(START <= r.ts < end for r in readings)
    per_kind = collections.Counter(r.kind for r in readings)
    env = 2 * 2 * 288  # two days, two barns, every 5 minutes
    assert per_kind == {
        "temperature": env,
        "humidity": env,
        "feed": env,
        "water": env,
        "activity": 100 * 2 * 96,
        "weight": 100 * 2 * 6,
    }
    assert all(r.unit == UNITS[r.kind] for r in readings)


def test_the_same_seed_gives_the_same_farm_and_another_seed_another() -> None:
    end = START + DAY_MS
    assert _run(TINY, 7, START, end) == _run(TINY, 7, START, end)
    assert _run(TINY, 7, START, end) != _run(TINY, 8, START, end)


def test_windows_join_seamlessly_and_never_go_back() -> None:
    whole = _run(TINY, 3, START, START + 2 * DAY_MS)
    farm = SimulatedFarm(TINY, random.Random(3))
    first = list(farm.readings(START, START + DAY_MS + 1234))
    second = list(farm.readings(START + DAY_MS + 1234, START + 2 * DAY_MS))
    assert first + second == whole
    with pytest.raises(ValueError, match="no going back"):
        farm.readings(START + DAY_MS, START + 3 * DAY_MS)
    with pytest.raises(ValueError, match="end_ms"):
        farm.readings(START + 3 * DAY_MS, START + 2 * DAY_MS)


def test_every_reading_signs_and_parses_as_its_devices_next_entry(tmp_path: Path) -> None:
    farm = SimulatedFarm(TINY, random.Random(5))
    identities = {
        d.id: DeviceIdentity.open_or_create(tmp_path / d.id, d.id, reserve_block=1000)
        for d in farm.devices
    }
    seqs: dict[str, list[int]] = collections.defaultdict(list)
    try:
        for reading in farm.readings(START, START + DAY_MS):
            identity = identities[reading.device]
            raw = identity.sign_reading(
                reading.kind, reading.subject, reading.value, reading.unit, reading.ts
            )
            entry = parse_entry(raw)
            verify_entry(entry, identity.key.public_key)
            payload = dict(entry.payload)
            assert payload.pop("seq") == identity.last_seq
            assert payload == {
                "type": "reading",
                "dev": reading.device,
                "ts": reading.ts,
                "kind": reading.kind,
                "subject": reading.subject,
                "value": reading.value,
                "unit": reading.unit,
            }
            seqs[reading.device].append(entry.seq)
    finally:
        for identity in identities.values():
            identity.close()
    assert set(seqs) == {d.id for d in farm.devices}
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values())


def test_a_ventilation_failure_heats_only_its_barn_and_only_while_it_lasts() -> None:
    config = FarmConfig(barns=2, tagged_birds=0)
    window = (START + 10 * DAY_MS + 11 * HOUR_MS, START + 10 * DAY_MS + 15 * HOUR_MS)
    failing = FarmConfig(barns=2, tagged_birds=0, scenarios=(VentilationFailure("b1", *window),))
    span = (START + 10 * DAY_MS, START + 11 * DAY_MS)
    normal, failed = _run(config, 2, *span), _run(failing, 2, *span)
    assert [r for r in normal if r.device.startswith("b2")] == [
        r for r in failed if r.device.startswith("b2")
    ]
    late = window[0] + 2 * HOUR_MS
    hot = [(a.value, b.value) for a, b in zip(normal, failed, strict=True) if a.device == "b1-temp"]
    times = [r.ts for r in normal if r.device == "b1-temp"]
    for ts, (before, after) in zip(times, hot, strict=True):
        if late <= ts < window[1]:
            assert after > before + 5
        elif ts < window[0]:
            assert after == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"farm_id": "my farm"}, "farm_id"),
        ({"barns": 0}, "barns"),
        ({"feeders_per_barn": 0}, "feeders_per_barn"),
        ({"tagged_birds": -1}, "tagged_birds"),
        ({"env_interval_ms": 999}, "env_interval_ms"),
        ({"scenarios": (VentilationFailure("b3", START, START + HOUR_MS),)}, "b3"),
        ({"birds_per_barn": 1, "feeders_per_barn": 2}, "birds_per_barn"),
    ],
)
def test_farm_config_rejects_what_cannot_be_simulated(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FarmConfig(**kwargs)  # type: ignore[arg-type]


def test_the_flock_may_be_placed_before_the_simulation_starts() -> None:
    config = FarmConfig(barns=1, tagged_birds=1, placed_ms=START - 40 * DAY_MS)
    weights = [r.value for r in _run(config, 1, START, START + DAY_MS) if r.kind == "weight"]
    assert all(2.2 < w < 3.8 for w in weights)


def test_the_accelerated_clock_runs_simulated_time_at_its_speed() -> None:
    now = [100.0]
    clock = AcceleratedClock(START, 3600, monotonic=lambda: now[0])
    assert clock.now_ms() == START
    now[0] += 1.5
    assert clock.now_ms() == START + 90 * MINUTE_MS
    assert clock.seconds_until(START + 2 * HOUR_MS) == pytest.approx(0.5)
    assert clock.seconds_until(START) == 0
    with pytest.raises(ValueError, match="speed"):
        AcceleratedClock(START, 0)
