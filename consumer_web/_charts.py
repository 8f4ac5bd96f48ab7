"""Charts drawn on the server as SVG geometry: the template only places numbers.

A :class:`ChartView` holds the coordinates of one chart in a fixed
:data:`WIDTH` x :data:`HEIGHT` view box: for minimum/mean/maximum buckets a
band (polygon) per run of consecutive buckets and a mean line; for daily
amounts, bars; welfare limits as step lines. No script and no inline style
is needed (the page's CSP forbids both); colours come from the site's CSS
classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consumer_web._story import Chart

__all__ = ["HEIGHT", "WIDTH", "ChartView", "Extreme", "chart_view"]

WIDTH = 640
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 10, 24


@dataclass(frozen=True, slots=True)
class Extreme:
    """The highest or lowest reading of a chart: its value, its bucket's start, its entry index."""

    value: float
    ts: int
    index: int


@dataclass(frozen=True, slots=True)
class ChartView:
    """Ready-to-draw geometry of one :class:`~consumer_web._story.Chart`."""

    chart: Chart
    bands: tuple[str, ...]
    lines: tuple[str, ...]
    limit_lines: tuple[str, ...]
    bars: tuple[tuple[float, float, float, float], ...]
    y_labels: tuple[tuple[float, str], ...]
    x_labels: tuple[tuple[float, int], ...]
    highest: Extreme | None
    lowest: Extreme | None


class _Scale:
    def __init__(self, t0: int, t1: int, v0: float, v1: float) -> None:
        if v1 - v0 < 1e-9:
            v0, v1 = v0 - 1, v1 + 1
        pad = (v1 - v0) * 0.05
        self.t0, self.t1 = t0, max(t1, t0 + 1)
        self.v0, self.v1 = v0 - pad, v1 + pad

    def x(self, ts: float) -> float:
        span = WIDTH - _LEFT - _RIGHT
        return _LEFT + (ts - self.t0) / (self.t1 - self.t0) * span

    def y(self, value: float) -> float:
        span = HEIGHT - _TOP - _BOTTOM
        return HEIGHT - _BOTTOM - (value - self.v0) / (self.v1 - self.v0) * span

    def point(self, ts: float, value: float) -> str:
        return f"{self.x(ts):.1f},{self.y(value):.1f}"

    def line(self, times: Sequence[float], values: Sequence[float]) -> list[str]:
        """The points of a polyline (the hot path of a chart: thousands of points)."""
        ax = (WIDTH - _LEFT - _RIGHT) / (self.t1 - self.t0)
        bx = _LEFT - self.t0 * ax
        ay = -(HEIGHT - _TOP - _BOTTOM) / (self.v1 - self.v0)
        by = HEIGHT - _BOTTOM - self.v0 * ay
        return [f"{t * ax + bx:.1f},{v * ay + by:.1f}" for t, v in zip(times, values, strict=True)]


def _runs(starts: Sequence[int], step: int) -> list[tuple[int, int]]:
    """``[first, last]`` position ranges of consecutive buckets (no missing step between)."""
    runs: list[tuple[int, int]] = []
    for pos, start in enumerate(starts):
        if runs and start - starts[runs[-1][1]] == step:
            runs[-1] = (runs[-1][0], pos)
        else:
            runs.append((pos, pos))
    return runs


def _labels(scale: _Scale) -> tuple[tuple[tuple[float, str], ...], tuple[tuple[float, int], ...]]:
    ys = tuple(
        (scale.y(v), f"{v:.1f}")
        for v in (scale.v0 + (scale.v1 - scale.v0) * f for f in (0.05, 0.5, 0.95))
    )
    xs = ((scale.x(scale.t0), scale.t0), (scale.x(scale.t1), scale.t1))
    return ys, xs


def chart_view(chart: Chart) -> ChartView:
    """The geometry of ``chart`` (an empty chart gives an empty view)."""
    step = chart.bucket_ms
    if chart.totals:
        starts = [day for day, _ in chart.totals]
        top = max(amount for _, amount in chart.totals)
        scale = _Scale(starts[0], starts[-1] + step, 0.0, top)
        width = max(scale.x(step) - scale.x(0) - 1, 1)
        bars = tuple(
            (
                scale.x(day) + 0.5,
                scale.y(amount),
                width,
                scale.y(0) - scale.y(amount),
            )
            for day, amount in chart.totals
        )
        ys, xs = _labels(scale)
        return ChartView(chart, (), (), (), bars, ys, xs, *_extremes(chart))
    buckets = chart.buckets
    if not buckets:
        return ChartView(chart, (), (), (), (), (), (), None, None)
    low = min(b.min for b in buckets)
    high = max(b.max for b in buckets)
    if chart.limits:
        low = min(low, min(lo for _, lo, _ in chart.limits))
        high = max(high, max(hi for _, _, hi in chart.limits))
    scale = _Scale(buckets[0].start_ms, buckets[-1].start_ms + step, low, high)
    half = step / 2
    bands, lines = [], []
    for first, last in _runs([b.start_ms for b in buckets], step):
        run = buckets[first : last + 1]
        times = [b.start_ms + half for b in run]
        upper = scale.line(times, [b.max for b in run])
        lower = scale.line(times[::-1], [b.min for b in reversed(run)])
        bands.append(" ".join(upper + lower))
        lines.append(" ".join(scale.line(times, [b.mean for b in run])))
    limit_lines = []
    day = 86_400_000
    for side in (1, 2):
        points = []
        for start, *bounds in chart.limits:
            end = min(start + day, scale.t1)
            begin = max(start, scale.t0)
            if end > begin:
                points += [scale.point(begin, bounds[side - 1]), scale.point(end, bounds[side - 1])]
        if points:
            limit_lines.append(" ".join(points))
    ys, xs = _labels(scale)
    views = tuple(bands), tuple(lines), tuple(limit_lines)
    return ChartView(chart, *views, (), ys, xs, *_extremes(chart))


def _extremes(chart: Chart) -> tuple[Extreme | None, Extreme | None]:
    """The highest and lowest single readings of ``chart`` (None without buckets)."""
    if not chart.buckets:
        return None, None
    top = max(chart.buckets, key=lambda b: b.max)
    bottom = min(chart.buckets, key=lambda b: b.min)
    return (
        Extreme(top.max, top.start_ms, top.max_index),
        Extreme(bottom.min, bottom.start_ms, bottom.min_index),
    )
