"""The barn's day: local time, the lighting programme and the diurnal swing.

Broiler houses run a lighting programme rather than following the sun; a
common one after the first week is 18 hours of light and 6 of dark (Aviagen,
*Ross Broiler Management Handbook*, lighting section). Birds eat, drink and
move while the lights are on and rest in the dark, so every model that
depends on "daylight" asks this module. Times are integer milliseconds since
the Unix epoch (UTC), as in entries (design.md section 2); nothing here reads
the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "DayCycle", "age_days"]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def age_days(ts_ms: int, placed_ms: int) -> float:
    """The flock's age in days at ``ts_ms``, 0 at placement (negative before it)."""
    return (ts_ms - placed_ms) / DAY_MS


@dataclass(frozen=True, slots=True)
class DayCycle:
    """A barn's local day: ``lights_on_hour`` to ``lights_off_hour`` is light.

    Hours are local (UTC + ``utc_offset_min``) and lie in [0, 24); the light
    period may wrap past midnight (on 20, off 14). ``warmest_hour`` is when the
    diurnal swing peaks; the coolest time is twelve hours later.

    Raises:
        ValueError: an hour outside [0, 24), or on == off (no dark or no light).
    """

    utc_offset_min: int = 0
    lights_on_hour: float = 4.0
    lights_off_hour: float = 22.0
    warmest_hour: float = 15.0

    def __post_init__(self) -> None:
        for name in ("lights_on_hour", "lights_off_hour", "warmest_hour"):
            hour = getattr(self, name)
            if not 0 <= hour < 24:
                raise ValueError(f"{name}: expected an hour in [0, 24), found {hour}")
        if self.lights_on_hour == self.lights_off_hour:
            raise ValueError("lights_on_hour and lights_off_hour: expected different hours")

    @property
    def light_ms_per_day(self) -> int:
        """How many milliseconds of each day the lights are on."""
        return self._light_before(DAY_MS)

    def local_hour(self, ts_ms: int) -> float:
        """The local hour of day at ``ts_ms``, in [0, 24)."""
        return ((ts_ms + self.utc_offset_min * MINUTE_MS) % DAY_MS) / HOUR_MS

    def diurnal(self, ts_ms: int) -> float:
        """The diurnal swing at ``ts_ms``: +1 at ``warmest_hour``, -1 twelve hours later."""
        return math.cos(2 * math.pi * (self.local_hour(ts_ms) - self.warmest_hour) / 24)

    def lights_on(self, ts_ms: int) -> bool:
        """Whether the barn's lights are on at ``ts_ms``."""
        hour = self.local_hour(ts_ms)
        if self.lights_on_hour < self.lights_off_hour:
            return self.lights_on_hour <= hour < self.lights_off_hour
        return hour >= self.lights_on_hour or hour < self.lights_off_hour

    def light_ms(self, start_ms: int, end_ms: int) -> int:
        """Milliseconds of light within [``start_ms``, ``end_ms``); 0 if end <= start."""
        if end_ms <= start_ms:
            return 0
        return self._cumulative_light(end_ms) - self._cumulative_light(start_ms)

    def _cumulative_light(self, ts_ms: int) -> int:
        local = ts_ms + self.utc_offset_min * MINUTE_MS
        days, within = divmod(local, DAY_MS)
        return days * self.light_ms_per_day + self._light_before(within)

    def _light_before(self, within_ms: int) -> int:
        on = round(self.lights_on_hour * HOUR_MS)
        off = round(self.lights_off_hour * HOUR_MS)
        if on < off:
            return _overlap(0, within_ms, on, off)
        return _overlap(0, within_ms, 0, off) + _overlap(0, within_ms, on, DAY_MS)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))
