"""Trace and recall: where a lot, a pack, a bird or a barn's birds went, and what they came from.

::

    result = trace(store, "lot:09506000134352.L20260212")
    result = trace(store, "barn:b1", window=(start_ms, end_ms))
    for item in result.downstream: ...   # TraceItem(subject, relation, event, index, ...)

A pure query over a :class:`~chain.store.Store` up to an entry count
(``limit``: a site passes what its checkpoint covers). Every
:class:`TraceItem` names the entry it rests on by its global ``index``, so
that each can be proven (``/api/v1/entries/<index>/proof``).

Which birds a start concerns: a ``bird:`` itself; a ``pack:``/``lot:`` the
birds behind its ``packed`` event (its ``bird:`` inputs, and the bird of the
``slaughtered`` event that produced each ``carcass:``/``cut:`` input); a
``barn:`` the birds with a stay there overlapping the window. A bird's stays
come from its events by (ts, index): ``placed``/``moved`` open one in their
``barn``, and the next ``placed``, ``moved``, ``slaughtered`` or ``died`` closes it.

Downstream (``result.downstream``), by relation:

* :data:`BIRD` (barn start): the ``placed``/``moved`` event that opened each
  stay overlapping the window;
* :data:`OUTPUT`: each carcass or cut of the birds' ``slaughtered`` events;
* :data:`PACK`: each ``packed`` event naming those outputs or the birds;
* :data:`SHIPMENT`: ``shipped``/``received`` events naming those packs (for a
  pack or lot start: naming it).

Upstream (``result.upstream``):

* :data:`PACKING` and :data:`INPUT` (pack or lot start): its ``packed``
  event, and the slaughter behind each of its inputs;
* :data:`BIRD_EVENT`: each bird's ``hatched`` (the hatchery),
  ``vaccinated``, ``treated`` (medicine), ``inspected`` and ``died`` events;
* :data:`STAY` (not for a barn start): the event that opened each of each
  bird's stays, with ``barn``, ``until_ms`` and ``until_index``;
* for each barn with windows (the birds' stays there; for a barn start,
  the window): :data:`BARN_EVENT`, the events other than recalls naming the
  barn within them (a vet's inspections and treatments); :data:`FEED_REFILL`, the refills
  within them (below); and, at any time, :data:`DEVICE`: the registrations
  and revocations of every device ever registered at the barn (or at a
  traced bird: its tag).

The log records no feed deliveries. The closest thing is a barn's feeder
hopper being refilled, read from the readings of its feed devices (about
``feeder:<device>``): two consecutive readings of one device within a
window whose level rises by :data:`REFILL_MIN_KG` or more.

Recalls (``result.recalls``, :data:`RECALL`, one item per recall and
subject it matched): a ``recalled`` event naming the start, a traced bird,
output, input or pack, or naming a barn at a time within that barn's windows.

A subject an event names by a cross-log reference (a plant's slaughter of a
farm's ``bird:0001``) is that other log's, identified by (its log, its
name): it is not traced here (:mod:`chain.trace_across` follows it there),
and a recall here concerns it only when it names it by a reference to the
same log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chain._trace_index import TraceIndex
from chain._tracer import (
    BARN_EVENT,
    BIRD,
    BIRD_EVENT,
    DEVICE,
    FEED_REFILL,
    FOREVER,
    INPUT,
    OUTPUT,
    PACK,
    PACKING,
    RECALL,
    REFILL_MIN_KG,
    SHIPMENT,
    STAY,
    FieldValue,
    TraceItem,
    Tracer,
    Window,
    sorted_items,
)
from chain.errors import MalformedError
from chain.gs1 import parse_pack_subject
from chain.jws import ID_PATTERN
from chain.store import Store

__all__ = [
    "BARN_EVENT",
    "BIRD",
    "BIRD_EVENT",
    "DEVICE",
    "FEED_REFILL",
    "FOREVER",
    "INPUT",
    "OUTPUT",
    "PACK",
    "PACKING",
    "RECALL",
    "REFILL_MIN_KG",
    "SHIPMENT",
    "STAY",
    "FieldValue",
    "TraceIndex",
    "TraceItem",
    "TraceResult",
    "check_start",
    "parse_time",
    "trace",
]

_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class TraceResult:
    """A trace of ``start`` (within ``window`` for a barn) over entries ``[0, limit)``.

    Each list is sorted by (ts, index, subject, relation).
    """

    start: str
    window: Window | None
    limit: int
    birds: tuple[str, ...]
    downstream: tuple[TraceItem, ...]
    upstream: tuple[TraceItem, ...]
    recalls: tuple[TraceItem, ...]

    @property
    def found(self) -> bool:
        """Whether the log says anything about the start."""
        return bool(self.downstream or self.upstream or self.recalls)

    @property
    def recalled(self) -> bool:
        """Whether a recall concerns what was traced."""
        return bool(self.recalls)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "start": self.start,
            "window": None if self.window is None else list(self.window),
            "limit": self.limit,
            "birds": list(self.birds),
            "downstream": [item.to_json() for item in self.downstream],
            "upstream": [item.to_json() for item in self.upstream],
            "recalls": [item.to_json() for item in self.recalls],
        }


def check_start(start: str) -> str:
    """The kind of ``start`` (``lot``, ``pack``, ``bird`` or ``barn``) if it is a valid start.

    Raises:
        GS1Error: a ``pack:``/``lot:`` start with a bad GTIN, serial or lot.
        MalformedError: anything else that is not ``bird:<id>`` or ``barn:<id>``.
    """
    kind, _, ident = start.partition(":") if isinstance(start, str) else ("", "", "")
    if kind in ("pack", "lot"):
        parse_pack_subject(start)
    elif kind not in ("bird", "barn") or not _ID.fullmatch(ident):
        shown = repr(start)[:80]
        raise MalformedError(
            "trace start: expected lot:<GTIN-14>.<lot>, pack:<GTIN-14>.<serial>, "
            f"bird:<id> or barn:<id>, found {shown}",
            reason="bad_trace_start",
        )
    return kind


def parse_time(text: str) -> int:
    """Unix milliseconds of an ISO 8601 date or date-time; without a zone, UTC.

    Raises:
        MalformedError: ``text`` is not such a time, or is before 1970.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError) as exc:
        raise MalformedError(
            f"time: expected an ISO 8601 date or date-time (2026-01-01T06:00Z), found {text!r:.80}",
            reason="bad_time",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    if ms < 0:
        raise MalformedError(f"time: expected 1970 or later, found {text!r:.80}", reason="bad_time")
    return ms


def trace(
    store: Store,
    start: str,
    *,
    window: Window | None = None,
    limit: int | None = None,
    index: TraceIndex | None = None,
    feed: bool = True,
) -> TraceResult:
    """Trace ``start`` (see the module docstring) over the store's first ``limit`` entries.

    ``window`` ``(start_ms, end_ms)``, end exclusive, is for a barn start
    (default: all time). ``index`` may be a :class:`TraceIndex` of this store
    kept between calls (it is advanced to ``limit``). ``feed=False`` skips
    the feed refills, the only part that reads readings.

    Raises:
        GS1Error, MalformedError: a bad start (:func:`check_start`), a window
            on another start, or an empty window.
        StorageError: the store failed.
    """
    kind = check_start(start)
    if window is not None and (kind != "barn" or not 0 <= window[0] < window[1]):
        what = "a barn start only" if kind != "barn" else "a start before its end"
        raise MalformedError(f"trace window: expected {what}, found {window}", reason="bad_window")
    limit = store.entry_count if limit is None else min(limit, store.entry_count)
    index = TraceIndex(store) if index is None else index
    index.advance(limit)
    tracer = Tracer(store, index, limit)
    if kind in ("pack", "lot"):
        tracer.from_pack(start)
    elif kind == "bird":
        tracer.from_birds([start])
    else:
        tracer.from_barn(start, window or (0, FOREVER))
    tracer.barns(feed)
    tracer.find_recalls()
    down, up, recalls = (sorted_items(i) for i in (tracer.down, tracer.up, tracer.recalls))
    # A bird the log never mentions is no bird of the trace.
    birds = tuple(b.partition(":")[2] for b in tracer.birds) if down or up or recalls else ()
    return TraceResult(start, window, limit, birds, down, up, recalls)
