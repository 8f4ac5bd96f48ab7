"""Readings summed up per hour or per day, over the windows of time that matter to a bird.

Times are UTC: an hour bucket starts at a multiple of :data:`HOUR_MS` since
the Unix epoch, a day bucket at a multiple of :data:`DAY_MS`. A bucket only
counts readings inside the given windows (a bird's stays in a barn), so the
first and last buckets of a stay hold only the readings from after the bird
arrived and before it left. Buckets without readings are left out.

Pure: works on :class:`~consumer_web._series.Series` arrays.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import sub

from consumer_web._series import Series

__all__ = ["DAY_MS", "HOUR_MS", "Bucket", "Window", "bucket_stats", "daily_consumption"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

Window = tuple[int, int]
"""``(start_ms, end_ms)``: the readings with ``start_ms <= ts < end_ms``."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """The readings of one hour or day: ``count``, ``min``, ``mean``, ``max``, ``total`` (sum).

    ``min_index`` and ``max_index`` are the global entry indexes of a reading
    with the minimum and the maximum value (the earliest such, per device),
    so that a reader can verify them.
    """

    start_ms: int
    count: int
    min: float
    mean: float
    max: float
    total: float
    min_index: int
    max_index: int

    def to_json(self) -> dict[str, object]:
        """The bucket as a JSON object."""
        return {
            "start_ms": self.start_ms,
            "count": self.count,
            "min": self.min,
            "mean": self.mean,
            "max": self.max,
            "total": self.total,
            "min_index": self.min_index,
            "max_index": self.max_index,
        }


class _Acc:
    __slots__ = ("count", "max", "max_index", "min", "min_index", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = self.max = 0.0
        self.min_index = self.max_index = -1

    def add(self, series: Series, lo: int, hi: int) -> None:
        values = series.value[lo:hi]
        low, high = min(values), max(values)
        if self.count == 0 or low < self.min:
            self.min, self.min_index = low, series.index[values.index(low) + lo]
        if self.count == 0 or high > self.max:
            self.max, self.max_index = high, series.index[values.index(high) + lo]
        self.count += hi - lo
        self.total += sum(values)

    def bucket(self, start_ms: int) -> Bucket:
        return Bucket(
            start_ms,
            self.count,
            self.min,
            self.total / self.count,
            self.max,
            self.total,
            self.min_index,
            self.max_index,
        )


def bucket_stats(
    series: Sequence[Series], windows: Iterable[Window], bucket_ms: int
) -> tuple[Bucket, ...]:
    """Per-bucket statistics of all ``series`` together, inside ``windows``, by bucket start.

    Windows may share a bucket (a bird that leaves a barn and comes back
    within the hour): its readings from both are merged into one bucket.
    """
    acc: dict[int, _Acc] = {}
    for start, end in windows:
        if end <= start:
            continue
        for one in series:
            lo, hi = one.window(start, end)
            ts = one.ts
            while lo < hi:
                bucket = ts[lo] // bucket_ms * bucket_ms
                stop = bisect_left(ts, bucket + bucket_ms, lo, hi)
                acc.setdefault(bucket, _Acc()).add(one, lo, stop)
                lo = stop
    return tuple(acc[b].bucket(b) for b in sorted(acc))


def daily_consumption(
    series: Sequence[Series], windows: Iterable[Window], *, falling: bool
) -> tuple[tuple[int, float], ...]:
    """``(day start, amount)`` used per UTC day, from level or counter readings.

    Each device's consecutive readings inside one window give a change; a
    counter (``falling=False``: a water meter's total) counts its rises, a
    hopper (``falling=True``: a feeder's load cell) its falls, so that
    refills and meter resets do not count as use. The change is booked on
    the day of the later reading. Days without any pair are left out.
    """
    days: dict[int, float] = {}
    for start, end in windows:
        for one in series:
            lo, hi = one.window(start, end)
            values, ts = one.value, one.ts
            first = lo + 1  # the later reading of the first pair
            while first < hi:
                day = ts[first] // DAY_MS * DAY_MS
                stop = bisect_left(ts, day + DAY_MS, first, hi)
                pairs = values[first - 1 : stop]
                later, earlier = (pairs[:-1], pairs[1:]) if falling else (pairs[1:], pairs[:-1])
                changes = list(map(sub, later, earlier))
                # The sum of the positive changes, without a Python-level loop.
                used = (sum(changes) + sum(map(abs, changes))) / 2
                days[day] = days.get(day, 0.0) + used
                first = stop
    return tuple(sorted(days.items()))
