"""A simulated broiler farm: its devices, and their readings in timestamp order.

A farm has barns ``b1``, ``b2`` ... Each barn has a temperature and a
humidity sensor (``b1-temp``, ``b1-hum``; more pairs are ``b1-temp2`` ...),
feeders (``b1-feeder1`` ...) and a water meter (``b1-water``). Tagged birds
(``bird-0001`` ...) are spread over the barns, each tag reporting activity
and live weight. Subjects are ``barn:<id>``, ``feeder:<id>`` and
``bird:<id>`` and units are the SenML units of design.md section 2; each
value comes from a model in :mod:`firmware_sim.models`.

:meth:`SimulatedFarm.readings` yields readings (fields only, unsigned; see
:mod:`signer.identity` and :mod:`signer.device` for signing and
keeping them) between two times, as fast as they can be computed, so weeks
of history take seconds. :class:`AcceleratedClock` maps a real monotonic
clock onto simulated time for live runs at a chosen speed.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chain.errors import MalformedError
from chain.jws import check_id
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
from firmware_sim.models.daycycle import HOUR_MS, MINUTE_MS

__all__ = [
    "UNITS",
    "AcceleratedClock",
    "DeviceSpec",
    "FarmConfig",
    "SimReading",
    "SimulatedFarm",
    "VentilationFailure",
]

UNITS = {
    "temperature": "Cel",
    "humidity": "%RH",
    "feed": "kg",
    "water": "l",
    "activity": "count",
    "weight": "kg",
}
"""The SenML unit each simulated kind is reported in."""


@dataclass(frozen=True, slots=True)
class VentilationFailure:
    """A scenario: barn ``barn`` (e.g. ``"b1"``) loses ventilation in [start_ms, end_ms)."""

    barn: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class FarmConfig:
    """The shape and sampling rates of a simulated farm. Defaults: the demo farm.

    The flock (``birds_per_barn``) eats and drinks; ``tagged_birds`` of them
    wear tags. The flock is placed at ``placed_ms`` (default ``start_ms``).

    Raises:
        ValueError: a count or interval out of range, an id that is not an
            MQTT-safe id, or a scenario for a barn that does not exist.
    """

    farm_id: str = "demo-farm"
    barns: int = 2
    climate_sensors_per_barn: int = 1
    feeders_per_barn: int = 1
    birds_per_barn: int = 5000
    tagged_birds: int = 100
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    placed_ms: int | None = None
    env_interval_ms: int = 5 * MINUTE_MS
    activity_interval_ms: int = 15 * MINUTE_MS
    weight_interval_ms: int = 4 * HOUR_MS
    scenarios: tuple[VentilationFailure, ...] = ()
    day: DayCycle = field(default_factory=DayCycle)

    def __post_init__(self) -> None:
        try:
            check_id(self.farm_id, "farm_id")
        except MalformedError as exc:
            raise ValueError(str(exc)) from None
        counts = {"barns": self.barns, "climate_sensors_per_barn": self.climate_sensors_per_barn}
        counts |= {"feeders_per_barn": self.feeders_per_barn}
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name}: expected >= 1, found {value}")
        if self.birds_per_barn < self.feeders_per_barn:
            raise ValueError(f"birds_per_barn: expected >= feeders_per_barn, found {self}")
        if self.tagged_birds < 0:
            raise ValueError(f"tagged_birds: expected >= 0, found {self.tagged_birds}")
        for name in ("env_interval_ms", "activity_interval_ms", "weight_interval_ms"):
            if getattr(self, name) < 1000:
                raise ValueError(f"{name}: expected >= 1000 ms, found {getattr(self, name)}")
        barns = {f"b{b}" for b in range(1, self.barns + 1)}
        for scenario in self.scenarios:
            if scenario.barn not in barns:
                raise ValueError(f"scenarios: expected a barn in {sorted(barns)}, found {scenario}")

    @property
    def placement_ms(self) -> int:
        """When the flock was placed (age 0)."""
        return self.start_ms if self.placed_ms is None else self.placed_ms


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A simulated device: its id, its barn, and what it reports about which subject."""

    id: str
    barn: str
    kinds: tuple[str, ...]
    subject: str


@dataclass(frozen=True, slots=True)
class SimReading:
    """One reading's fields, as a device would sign them (see ``DeviceIdentity.sign_reading``)."""

    device: str
    ts: int
    kind: str
    subject: str
    value: float
    unit: str


@dataclass(slots=True)
class _Sampler:
    interval_ms: int
    next_ms: int
    emit: Callable[[int], list[SimReading]]


class SimulatedFarm:
    """The devices of a farm built from ``config``, all randomness drawn from ``rng``.

    The same config and seed give the same devices and the same readings.
    The models are stateful, so successive :meth:`readings` windows must not
    go back in time.
    """

    def __init__(self, config: FarmConfig, rng: random.Random) -> None:
        self.config = config
        self._specs: list[DeviceSpec] = []
        self._samplers: list[_Sampler] = []
        self._position = config.start_ms
        for b in range(1, config.barns + 1):
            self._add_barn(f"b{b}", rng)
        width = max(4, len(str(config.tagged_birds)))
        for i in range(1, config.tagged_birds + 1):
            self._add_bird(f"{i:0{width}d}", f"b{(i - 1) % config.barns + 1}", rng)

    @property
    def devices(self) -> tuple[DeviceSpec, ...]:
        """Every device, barn by barn then bird by bird (the tie-break order of readings)."""
        return tuple(self._specs)

    def readings(self, start_ms: int, end_ms: int) -> Iterator[SimReading]:
        """Every reading with ``start_ms <= ts < end_ms``, by ts (ties in device order).

        Devices sample every interval from their own phase after
        ``config.start_ms``. Consume the iterator fully: the window counts as
        simulated once this is called.

        Raises:
            ValueError: ``end_ms < start_ms``, or ``start_ms`` before the end of
                the previous window (or before ``config.start_ms``).
        """
        if end_ms < start_ms:
            raise ValueError(f"end_ms: expected >= start_ms={start_ms}, found {end_ms}")
        if start_ms < self._position:
            raise ValueError(
                f"start_ms: expected >= {self._position} (no going back), found {start_ms}"
            )
        self._position = end_ms
        return self._merge(start_ms, end_ms)

    def _merge(self, start_ms: int, end_ms: int) -> Iterator[SimReading]:
        heap: list[tuple[int, int]] = []
        for index, sampler in enumerate(self._samplers):
            if sampler.next_ms < start_ms:
                behind = -(-(start_ms - sampler.next_ms) // sampler.interval_ms)
                sampler.next_ms += behind * sampler.interval_ms
            if sampler.next_ms < end_ms:
                heap.append((sampler.next_ms, index))
        heapq.heapify(heap)
        while heap:
            ts, index = heap[0]
            sampler = self._samplers[index]
            yield from sampler.emit(ts)
            sampler.next_ms = ts + sampler.interval_ms
            if sampler.next_ms < end_ms:
                heapq.heapreplace(heap, (sampler.next_ms, index))
            else:
                heapq.heappop(heap)

    def _schedule(
        self,
        interval_ms: int,
        emit: Callable[[int], list[SimReading]],
        rng: random.Random,
        first_ms: int | None = None,
    ) -> None:
        first = self._first_sample(interval_ms, rng) if first_ms is None else first_ms
        self._samplers.append(_Sampler(interval_ms, first, emit))

    def _first_sample(self, interval_ms: int, rng: random.Random) -> int:
        # Each device has its own phase, so that devices do not all fire at once.
        return self.config.start_ms + rng.randrange(1, interval_ms + 1)

    def _add_barn(self, barn: str, rng: random.Random) -> None:
        cfg = self.config
        placed, start, day, env = cfg.placement_ms, cfg.start_ms, cfg.day, cfg.env_interval_ms
        failures = tuple((s.start_ms, s.end_ms) for s in cfg.scenarios if s.barn == barn)
        subject = f"barn:{barn}"
        for k in range(1, cfg.climate_sensors_per_barn + 1):
            suffix = "" if k == 1 else str(k)
            temp = DeviceSpec(f"{barn}-temp{suffix}", barn, ("temperature",), subject)
            hum = DeviceSpec(f"{barn}-hum{suffix}", barn, ("humidity",), subject)
            offset = rng.gauss(0, 0.3)
            climate = BarnClimate(
                ClimateConfig(placed, day, offset_c=offset, failures=failures), start
            )
            self._specs += [temp, hum]
            self._schedule(env, _climate_emitter(temp, hum, climate, _fork(rng)), rng)
        birds = cfg.birds_per_barn // cfg.feeders_per_barn
        for k in range(1, cfg.feeders_per_barn + 1):
            spec = DeviceSpec(f"{barn}-feeder{k}", barn, ("feed",), f"feeder:{barn}-feeder{k}")
            feeder = Feeder(FeederConfig(placed, birds, day), start)
            self._specs.append(spec)
            self._schedule(env, _emitter(spec, "feed", feeder.step, _fork(rng)), rng)
        spec = DeviceSpec(f"{barn}-water", barn, ("water",), subject)
        meter = WaterMeter(WaterMeterConfig(placed, cfg.birds_per_barn, day), start)
        self._specs.append(spec)
        self._schedule(env, _emitter(spec, "water", meter.step, _fork(rng)), rng)

    def _add_bird(self, number: str, barn: str, rng: random.Random) -> None:
        cfg = self.config
        spec = DeviceSpec(f"bird-{number}", barn, ("activity", "weight"), f"bird:{number}")
        vigour = rng.lognormvariate(0.0, 0.25)
        size = min(max(rng.gauss(1.0, 0.08), 0.75), 1.25)
        every = cfg.activity_interval_ms
        first = self._first_sample(every, rng)  # the first count covers a whole interval too
        tag = ActivityTag(ActivityConfig(cfg.placement_ms, cfg.day, vigour=vigour), first - every)
        scale = BirdWeight(GrowthConfig(cfg.placement_ms, size=size))
        self._specs.append(spec)
        self._schedule(every, _emitter(spec, "activity", tag.step, _fork(rng)), rng, first)
        self._schedule(
            cfg.weight_interval_ms, _emitter(spec, "weight", scale.step, _fork(rng)), rng
        )


def _fork(rng: random.Random) -> random.Random:
    return random.Random(rng.getrandbits(64))


def _emitter(
    spec: DeviceSpec, kind: str, step: Callable[[int, random.Random], float], rng: random.Random
) -> Callable[[int], list[SimReading]]:
    unit = UNITS[kind]

    def emit(ts: int) -> list[SimReading]:
        return [SimReading(spec.id, ts, kind, spec.subject, step(ts, rng), unit)]

    return emit


def _climate_emitter(
    temp: DeviceSpec, hum: DeviceSpec, climate: BarnClimate, rng: random.Random
) -> Callable[[int], list[SimReading]]:
    def emit(ts: int) -> list[SimReading]:
        sample = climate.step(ts, rng)
        return [
            SimReading(temp.id, ts, "temperature", temp.subject, sample.temperature, "Cel"),
            SimReading(hum.id, ts, "humidity", hum.subject, sample.humidity, "%RH"),
        ]

    return emit


class AcceleratedClock:
    """Simulated time running ``speed`` times faster than a real monotonic clock.

    ``now_ms()`` is ``start_ms`` when the clock is made. ``monotonic`` (seconds,
    like :func:`time.monotonic`, the default) is injectable for tests.

    Raises:
        ValueError: ``speed`` <= 0.
    """

    def __init__(
        self, start_ms: int, speed: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed: expected > 0, found {speed}")
        self.start_ms = start_ms
        self.speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now_ms(self) -> int:
        """The simulated time now (ms since the Unix epoch)."""
        return self.start_ms + int((self._monotonic() - self._origin) * 1000 * self.speed)

    def seconds_until(self, sim_ms: int) -> float:
        """Real seconds until the simulated clock reaches ``sim_ms`` (0 if it has)."""
        return max(0.0, (sim_ms - self.now_ms()) / (1000 * self.speed))
