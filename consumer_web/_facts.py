"""The first screen's answers: a few plain facts about a bird, computed from its story.

What a shopper scanned for, in one :class:`Facts` value: where the bird
lived and how long, how much of that time the barn's air was inside the
welfare temperature band (:mod:`consumer_web._welfare`), whether it had feed
and water every day, its vaccinations, medicine and vet checks, when and where
it was slaughtered and packed, and who signed the story.

How each is computed (documented in docs/consumer-site.md, "The pack page"):

* ``days_on_farm``: from the first stay's start to the last stay's end (or
  the story's last event or reading while the bird is still there), whole days.
* ``band_hours`` of ``climate_hours``: hours of the barns' temperature
  charts whose every reading lies inside that day's limits, of the hours
  with readings.
* ``fed_days`` of ``farm_days``: whole UTC days inside a stay on which the
  barn's feed chart and its water chart both show some use, of the whole
  UTC days inside the stays (both 0 when the barns have no feed or no water
  readings at all: not measured).
* ``treatments``: the ``treated`` events naming the bird, or one of its barns
  while it was there; each withdrawal period (``withdrawal_days`` from the
  event's ``ts``, :func:`chain.lifecycle.withdrawal_end`) is compared with
  the slaughter time.
* ``parties``: the distinct signers of the story's events; ``sensors``: the
  devices whose readings the story shows.

Pure: reads frozen story values only.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chain.lifecycle import withdrawal_end
from consumer_web._aggregate import DAY_MS
from consumer_web._story import BirdStory, Chart, EventRow, PackInfo, PackStory, Stay

__all__ = ["Facts", "Party", "Treatment", "Vaccination", "bird_facts", "parties_of"]


@dataclass(frozen=True, slots=True)
class Vaccination:
    """The bird was given ``vaccine`` at ``ts`` (event ``index``)."""

    vaccine: str
    ts: int
    index: int


@dataclass(frozen=True, slots=True)
class Treatment:
    """The bird (or its barn, with ``barn`` its id) was given ``medicine`` at ``ts``
    (event ``index``), with a withdrawal period of ``withdrawal_days`` (None: not
    stated) that ends at ``until_ms``. ``cleared``: whether that period was over
    when the bird was slaughtered (None: no period, or not slaughtered)."""

    medicine: str
    ts: int
    index: int
    barn: str | None
    withdrawal_days: int | None
    until_ms: int | None
    cleared: bool | None


def _treatment(row: EventRow, own: str, slaughter_ms: int | None) -> Treatment:
    text = row.field("withdrawal_days")
    days = int(text) if text is not None and text.isdigit() else None
    until = None if days is None else withdrawal_end(row.ts, {"withdrawal_days": days})
    cleared = None
    if days and until is not None and slaughter_ms is not None:
        cleared = slaughter_ms >= until
    barn = None
    if own not in row.subjects:
        barn = next((s.partition(":")[2] for s in row.subjects if s.startswith("barn:")), None)
    return Treatment(row.field("medicine") or "", row.ts, row.index, barn, days, until, cleared)


@dataclass(frozen=True, slots=True)
class Party:
    """A signer of a story's events: ``signer`` (its id), its registered ``name`` if any,
    and ``index``, the first event it signed in the story (the one the badge checks)."""

    signer: str
    name: str | None
    index: int


@dataclass(frozen=True, slots=True)
class Facts:
    """The first screen of a bird's (or a one-bird pack's) page. None where the log says nothing."""

    pack: PackInfo | None
    farm: str | None
    """The name the placing operator registered, else the farm id of the barn's devices."""
    barns: tuple[str, ...]
    hatchery: str | None
    hatch_ms: int | None
    days_on_farm: int | None
    climate_hours: int
    band_hours: int
    farm_days: int
    fed_days: int
    vaccinations: tuple[Vaccination, ...]
    treatments: tuple[Treatment, ...]
    inspections: int
    failed_inspections: int
    died_ms: int | None
    slaughter_ms: int | None
    plant: str | None
    recalled: bool
    parties: tuple[Party, ...]
    sensors: int

    @property
    def band_percent(self) -> int | None:
        """The share of hours in the welfare band, in whole percent (rounded down), or None."""
        if not self.climate_hours:
            return None
        return self.band_hours * 100 // self.climate_hours

    @property
    def withdrawal_breached(self) -> bool:
        """Whether the bird was slaughtered before a treatment's withdrawal period was over."""
        return any(t.cleared is False for t in self.treatments)

    @property
    def fed_every_day(self) -> bool | None:
        """Whether feed and water were used on every whole day on the farm, or None (no day)."""
        return None if not self.farm_days else self.fed_days == self.farm_days


def parties_of(rows: Iterable[EventRow]) -> tuple[Party, ...]:
    """The distinct signers of ``rows``, in order of their first event."""
    seen: dict[str, Party] = {}
    for row in rows:
        if row.signer not in seen:
            seen[row.signer] = Party(row.signer, row.signer_name, row.index)
    return tuple(seen.values())


def _in_band(chart: Chart) -> tuple[int, int]:
    """(hours with readings, hours with every reading inside the limits) of a chart."""
    limits = {day: (low, high) for day, low, high in chart.limits}
    starts = sorted(limits)
    hours = inside = 0
    for bucket in chart.buckets:
        hours += 1
        at = bisect.bisect_right(starts, bucket.start_ms) - 1  # the last day starting by then
        if at < 0 or bucket.start_ms >= starts[at] + DAY_MS:
            continue
        low, high = limits[starts[at]]
        if low <= bucket.min and bucket.max <= high:
            inside += 1
    return hours, inside


def _used_days(charts: Sequence[Chart], kind: str) -> set[int]:
    return {day for c in charts if c.kind == kind for day, amount in c.totals if amount > 0}


def _whole_days(stays: Sequence[Stay], last_ms: int) -> list[int]:
    """Starts of the whole UTC days that lie inside a stay."""
    days: list[int] = []
    for stay in stays:
        end = last_ms if stay.end_ms is None else stay.end_ms
        day = -(-stay.start_ms // DAY_MS) * DAY_MS
        while day + DAY_MS <= end:
            days.append(day)
            day += DAY_MS
    return days


def _last_ms(story: BirdStory) -> int:
    times = [row.ts for row in story.timeline]
    times += [c.buckets[-1].start_ms + c.bucket_ms for c in story.charts if c.buckets]
    times += [c.totals[-1][0] + DAY_MS for c in story.charts if c.totals]
    return max(times, default=0)


def bird_facts(story: BirdStory, pack: PackStory | None = None) -> Facts:
    """The facts of ``story``; ``pack`` is the scanned pack (its packing and recalls), if any."""
    ident = story.identity
    own = f"bird:{ident.bird}"
    last_ms = _last_ms(story)
    days_on_farm = None
    if story.stays:
        end = story.stays[-1].end_ms
        days_on_farm = ((last_ms if end is None else end) - story.stays[0].start_ms) // DAY_MS
    climate = [_in_band(c) for c in story.charts if c.kind == "temperature" and c.limits]
    feed, water = _used_days(story.charts, "feed"), _used_days(story.charts, "water")
    # No feeder or no water meter: feeding was not measured, which is not "not fed".
    farm_days = _whole_days(story.stays, last_ms) if feed and water else []
    fed = feed & water
    mine = [row for row in story.timeline if own in row.subjects]
    barns = {f"barn:{barn}" for barn in ident.barns}
    checks = [
        row
        for row in story.timeline
        if row.event == "inspected" and (own in row.subjects or barns & set(row.subjects))
    ]
    vaccinations = tuple(
        Vaccination(row.field("vaccine") or "", row.ts, row.index)
        for row in mine
        if row.event == "vaccinated"
    )
    treatments = tuple(
        _treatment(row, own, ident.slaughter_ms)
        for row in story.timeline
        if row.event == "treated" and (own in row.subjects or barns & set(row.subjects))
    )
    recalls = story.recalls if pack is None else pack.recalls
    placed = next((row for row in mine if row.event == "placed"), None)
    return Facts(
        pack=pack.pack if pack is not None else (ident.packs[0] if ident.packs else None),
        farm=(placed.signer_name if placed is not None else None) or ident.farm,
        barns=ident.barns,
        hatchery=ident.hatchery,
        hatch_ms=ident.hatch_ms,
        days_on_farm=days_on_farm,
        climate_hours=sum(h for h, _ in climate),
        band_hours=sum(i for _, i in climate),
        farm_days=len(farm_days),
        fed_days=sum(1 for day in farm_days if day in fed),
        vaccinations=vaccinations,
        treatments=treatments,
        inspections=len(checks),
        failed_inspections=sum(1 for row in checks if row.field("result") == "fail"),
        died_ms=ident.died_ms,
        slaughter_ms=ident.slaughter_ms,
        plant=ident.plant,
        recalled=bool(recalls),
        parties=parties_of(story.timeline),
        sensors=len(story.completeness),
    )
