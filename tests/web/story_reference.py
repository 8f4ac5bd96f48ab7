"""A brute-force reading of a log, to check the site's lifecycle query against.

Deliberately naive: it parses every checkpointed entry and recomputes each
figure straight from its definition (consumer_web._aggregate and _welfare),
sharing no code with the site but the published constants.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

from chain.entries import Entry, parse_entry
from chain.store import Store
from consumer_web._welfare import (
    HUMIDITY_LIMITS_RH,
    MAX_HOLD_MS,
    TEMPERATURE_MARGIN_C,
    TEMPERATURE_TARGETS_C,
)

HOUR = 3_600_000
DAY = 24 * HOUR
FOREVER = 2**62


@dataclass(frozen=True)
class Reading:
    index: int
    ts: int
    dev: str
    seq: int
    kind: str
    subject: str
    value: float


def _target(day: int) -> float:
    table = TEMPERATURE_TARGETS_C
    day = max(day, 0)
    for (d0, t0), (d1, t1) in itertools.pairwise(table):
        if d0 <= day <= d1:
            return t0 + (t1 - t0) * (day - d0) / (d1 - d0)
    return table[-1][1]


def limits(kind: str, day: int) -> tuple[float, float]:
    if kind == "humidity":
        return HUMIDITY_LIMITS_RH
    target = _target(day)
    return round(target - TEMPERATURE_MARGIN_C, 2), round(target + TEMPERATURE_MARGIN_C, 2)


class Reference:
    """Every entry a checkpoint covers, parsed; figures recomputed by brute force."""

    def __init__(self, store: Store) -> None:
        latest = store.latest_checkpoint()
        assert latest is not None
        self.cutoff = store.block(latest[0] - 1).next_index
        self.entries: list[tuple[int, Entry]] = [
            (i, parse_entry(store.entry(i))) for i in range(self.cutoff)
        ]
        self.readings = [
            Reading(
                i,
                e.ts,
                e.kid,
                e.seq,
                e.payload["kind"],
                e.payload["subject"],
                float(e.payload["value"]),
            )
            for i, e in self.entries
            if e.type == "reading"
        ]
        self.store = store

    def events_about(self, subject: str) -> list[tuple[int, Entry]]:
        return sorted(
            (
                (i, e)
                for i, e in self.entries
                if e.type == "event" and subject in e.payload["subjects"]
            ),
            key=lambda item: (item[1].ts, item[0]),
        )

    def stays(self, bird: str) -> list[tuple[str, int, int]]:
        stays: list[tuple[str, int, int]] = []
        current: tuple[str, int] | None = None
        for _, e in self.events_about(f"bird:{bird}"):
            name = e.payload["event"]
            if name in ("placed", "moved", "slaughtered", "died") and current:
                stays.append((current[0], current[1], e.ts))
                current = None
            if name in ("placed", "moved"):
                current = (e.payload["barn"], e.ts)
        if current:
            stays.append((current[0], current[1], FOREVER))
        return stays

    def hatch(self, bird: str) -> int:
        return next(
            e.ts for _, e in self.events_about(f"bird:{bird}") if e.payload["event"] == "hatched"
        )

    def series(self, subject: str, kind: str, dev: str | None = None) -> list[Reading]:
        return sorted(
            (
                r
                for r in self.readings
                if r.subject == subject and r.kind == kind and (dev is None or r.dev == dev)
            ),
            key=lambda r: (r.ts, r.index),
        )

    def hourly(
        self, subject: str, kind: str, windows: list[tuple[int, int]], bucket: int = HOUR
    ) -> dict[int, tuple[int, float, float, float]]:
        groups: dict[int, list[float]] = defaultdict(list)
        for r in self.series(subject, kind):
            if any(s <= r.ts < e for s, e in windows):
                groups[r.ts // bucket * bucket].append(r.value)
        return {h: (len(v), min(v), sum(v) / len(v), max(v)) for h, v in sorted(groups.items())}

    def daily_use(
        self, readings: list[Reading], windows: list[tuple[int, int]], falling: bool
    ) -> dict[int, float]:
        days: dict[int, float] = {}
        for s, e in windows:
            inside = [r for r in readings if s <= r.ts < e]
            for a, b in itertools.pairwise(inside):
                change = (a.value - b.value) if falling else (b.value - a.value)
                day = b.ts // DAY * DAY
                days[day] = days.get(day, 0.0) + max(change, 0.0)
        return dict(sorted(days.items()))

    def excursions(
        self, subject: str, kind: str, windows: list[tuple[int, int]], hatch: int
    ) -> list[tuple[str, str, int, int, int, int, float, int]]:
        """(dev, direction, start, end, duration, readings, peak, peak index), by start."""
        found = []
        for dev in sorted({r.dev for r in self.series(subject, kind)}):
            all_of_dev = self.series(subject, kind, dev)
            following = {
                r.index: (n.ts if n else r.ts + MAX_HOLD_MS)
                for r, n in zip(all_of_dev, [*all_of_dev[1:], None], strict=True)
            }
            for s, e in windows:
                run: list[tuple[Reading, int]] = []
                side_of_run = None
                for r in [r for r in all_of_dev if s <= r.ts < e] + [None]:  # type: ignore[list-item]
                    side = None
                    if r is not None:
                        low, high = limits(kind, (r.ts - hatch) // DAY)
                        side = "above" if r.value > high else "below" if r.value < low else None
                    if run and side != side_of_run:
                        values = [x.value for x, _ in run]
                        peak = max(values) if side_of_run == "above" else min(values)
                        peak_at = run[values.index(peak)][0]
                        last, held_last = run[-1]
                        found.append(
                            (
                                dev,
                                side_of_run,
                                run[0][0].ts,
                                last.ts + held_last,
                                sum(h for _, h in run),
                                len(run),
                                peak,
                                peak_at.index,
                            )
                        )
                        run = []
                    if side is not None and r is not None:
                        held = min(following[r.index], e, r.ts + MAX_HOLD_MS) - r.ts
                        run.append((r, held))
                        side_of_run = side
        return sorted(found, key=lambda x: (x[2], x[0]))

    def missing_seqs(self, dev: str, seqs: set[int]) -> list[int]:
        logged = set(self.store.signer_seqs(dev))
        return [s for s in range(min(seqs), max(seqs) + 1) if s not in logged]
