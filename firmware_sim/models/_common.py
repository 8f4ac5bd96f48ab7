"""Small numeric helpers shared by the models (private)."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence


def interpolate(table: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear ``table`` (sorted by x) at ``x``, clamped to its ends."""
    if x <= table[0][0]:
        return table[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(table):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def relax(value: float, target: float, dt_ms: int, tau_ms: float) -> float:
    """First-order lag: ``value`` moved toward ``target`` over ``dt_ms`` with time constant tau."""
    return target + (value - target) * math.exp(-dt_ms / tau_ms)


def red_noise(value: float, sigma: float, dt_ms: int, tau_ms: float, rng: random.Random) -> float:
    """One step of an Ornstein-Uhlenbeck (AR(1)) process with stationary deviation ``sigma``.

    Smooth sensor noise: successive samples are correlated over about ``tau_ms``.
    """
    keep = math.exp(-dt_ms / tau_ms)
    return value * keep + sigma * math.sqrt(1 - keep * keep) * rng.gauss(0.0, 1.0)


def check_time(previous_ms: int, ts_ms: int) -> int:
    """``ts_ms - previous_ms``; raises ValueError if time would run backwards."""
    if ts_ms < previous_ms:
        raise ValueError(f"ts_ms: expected >= {previous_ms} (models step forward), found {ts_ms}")
    return ts_ms - previous_ms
