"""Bird live weight (kg) on a Gompertz broiler growth curve.

W(t) = A * exp(-b * exp(-c * t)) for age t in days (Gompertz 1825; the usual
broiler growth model, e.g. Aggrey, Poultry Science 81 (2002) 1782-1788).
Here b and c are solved so that the curve passes through ``hatch_kg`` at
day 0 and ``target_kg`` at ``target_day``; with the defaults (A = 4.5 kg,
42 g at placement, 2.9 kg at day 42) it gives about 0.19, 0.54, 1.07, 1.71
and 2.35 kg at days 7, 14, 21, 28 and 35, close to the as-hatched figures of
the Aviagen *Ross 308 Broiler Performance Objectives*. Each bird has its own
``size`` factor; a platform scale weighs it with a little relative noise.
Unit: SenML ``kg`` (RFC 8428).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from firmware_sim.models.daycycle import age_days

__all__ = ["BirdWeight", "GrowthConfig", "gompertz_kg"]


@dataclass(frozen=True, slots=True)
class GrowthConfig:
    """One bird's growth curve and scale.

    Raises:
        ValueError: unless 0 < hatch_kg < target_kg < mature_kg and target_day > 0.
    """

    placed_ms: int
    hatch_kg: float = 0.042
    target_kg: float = 2.9
    target_day: float = 42.0
    mature_kg: float = 4.5
    size: float = 1.0
    scale_noise: float = 0.01

    def __post_init__(self) -> None:
        if not 0 < self.hatch_kg < self.target_kg < self.mature_kg or self.target_day <= 0:
            raise ValueError(
                "expected 0 < hatch_kg < target_kg < mature_kg and target_day > 0, found "
                f"{self.hatch_kg}, {self.target_kg}, {self.mature_kg}, {self.target_day}"
            )

    @property
    def gompertz_b(self) -> float:
        """The curve's displacement b = ln(A / W(0))."""
        return math.log(self.mature_kg / self.hatch_kg)

    @property
    def gompertz_c(self) -> float:
        """The curve's rate c (per day), from W(target_day) = target_kg."""
        ratio = math.log(self.mature_kg / self.target_kg) / self.gompertz_b
        return -math.log(ratio) / self.target_day


def gompertz_kg(config: GrowthConfig, age: float) -> float:
    """The mean bird's weight (kg) at ``age`` days (``hatch_kg`` before placement)."""
    age = max(age, 0.0)
    return config.mature_kg * math.exp(-config.gompertz_b * math.exp(-config.gompertz_c * age))


class BirdWeight:
    """One bird on its scale; :meth:`step` needs no order (the curve is stateless)."""

    def __init__(self, config: GrowthConfig) -> None:
        self.config = config

    def step(self, ts_ms: int, rng: random.Random) -> float:
        """Weigh the bird at ``ts_ms`` (kg, 1 g resolution)."""
        cfg = self.config
        true_kg = cfg.size * gompertz_kg(cfg, age_days(ts_ms, cfg.placed_ms))
        return round(true_kg * (1 + rng.gauss(0.0, cfg.scale_noise)), 3)
