"""Per-bird activity tag: accelerometer activity counts per reporting interval.

A leg or back tag counts movement bouts and reports the count each interval
(SenML ``count``, RFC 8428). Broilers are active while the lights are on and
rest in the dark (:mod:`firmware_sim.models.daycycle`), and move less as they
grow heavy. Each bird has its own ``vigour``; counts are Poisson around the
expected rate, overdispersed by a per-interval bout factor.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from firmware_sim.models._common import check_time
from firmware_sim.models.daycycle import MINUTE_MS, DayCycle, age_days

__all__ = ["ActivityConfig", "ActivityTag", "poisson"]

_NORMAL_ABOVE = 30.0


def poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw with ``mean`` (normal approximation above a mean of 30)."""
    if mean <= 0:
        return 0
    if mean > _NORMAL_ABOVE:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass(frozen=True, slots=True)
class ActivityConfig:
    """One bird's tag: counts per minute active (lights on) and resting (dark).

    ``vigour`` scales this bird's rates (individual variation, around 1);
    ``age_decline`` is the fraction of activity lost by day 42.

    Raises:
        ValueError: a negative rate, or a non-positive vigour.
    """

    placed_ms: int
    day: DayCycle = field(default_factory=DayCycle)
    vigour: float = 1.0
    active_per_min: float = 30.0
    resting_per_min: float = 2.5
    age_decline: float = 0.5
    bout_sigma: float = 0.2

    def __post_init__(self) -> None:
        if self.active_per_min < 0 or self.resting_per_min < 0:
            raise ValueError("active_per_min, resting_per_min: expected >= 0")
        if self.vigour <= 0:
            raise ValueError(f"vigour: expected > 0, found {self.vigour}")


class ActivityTag:
    """A bird's activity counter; call :meth:`step` with non-decreasing times."""

    def __init__(self, config: ActivityConfig, start_ms: int) -> None:
        self.config = config
        self._last_ms = start_ms

    def expected(self, start_ms: int, end_ms: int) -> float:
        """The expected count over [``start_ms``, ``end_ms``) (no randomness)."""
        cfg = self.config
        light = cfg.day.light_ms(start_ms, end_ms)
        dark = max(0, end_ms - start_ms) - light
        age = min(max(age_days((start_ms + end_ms) // 2, cfg.placed_ms), 0.0), 42.0)
        rate = cfg.vigour * (1 - cfg.age_decline * age / 42)
        return rate * (cfg.active_per_min * light + cfg.resting_per_min * dark) / MINUTE_MS

    def step(self, ts_ms: int, rng: random.Random) -> int:
        """Advance to ``ts_ms`` and report the count since the previous step.

        Raises:
            ValueError: ``ts_ms`` is earlier than the previous step.
        """
        check_time(self._last_ms, ts_ms)
        mean = self.expected(self._last_ms, ts_ms)
        self._last_ms = ts_ms
        return poisson(mean * rng.lognormvariate(0.0, self.config.bout_sigma), rng)
