"""Feeder hopper weight (kg): falls as the flock eats, jumps back at each refill.

Daily feed intake per bird follows the shape of the Aviagen *Ross 308 Broiler
Performance Objectives* (about 12 g/day at placement rising to about 205 g/day
at six weeks; some 5 kg eaten per bird by day 42). Birds eat while the lights
are on (:mod:`firmware_sim.models.daycycle`), so the hopper falls by day and
stays level at night. When the level falls below ``refill_below_kg`` the
auger fills it to ``capacity_kg``. The load cell reads with a little noise.
Unit: SenML ``kg`` (RFC 8428).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_sim.models._common import check_time, interpolate
from firmware_sim.models.daycycle import DayCycle, age_days

__all__ = ["FEED_INTAKE_G", "Feeder", "FeederConfig", "daily_feed_kg", "flock_feed_kg"]

FEED_INTAKE_G: tuple[tuple[float, float], ...] = (
    (0, 12.0),
    (7, 38.0),
    (14, 85.0),
    (21, 130.0),
    (28, 170.0),
    (35, 190.0),
    (42, 205.0),
)
"""Feed eaten per bird per day (g) by flock age (days), interpolated and clamped."""


def daily_feed_kg(age: float) -> float:
    """Feed one bird ``age`` days old eats per day (kg); 0 before placement."""
    return 0.0 if age < 0 else interpolate(FEED_INTAKE_G, age) / 1000


def flock_feed_kg(birds: int, placed_ms: int, day: DayCycle, start_ms: int, end_ms: int) -> float:
    """Feed ``birds`` birds eat in [``start_ms``, ``end_ms``): a day's ration spread over its light.

    Precondition: ``start_ms <= end_ms``.
    """
    light = day.light_ms(start_ms, end_ms)
    if light == 0:
        return 0.0
    age = age_days((start_ms + end_ms) // 2, placed_ms)
    return birds * daily_feed_kg(age) * light / day.light_ms_per_day


@dataclass(frozen=True, slots=True)
class FeederConfig:
    """One feeder: the ``birds`` that eat from it and its hopper.

    Raises:
        ValueError: no birds, or a refill threshold not below capacity.
    """

    placed_ms: int
    birds: int
    day: DayCycle = field(default_factory=DayCycle)
    capacity_kg: float = 400.0
    refill_below_kg: float = 40.0
    appetite_jitter: float = 0.1
    noise_kg: float = 0.1

    def __post_init__(self) -> None:
        if self.birds < 1:
            raise ValueError(f"birds: expected >= 1, found {self.birds}")
        if not 0 <= self.refill_below_kg < self.capacity_kg:
            raise ValueError(
                f"refill_below_kg: expected in [0, capacity_kg={self.capacity_kg}), "
                f"found {self.refill_below_kg}"
            )


class Feeder:
    """A feeder hopper, full at ``start_ms``; call :meth:`step` with non-decreasing times."""

    def __init__(self, config: FeederConfig, start_ms: int) -> None:
        self.config = config
        self.level_kg = config.capacity_kg
        self._last_ms = start_ms

    def step(self, ts_ms: int, rng: random.Random) -> float:
        """Advance to ``ts_ms`` (eat, refill if low) and read the load cell (kg, 0.01 kg).

        Raises:
            ValueError: ``ts_ms`` is earlier than the previous step.
        """
        cfg = self.config
        check_time(self._last_ms, ts_ms)
        eaten = flock_feed_kg(cfg.birds, cfg.placed_ms, cfg.day, self._last_ms, ts_ms)
        self._last_ms = ts_ms
        jitter = 1 + rng.uniform(-cfg.appetite_jitter, cfg.appetite_jitter)
        self.level_kg = max(0.0, self.level_kg - eaten * jitter)
        if self.level_kg < cfg.refill_below_kg:
            self.level_kg = cfg.capacity_kg
        return round(max(0.0, self.level_kg + rng.gauss(0.0, cfg.noise_kg)), 2)
