"""Welfare limits for a barn's air, and the excursions beyond them ("temperature minutes").

Limits (our choice, documented so that anyone can recompute them):

* Temperature: the target air temperature for the bird's age, after the
  brooding and grow-out tables of the Aviagen *Ross Broiler Management
  Handbook* (whole-house brooding: 32 °C at day 0 falling to 21 °C at six
  weeks; :data:`TEMPERATURE_TARGETS_C`, linear between the listed days,
  evaluated at the bird's whole age in days), plus or minus
  :data:`TEMPERATURE_MARGIN_C`. Age counts from the bird's hatch (day 0).
* Relative humidity: :data:`HUMIDITY_LIMITS_RH`, whatever the age. The
  handbook recommends 50 to 70 %RH after brooding; we flag only what lies
  well outside (wet litter and heat stress above, dust and dehydration below).

An excursion is a run of consecutive readings of one sensor outside the
limits on the same side. Like the "temperature minutes" of cold-chain
monitoring, each reading stands for the time until that sensor's next
reading, but at most :data:`MAX_HOLD_MS` (a silent sensor is a gap, not a
reading) and never past the end of the bird's stay; an excursion lasts the
sum of its readings' times.

Pure: works on :class:`~consumer_web._series.Series` arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from consumer_web._aggregate import DAY_MS, Window
from consumer_web._series import Series

__all__ = [
    "HUMIDITY_LIMITS_RH",
    "MAX_HOLD_MS",
    "TEMPERATURE_MARGIN_C",
    "TEMPERATURE_TARGETS_C",
    "Excursion",
    "excursions",
    "limits",
]

TEMPERATURE_TARGETS_C: tuple[tuple[int, float], ...] = (
    (0, 32.0),
    (7, 29.0),
    (14, 27.0),
    (21, 24.5),
    (28, 22.5),
    (35, 21.5),
    (42, 21.0),
)
"""Target air temperature (°C) by age in days (Aviagen Ross handbook, whole-house brooding)."""

TEMPERATURE_MARGIN_C = 3.0
"""How far from the target the air may be before it counts as an excursion."""

HUMIDITY_LIMITS_RH = (40.0, 80.0)
"""The relative humidity band (%RH) outside which the air counts as an excursion."""

MAX_HOLD_MS = 30 * 60_000
"""The longest time one reading may stand for."""


def _target_c(age_day: int) -> float:
    table = TEMPERATURE_TARGETS_C
    if age_day <= table[0][0]:
        return table[0][1]
    for (d0, t0), (d1, t1) in itertools.pairwise(table):
        if age_day <= d1:
            return t0 + (t1 - t0) * (age_day - d0) / (d1 - d0)
    return table[-1][1]


def limits(kind: str, age_day: int) -> tuple[float, float] | None:
    """``(low, high)`` for readings of ``kind`` in a bird's age day, or None if we set none."""
    if kind == "temperature":
        target = _target_c(max(age_day, 0))
        return round(target - TEMPERATURE_MARGIN_C, 2), round(target + TEMPERATURE_MARGIN_C, 2)
    if kind == "humidity":
        return HUMIDITY_LIMITS_RH
    return None


@dataclass(frozen=True, slots=True)
class Excursion:
    """Readings of sensor ``dev`` about ``subject`` beyond a limit, ``above`` or ``below`` it.

    ``start_ms`` is the first reading's time, ``end_ms`` when the last one
    stops standing; ``duration_ms`` the sum of their times. ``peak`` is the
    farthest value (entry ``peak_index``), ``limit`` the limit it broke, both in ``unit``.
    """

    subject: str
    kind: str
    dev: str
    direction: str
    start_ms: int
    end_ms: int
    duration_ms: int
    readings: int
    peak: float
    peak_index: int
    limit: float
    unit: str

    def to_json(self) -> dict[str, object]:
        """The excursion as a JSON object."""
        return {
            "subject": self.subject,
            "kind": self.kind,
            "dev": self.dev,
            "direction": self.direction,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "duration_ms": self.duration_ms,
            "minutes": round(self.duration_ms / 60_000, 1),
            "readings": self.readings,
            "peak": self.peak,
            "peak_index": self.peak_index,
            "limit": self.limit,
            "unit": self.unit,
        }


class _Run:
    """An excursion being built: consecutive out-of-range positions on one side."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.positions: list[tuple[int, int, float]] = []  # (position, held ms, limit)

    def finish(self, series: Series) -> Excursion:
        first, held = self.positions[0][0], sum(p[1] for p in self.positions)
        last, last_held = self.positions[-1][0], self.positions[-1][1]
        pick = max if self.direction == "above" else min
        peak_pos, _, limit = pick(self.positions, key=lambda p: series.value[p[0]])
        return Excursion(
            series.subject,
            series.kind,
            series.dev,
            self.direction,
            series.ts[first],
            series.ts[last] + last_held,
            held,
            len(self.positions),
            series.value[peak_pos],
            series.index[peak_pos],
            limit,
            series.unit,
        )


def excursions(series: Series, windows: Iterable[Window], hatch_ms: int) -> list[Excursion]:
    """The excursions of one sensor's ``series`` inside ``windows``, in time order.

    ``hatch_ms`` is the bird's day 0 (its age sets the temperature limits).
    """
    found: list[Excursion] = []
    ts, values, count = series.ts, series.value, len(series)
    for start, end in windows:
        lo, hi = series.window(start, end)
        run: _Run | None = None
        while lo < hi:
            age_day = (ts[lo] - hatch_ms) // DAY_MS
            bounds = limits(series.kind, age_day)
            day_end = min(series.window(hatch_ms + (age_day + 1) * DAY_MS, end)[0], hi)
            chunk = values[lo:day_end]
            if bounds is None or (bounds[0] <= min(chunk) and max(chunk) <= bounds[1]):
                if run is not None:  # the chunk's first reading is in range
                    found.append(run.finish(series))
                    run = None
                lo = day_end
                continue
            low, high = bounds
            for k in range(lo, day_end):
                value = values[k]
                side = "above" if value > high else "below" if value < low else None
                if run is not None and run.direction != side:
                    found.append(run.finish(series))
                    run = None
                if side is None:
                    continue
                following = ts[k + 1] if k + 1 < count else ts[k] + MAX_HOLD_MS
                held = min(following, end, ts[k] + MAX_HOLD_MS) - ts[k]
                run = run or _Run(side)
                run.positions.append((k, held, high if side == "above" else low))
            lo = day_end
        if run is not None:
            found.append(run.finish(series))
    return found
