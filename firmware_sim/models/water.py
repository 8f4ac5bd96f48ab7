"""Barn water meter: cumulative litres (SenML ``l``, RFC 8428).

Broilers drink about 1.6 to 2 times as much water as they eat feed, by mass
(Aviagen, *Ross Broiler Management Handbook*, water section); the default
ratio is 1.8. Water is drunk while the lights are on, alongside feed
(:func:`firmware_sim.models.feeder.flock_feed_kg`). The meter's count only
ever rises.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_sim.models._common import check_time
from firmware_sim.models.daycycle import DayCycle
from firmware_sim.models.feeder import flock_feed_kg

__all__ = ["WaterMeter", "WaterMeterConfig"]


@dataclass(frozen=True, slots=True)
class WaterMeterConfig:
    """A barn's water meter: the ``birds`` behind it and the water-to-feed ratio.

    Raises:
        ValueError: no birds, or a non-positive ratio.
    """

    placed_ms: int
    birds: int
    day: DayCycle = field(default_factory=DayCycle)
    water_per_feed: float = 1.8
    start_litres: float = 0.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.birds < 1:
            raise ValueError(f"birds: expected >= 1, found {self.birds}")
        if self.water_per_feed <= 0:
            raise ValueError(f"water_per_feed: expected > 0, found {self.water_per_feed}")


class WaterMeter:
    """A cumulative water meter; call :meth:`step` with non-decreasing times."""

    def __init__(self, config: WaterMeterConfig, start_ms: int) -> None:
        self.config = config
        self.litres = config.start_litres
        self._last_ms = start_ms

    def step(self, ts_ms: int, rng: random.Random) -> float:
        """Advance to ``ts_ms`` and read the meter (litres, 0.1 l resolution, never decreasing).

        Raises:
            ValueError: ``ts_ms`` is earlier than the previous step.
        """
        cfg = self.config
        check_time(self._last_ms, ts_ms)
        feed = flock_feed_kg(cfg.birds, cfg.placed_ms, cfg.day, self._last_ms, ts_ms)
        self._last_ms = ts_ms
        self.litres += feed * cfg.water_per_feed * (1 + rng.uniform(-cfg.jitter, cfg.jitter))
        return round(self.litres, 1)
