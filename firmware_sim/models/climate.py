"""Barn climate: air temperature (Cel) and relative humidity (%RH).

The barn's controller holds the air near a setpoint that falls as the birds
grow and feather up: about 32 °C at placement to about 21 °C at six weeks
(after the brooding and grow-out temperature tables of the Aviagen *Ross
Broiler Management Handbook*, whole-house brooding). Around it the air swings
with the day (cooler at night; the ventilation cannot fully cancel the
outside swing), humidity moves against temperature, and sensor noise is
smooth (red) noise. A ``ventilation_failure`` window drives temperature and
humidity up with a first-order lag, and they relax back after it ends.
Units are SenML (RFC 8428): ``Cel`` and ``%RH``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_sim.models._common import check_time, interpolate, red_noise, relax
from firmware_sim.models.daycycle import MINUTE_MS, DayCycle, age_days

__all__ = ["SETPOINTS_C", "BarnClimate", "ClimateConfig", "ClimateSample", "setpoint_c"]

SETPOINTS_C: tuple[tuple[float, float], ...] = (
    (0, 32.0),
    (7, 29.0),
    (14, 27.0),
    (21, 24.5),
    (28, 22.5),
    (35, 21.5),
    (42, 21.0),
)
"""Target air temperature (°C) by flock age (days), interpolated linearly and clamped."""

_NOISE_TAU_MS = 30 * MINUTE_MS


def setpoint_c(age: float) -> float:
    """The controller's target air temperature (°C) for a flock ``age`` days old."""
    return interpolate(SETPOINTS_C, age)


@dataclass(frozen=True, slots=True)
class ClimateConfig:
    """One barn climate sensor's parameters.

    ``failures`` are ``(start_ms, end_ms)`` windows of ventilation failure;
    ``offset_c`` is this sensor's placement bias (a spot nearer the heaters
    reads warmer).

    Raises:
        ValueError: a failure window that ends before it starts, or a
            non-positive time constant.
    """

    placed_ms: int
    day: DayCycle = field(default_factory=DayCycle)
    diurnal_c: float = 1.5
    offset_c: float = 0.0
    humidity_rh: float = 58.0
    humidity_age_rh: float = 6.0
    humidity_per_c: float = -2.5
    noise_c: float = 0.2
    noise_rh: float = 1.2
    failures: tuple[tuple[int, int], ...] = ()
    failure_rise_c: float = 9.0
    failure_rise_rh: float = 22.0
    failure_tau_ms: int = 45 * MINUTE_MS

    def __post_init__(self) -> None:
        for start, end in self.failures:
            if end < start:
                raise ValueError(f"failures: expected start <= end, found ({start}, {end})")
        if self.failure_tau_ms <= 0:
            raise ValueError(f"failure_tau_ms: expected > 0, found {self.failure_tau_ms}")

    def failing(self, ts_ms: int) -> bool:
        """Whether ventilation has failed at ``ts_ms``."""
        return any(start <= ts_ms < end for start, end in self.failures)


@dataclass(frozen=True, slots=True)
class ClimateSample:
    """What a barn's climate sensors read at one instant."""

    temperature: float
    humidity: float


class BarnClimate:
    """A barn's air as seen by one temperature + humidity sensor pair.

    Stateful (the failure lag and the smooth noise): call :meth:`step` with
    non-decreasing times, starting at or after ``start_ms``.
    """

    def __init__(self, config: ClimateConfig, start_ms: int) -> None:
        self.config = config
        self._last_ms = start_ms
        self._failure = 1.0 if config.failing(start_ms) else 0.0
        self._noise_c = 0.0
        self._noise_rh = 0.0

    def step(self, ts_ms: int, rng: random.Random) -> ClimateSample:
        """Advance to ``ts_ms`` and read the sensors (0.01 °C, 0.1 %RH resolution).

        Raises:
            ValueError: ``ts_ms`` is earlier than the previous step.
        """
        cfg = self.config
        dt = check_time(self._last_ms, ts_ms)
        self._last_ms = ts_ms
        target = 1.0 if cfg.failing(ts_ms) else 0.0
        self._failure = relax(self._failure, target, dt, cfg.failure_tau_ms)
        self._noise_c = red_noise(self._noise_c, cfg.noise_c, dt, _NOISE_TAU_MS, rng)
        self._noise_rh = red_noise(self._noise_rh, cfg.noise_rh, dt, _NOISE_TAU_MS, rng)
        age = age_days(ts_ms, cfg.placed_ms)
        swing = cfg.diurnal_c * cfg.day.diurnal(ts_ms)
        temperature = (
            setpoint_c(age)
            + cfg.offset_c
            + swing
            + cfg.failure_rise_c * self._failure
            + self._noise_c
        )
        humidity = (
            cfg.humidity_rh
            + cfg.humidity_age_rh * min(max(age, 0.0), 42.0) / 42.0
            + cfg.humidity_per_c * swing
            + cfg.failure_rise_rh * self._failure
            + self._noise_rh
        )
        return ClimateSample(round(temperature, 2), round(min(max(humidity, 5.0), 99.5), 1))
