"""Building one bird's story: stays, charts, excursions, completeness, verification.

Private to :mod:`consumer_web._lifecycle`, whose caches it reads (the caller
holds their locks). Every figure is computed from the readings inside the
bird's windows: its stays in each barn for the barn's climate, feed and
water; its whole life for its own tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from chain.entries import event_outputs
from chain.gs1 import DigitalLink, pack_subject
from consumer_web._aggregate import DAY_MS, HOUR_MS, Window, bucket_stats, daily_consumption
from consumer_web._rows import pack_info
from consumer_web._series import Series
from consumer_web._story import (
    MAX_GAPS,
    BirdStory,
    Chart,
    DeviceCompleteness,
    EventRow,
    Identity,
    PackInfo,
    Stay,
    Verification,
)
from consumer_web._swaps import swaps_at
from consumer_web._welfare import Excursion, excursions, limits

if TYPE_CHECKING:
    from consumer_web._lifecycle import Head, Lifecycle

__all__ = ["FOREVER", "build_bird", "stays_of"]

FOREVER = 2**62
"""The end of an open window (a bird still in its barn)."""

_LOOKUP_MAX = 10_000  # beyond this many missing seqs, list the device's seqs instead


def stays_of(events: Iterable[EventRow]) -> tuple[Stay, ...]:
    """The barn stays that ``events`` (a bird's, by time) describe.

    A stay opens at ``placed`` or ``moved`` (into its ``barn``) and closes at
    the next of those, or at ``slaughtered`` or ``died``.
    """
    stays: list[Stay] = []
    current: tuple[str, int, int] | None = None
    for row in events:
        if row.event in ("placed", "moved", "slaughtered", "died") and current is not None:
            stays.append(Stay(current[0], current[1], row.ts, current[2], row.index))
            current = None
        barn = row.field("barn")
        if row.event in ("placed", "moved") and barn is not None:
            current = (barn, row.ts, row.index)
    if current is not None:
        stays.append(Stay(current[0], current[1], None, current[2], None))
    return tuple(stays)


class _Used:
    """The series a story used, with their windows: for completeness and verification."""

    def __init__(self) -> None:
        self.items: list[tuple[Series, Sequence[Window]]] = []

    def add(self, series: Iterable[Series], windows: Sequence[Window]) -> list[Series]:
        chosen = list(series)
        self.items += [(s, windows) for s in chosen]
        return chosen


def _limits_by_day(
    kind: str, hatch_ms: int, windows: Sequence[Window], last_ms: int
) -> list[tuple[int, float, float]]:
    days: list[tuple[int, float, float]] = []
    for start, end in windows:
        first = (start - hatch_ms) // DAY_MS
        last = (min(end, last_ms + 1) - 1 - hatch_ms) // DAY_MS
        for day in range(first, last + 1):
            bounds = limits(kind, day)
            if bounds is not None:
                days.append((hatch_ms + day * DAY_MS, *bounds))
    return days


def _barn_charts(
    life: Lifecycle, barn: str, windows: Sequence[Window], hatch_ms: int | None, used: _Used
) -> tuple[list[Chart], list[Excursion]]:
    subject = f"barn:{barn}"
    data = life.cache.get(subject)
    charts: list[Chart] = []
    found: list[Excursion] = []
    for kind in ("temperature", "humidity"):
        series = used.add(data.kind(kind), windows)
        buckets = bucket_stats(series, windows, HOUR_MS)
        if not buckets:
            continue
        bands: tuple[tuple[int, float, float], ...] = ()
        if hatch_ms is not None:
            bands = tuple(_limits_by_day(kind, hatch_ms, windows, buckets[-1].start_ms))
            for one in series:
                found += excursions(one, windows, hatch_ms)
        charts.append(Chart(kind, subject, series[0].unit, HOUR_MS, buckets, limits=bands))
    located = life.directory.feeders_at(subject)
    feeders = [s for s in data.kind("feed") if s.dev in located]
    for dev in located:
        feeders += [s for s in life.cache.get(f"feeder:{dev}").kind("feed") if s.dev in located]
    for kind, series, falling in (("feed", feeders, True), ("water", data.kind("water"), False)):
        chosen = used.add(series, windows)
        totals = daily_consumption(chosen, windows, falling=falling)
        if totals:
            charts.append(Chart(kind, subject, chosen[0].unit, DAY_MS, totals=totals))
    return charts, found


def _completeness(life: Lifecycle, used: _Used) -> tuple[DeviceCompleteness, ...]:
    by_dev: dict[str, tuple[set[int], set[str]]] = {}
    for series, windows in used.items:
        seqs, kinds = by_dev.setdefault(series.dev, (set(), set()))
        kinds.add(series.kind)
        for start, end in windows:
            lo, hi = series.window(start, end)
            seqs.update(series.seq[lo:hi])
    found = []
    for dev, (seqs, kinds) in sorted(by_dev.items()):
        if not seqs:
            continue
        ordered = sorted(seqs)
        if ordered[-1] - ordered[0] + 1 == len(ordered):
            holes = []  # the common case, at C speed
        else:
            holes = [(a + 1, b - 1) for a, b in pairwise(ordered) if b > a + 1]
        if sum(b - a + 1 for a, b in holes) > _LOOKUP_MAX:
            logged = set(life.store.signer_seqs(dev))
            missing = [s for a, b in holes for s in range(a, b + 1) if s not in logged]
        else:
            lookup = life.store.lookup
            missing = [s for a, b in holes for s in range(a, b + 1) if lookup(dev, s) is None]
        gaps: list[tuple[int, int]] = []
        for seq in missing:
            if gaps and gaps[-1][1] == seq - 1:
                gaps[-1] = (gaps[-1][0], seq)
            else:
                gaps.append((seq, seq))
        first, last = ordered[0], ordered[-1]
        found.append(
            DeviceCompleteness(
                dev,
                tuple(sorted(kinds)),
                first,
                last,
                last - first + 1 - len(missing),
                len(missing),
                tuple(gaps[:MAX_GAPS]),
            )
        )
    return tuple(found)


def _verification(
    life: Lifecycle, head: Head, used: _Used, timeline: Sequence[EventRow]
) -> Verification:
    indexes = [row.index for row in timeline]
    readings = 0
    for series, windows in used.items:
        for start, end in windows:
            lo, hi = series.window(start, end)
            readings += hi - lo
            indexes += series.index[lo:hi]
    return Verification(
        readings,
        len(timeline),
        life.blocks.count(indexes),
        head.size,
        head.entry_count,
        head.log_key,
        head.log_signature_ok,
        head.witnesses,
        head.other_signatures,
    )


def _first(rows: Sequence[EventRow], event: str) -> EventRow | None:
    return next((row for row in rows if row.event == event), None)


def build_bird(life: Lifecycle, head: Head, bird_id: str) -> BirdStory | None:
    """The story of ``bird_id`` up to ``head``, or None if the log never mentions it."""
    subject = f"bird:{bird_id}"
    data = life.cache.get(subject)
    if not data.entries and not data.series:
        return None
    own = life.rows([subject])
    stays = stays_of(own)
    hatched, slaughtered, died = (_first(own, e) for e in ("hatched", "slaughtered", "died"))
    hatch_ms = hatched.ts if hatched else stays[0].start_ms if stays else None
    windows: dict[str, list[Window]] = {}
    for stay in stays:
        end = FOREVER if stay.end_ms is None else stay.end_ms
        windows.setdefault(stay.barn, []).append((stay.start_ms, end))
    used = _Used()
    charts: list[Chart] = []
    found: list[Excursion] = []
    for barn, barn_windows in windows.items():
        barn_charts, barn_found = _barn_charts(life, barn, barn_windows, hatch_ms, used)
        charts += barn_charts
        found += barn_found
    life_window = [(0, FOREVER)]
    for kind in ("activity", "weight"):
        series = used.add(data.kind(kind), life_window)
        buckets = bucket_stats(series, life_window, DAY_MS)
        if buckets:
            # Activity counts add up (a day's total); a weight is a level (its range).
            totals = tuple((b.start_ms, b.total) for b in buckets) if kind == "activity" else ()
            charts.append(Chart(kind, subject, series[0].unit, DAY_MS, buckets, totals))
    outputs = [s for _, _, entry in data.entries for s in event_outputs(entry.payload)]
    packs = _packs(life, outputs)
    related = [*outputs, *(pack_subject(DigitalLink(p.gtin, p.serial, p.lot)) for p in packs)]
    timeline = {row.index: row for row in own}
    for barn, barn_windows in windows.items():
        timeline |= {r.index: r for r in life.rows([f"barn:{barn}"], barn_windows)}
    timeline |= {r.index: r for r in life.rows(related)}
    rows = tuple(sorted(timeline.values(), key=lambda r: (r.ts, r.index)))
    identity = Identity(
        bird_id,
        hatched.field("breed") if hatched else None,
        _hatchery(hatched),
        hatched.field("parent_flock") if hatched else None,
        _farm(life, stays, own),
        tuple(windows),
        hatched.ts if hatched else None,
        slaughtered.ts if slaughtered else None,
        slaughtered.field("plant") if slaughtered else None,
        died.ts if died else None,
        died.field("cause") if died else None,
        tuple(packs),
    )
    found.sort(key=lambda e: (e.start_ms, e.subject, e.kind, e.dev))
    return BirdStory(
        identity,
        rows,
        stays,
        tuple(charts),
        tuple(found),
        _completeness(life, used),
        _verification(life, head, used, rows),
        swaps_at(life.store, head.entry_count, {f"barn:{b}": w for b, w in windows.items()}),
    )


def _packs(life: Lifecycle, outputs: Sequence[str]) -> list[PackInfo]:
    packs: dict[int, PackInfo] = {}
    for subject in outputs:
        for _, index, entry in life.cache.get(subject).entries:
            if entry.payload.get("event") == "packed" and subject in entry.payload["subjects"]:
                info = pack_info(entry, index)
                if info is not None:
                    packs[index] = info
    return [packs[i] for i in sorted(packs)]


def _hatchery(hatched: EventRow | None) -> str | None:
    if hatched is None:
        return None
    return hatched.field("hatchery") or hatched.signer_name or hatched.signer


def _farm(life: Lifecycle, stays: Sequence[Stay], own: Sequence[EventRow]) -> str | None:
    for stay in stays:
        for dev in life.directory.located_at(f"barn:{stay.barn}"):
            farm = life.directory.device(dev).get("farm")
            if isinstance(farm, str):
                return farm
    placed = _first(own, "placed")
    return None if placed is None else placed.signer_name or placed.signer
