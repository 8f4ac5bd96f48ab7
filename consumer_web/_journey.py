"""The journey strip: hatchery → farm → plant → distributor → shop, from a story's events.

Each stop is an event of the bird or its pack: ``hatched`` (the hatchery),
the first ``placed`` (the farm), ``slaughtered`` (the plant), and every
``received`` of the pack, named by the role of its signer (a ``retailer``'s
receipt is the shop, a ``distributor``'s the distributor). The strip is
drawn as SVG geometry in a fixed view box (no script, no map tiles, no
inline style: the page's CSP forbids them); the template only places numbers.

Pure: rows and the signers' roles in, frozen values out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consumer_web._story import EventRow

__all__ = ["JOURNEY_HEIGHT", "JOURNEY_WIDTH", "Journey", "Stop", "journey_of"]

JOURNEY_WIDTH = 340
JOURNEY_HEIGHT = 64
_MARGIN = 34  # half a label's width: labels are centred under their stop

_RECEIVERS = (("retailer", "shop"), ("distributor", "distributor"), ("plant", "plant"))


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop: its ``stage`` (hatchery, farm, plant, distributor, shop), the ``place``
    as the event names it, when (``ts``), the event (``index``), and where to draw it (``x``)."""

    stage: str
    place: str | None
    ts: int
    index: int
    x: float


@dataclass(frozen=True, slots=True)
class Journey:
    """The stops in time order, and the strip's line from the first to the last."""

    stops: tuple[Stop, ...]
    x0: float
    x1: float


def _stage(row: EventRow, roles: Callable[[str], frozenset[str]]) -> tuple[str, str | None] | None:
    if row.event == "hatched":
        return "hatchery", row.field("hatchery") or row.signer_name
    if row.event == "placed":
        return "farm", row.signer_name
    if row.event == "slaughtered":
        return "plant", row.field("plant")
    if row.event == "received":
        held = roles(row.signer)
        stage = next((name for role, name in _RECEIVERS if role in held), "distributor")
        return stage, row.field("location")
    return None


def journey_of(
    rows: Iterable[EventRow],
    roles: Callable[[str], frozenset[str]],
    farm: str | None = None,
) -> Journey:
    """The journey that ``rows`` (a story's timeline, by time) tell.

    ``roles`` gives a signer's registered roles; ``farm`` names the farm stop
    when the log knows the farm's name (else the placing operator's name).
    Only the first hatching, placing and slaughter count; every receipt does.
    """
    found: list[tuple[str, str | None, int, int]] = []
    once: set[str] = set()
    for row in rows:
        stage = _stage(row, roles)
        if stage is None or row.event in once:
            continue
        if row.event != "received":
            once.add(row.event)
        name, place = stage
        if name == "farm" and farm:
            place = farm
        found.append((name, place, row.ts, row.index))
    count = len(found)
    span = JOURNEY_WIDTH - 2 * _MARGIN
    stops = []
    for n, (stage_name, place, ts, index) in enumerate(found):
        x = _MARGIN + (span * n / (count - 1) if count > 1 else span / 2)
        stops.append(Stop(stage_name, place, ts, index, round(x, 1)))
    x0 = stops[0].x if stops else 0.0
    x1 = stops[-1].x if stops else 0.0
    return Journey(tuple(stops), x0, x1)
