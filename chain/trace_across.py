"""Trace and recall across logs: a barn, a bird, a lot or a pack through every log given.

::

    logs = {origin: (store, index) for ...}      # each TraceIndex advanced to what it covers
    result = trace_across(logs, "lot:09506000134352.L20260212", ref_status=check)
    result = trace_across(logs, "barn:b1", origin="farm-a.example/log", window=(t0, t1),
                          ref_status=check)

Inside each log the single-log :class:`chain._tracer.Tracer` does the walk
(see :mod:`chain.trace`); between logs the trace follows cross-log
references (:mod:`chain.crosslog`) by the reference index each
:class:`~chain.trace.TraceIndex` keeps, so a trace reads only indexes:

* **downstream**: every entry the trace reaches downstream in a log (and,
  for a bird or barn start, the ``hatched``/``placed``/``moved`` entries of
  the birds followed downstream; for a pack or lot, its ``packed`` entry) is
  looked up, with the subject the trace follows it for, in every other log's
  reference index. An event whose reference names that entry for that
  subject is entered: a ``slaughtered`` brings its outputs and the packs
  made of them, a ``packed`` its pack, a ``shipped``/``received`` the pack's
  other shipments in that log, a ``placed``/``moved`` the bird's whole story
  at that farm; each of those entries is looked up in turn, until nothing
  new. (One ``hatched`` entry names many birds: a reference to it for
  another bird is not entered, unless it does not hold: a forged claim on a
  traced entry is shown, flagged.)
* **upstream**: a reference carried by an entry the trace shows is followed
  into the log it names (a plant's slaughter to the farm's placement: the
  bird's story there; a receipt to the packing: the pack's packing and
  inputs), unless the trace already shows that entry.

A ``pack:``/``lot:`` start is traced in every log that names it (GS1
identifiers are unique across logs); a ``bird:``/``barn:`` start in the log
``origin`` (``bird:0001`` of two farms are two birds).

Every crossed reference is checked by the caller's ``ref_status`` (the I/O
edge: local copies, a site's replicas) and listed in
:attr:`AcrossResult.references` with its status; an item whose entry
carries a failing reference lists the reason in :attr:`AcrossItem.flags`.
A failing reference is **followed downstream** (a recall reaches too much
rather than too little: the pack of a plant that claims a bird the farm
never placed is listed, flagged) and **not followed upstream** (a story
never borrows the history of an entry its reference does not prove).

Recalls (:attr:`AcrossResult.recalls`, listed first by readers) are those
of every log: a ``recalled`` event naming a traced subject of its own log
(as in :mod:`chain.trace`), naming a traced pack or lot (in any log), or
referencing an entry the trace shows for the subject it shows it about.

A subject of another log is written ``"<origin>|<subject>"`` (items'
``subject``, :attr:`AcrossResult.birds`). Pure: no I/O beyond reading the
given stores, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chain._trace_index import TraceIndex
from chain._tracer import (
    BIRD_EVENT,
    FOREVER,
    INPUT,
    OUTPUT,
    PACKING,
    RECALL,
    TraceItem,
    Tracer,
    Window,
)
from chain.crosslog import LogReference, Referrer
from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError, MalformedError
from chain.store import Store
from chain.trace import check_start

__all__ = [
    "AcrossItem",
    "AcrossResult",
    "Crossing",
    "LogCopy",
    "RefStatus",
    "foreign_subject",
    "trace_across",
]

LogCopy = tuple[Store, TraceIndex]
"""A log's store and its trace index, advanced to the entries the caller trusts."""

RefStatus = Callable[[LogReference, Referrer], "str | None"]
"""Checks a reference carried by an event: None if it holds, else the failure's ``reason``."""

_BIRD_ENTRIES = frozenset({"hatched", "placed", "moved"})
_PACK_KINDS = ("pack:", "lot:")


def foreign_subject(origin: str, subject: str) -> str:
    """``"<origin>|<subject>"``: how a trace names ``subject`` of log ``origin``."""
    return f"{origin}|{subject}"


@dataclass(frozen=True, slots=True)
class AcrossItem:
    """One fact of a trace across logs: ``item`` is entry ``item.index`` of log ``origin``.

    ``flags`` are the ``reason`` tags of the failing references among those the
    trace checked on that entry (empty: every one holds, or it carries none).
    """

    origin: str
    item: TraceItem
    flags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The item as a JSON object: the single-log item's members, ``log`` and ``flags``."""
        return {"log": self.origin, **self.item.to_json(), "flags": list(self.flags)}


@dataclass(frozen=True, slots=True)
class Crossing:
    """Reference ``ref``, carried by entry ``index`` of log ``origin``, and its ``status``.

    ``status`` is None when the reference holds, else the failure's reason
    (``ref_entry_mismatch``, ``ref_rolled_back``, ``ref_unavailable`` ...).
    """

    origin: str
    index: int
    ref: LogReference
    status: str | None

    def to_json(self) -> dict[str, Any]:
        """The crossing as a JSON object."""
        return {"log": self.origin, "index": self.index, "ref": self.ref.to_json()} | {
            "status": self.status
        }


@dataclass(frozen=True, slots=True)
class AcrossResult:
    """A trace of ``start`` across logs; ``origin`` is the start's log (None: a pack or lot).

    ``limits`` gives, per log, the entry count the trace read. Item lists are
    sorted by (ts, log, index, subject, relation); ``references`` by (log, index).
    """

    start: str
    origin: str | None
    window: Window | None
    limits: tuple[tuple[str, int], ...]
    birds: tuple[str, ...]
    downstream: tuple[AcrossItem, ...]
    upstream: tuple[AcrossItem, ...]
    recalls: tuple[AcrossItem, ...]
    references: tuple[Crossing, ...]

    @property
    def found(self) -> bool:
        """Whether any log says anything about the start."""
        return bool(self.downstream or self.upstream or self.recalls)

    @property
    def recalled(self) -> bool:
        """Whether a recall, in any log, concerns what was traced."""
        return bool(self.recalls)

    @property
    def failing(self) -> tuple[Crossing, ...]:
        """The references that do not hold."""
        return tuple(c for c in self.references if c.status is not None)

    def logs(self) -> tuple[str, ...]:
        """The logs the trace shows items of, sorted."""
        items = (*self.downstream, *self.upstream, *self.recalls)
        return tuple(sorted({i.origin for i in items}))

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "start": self.start,
            "log": self.origin,
            "window": None if self.window is None else list(self.window),
            "limits": dict(self.limits),
            "birds": list(self.birds),
            "downstream": [item.to_json() for item in self.downstream],
            "upstream": [item.to_json() for item in self.upstream],
            "recalls": [item.to_json() for item in self.recalls],
            "references": [c.to_json() for c in self.references],
        }


def trace_across(
    logs: Mapping[str, LogCopy],
    start: str,
    *,
    ref_status: RefStatus,
    origin: str | None = None,
    window: Window | None = None,
    feed: bool = True,
) -> AcrossResult:
    """Trace ``start`` through ``logs`` (origin -> store and index; see the module docstring).

    Preconditions: each index is of its store and advanced to the entries the
    caller trusts (a site: what its checkpoint covers); the trace reads no
    entry beyond. ``origin`` names the log of a ``bird:``/``barn:`` start; a
    ``pack:``/``lot:`` start takes none. ``window`` as in :func:`chain.trace.trace`.

    Raises:
        GS1Error, MalformedError: a bad start or window (:func:`chain.trace.check_start`),
            a bird or barn start without an ``origin`` among ``logs``, or a
            pack or lot start with one.
        StorageError: a store failed.
    """
    kind = check_start(start)
    if window is not None and (kind != "barn" or not 0 <= window[0] < window[1]):
        what = "a barn start only" if kind != "barn" else "a start before its end"
        raise MalformedError(f"trace window: expected {what}, found {window}", reason="bad_window")
    across = _Across(logs, ref_status)
    if kind in ("pack", "lot"):
        if origin is not None:
            raise MalformedError(
                f"trace origin: a {kind} is traced in every log that names it, found {origin}",
                reason="bad_trace_start",
            )
        for name, (_store, index) in logs.items():
            if index.about(start):
                across.tracer(name).from_pack(start)
    else:
        if origin is None or origin not in logs:
            known = ", ".join(sorted(logs)) or "none"
            raise MalformedError(
                f"trace origin: expected the log of the {kind}, one of {known}; found {origin}",
                reason="bad_trace_start",
            )
        tracer = across.tracer(origin)
        across.down_birds.setdefault(origin, set())
        if kind == "bird":
            tracer.from_birds([start])
            across.down_birds[origin].add(start)
        else:
            tracer.from_barn(start, window or (0, FOREVER))
            across.down_birds[origin].update(tracer.birds)
    across.run()
    across.finish(feed)
    return across.result(start, origin, window)


class _Across:
    """One trace across logs being built: a :class:`Tracer` per log reached, and the crossings."""

    def __init__(self, logs: Mapping[str, LogCopy], ref_status: RefStatus) -> None:
        self.logs, self.ref_status = logs, ref_status
        self.tracers: dict[str, Tracer] = {}
        self.down_birds: dict[str, set[str]] = {}  # birds followed downstream, per log
        self.crossings: dict[tuple[str, int, LogReference], Crossing] = {}
        self._looked_up: set[tuple[str, int, str]] = set()
        self._entered: set[tuple[str, int]] = set()
        self._followed: set[tuple[str, int, LogReference]] = set()
        self._statuses: dict[tuple[str, int, LogReference], str | None] = {}

    def tracer(self, origin: str) -> Tracer:
        tracer = self.tracers.get(origin)
        if tracer is None:
            store, index = self.logs[origin]
            tracer = self.tracers[origin] = Tracer(store, index, index.limit)
        return tracer

    def status(
        self, origin: str, index: int, ref: LogReference, entry: Entry, *, listed: bool = True
    ) -> str | None:
        """The status of ``ref`` carried by ``entry`` (``index`` of ``origin``), checked once.

        ``listed``: the trace crosses it, so it is listed among the result's references.
        """
        key = (origin, index, ref)
        status = self._statuses.get(key, "")
        if status == "":
            status = self._statuses[key] = self.ref_status(
                ref, Referrer.from_payload(entry.payload)
            )
        if listed:
            self.crossings.setdefault(key, Crossing(origin, index, ref, status))
        return status

    # -- the walk ------------------------------------------------------------------

    def run(self) -> None:
        """Cross downstream and upstream until no log gains an item."""
        changed = True
        while changed:
            changed = False
            for origin in list(self.tracers):
                for index, subject in sorted(self._seeds(origin)):
                    if (origin, index, subject) not in self._looked_up:
                        self._looked_up.add((origin, index, subject))
                        changed |= self._cross_down(origin, index, subject)
                for item in _items(self.tracers[origin]):
                    changed |= self._follow_up(origin, item)

    def _seeds(self, origin: str) -> set[tuple[int, str]]:
        """The (entry, subject) pairs of ``origin`` whose references elsewhere are downstream.

        By subject too: one ``hatched`` entry names many birds, and another
        log's reference to it for one bird says nothing of the others.
        """
        tracer, birds = self.tracers[origin], self.down_birds.get(origin, set())
        seeds = {(item.index, item.subject) for item in tracer.down.values()}
        for item in tracer.up.values():
            bird_entry = item.subject in birds and item.event in _BIRD_ENTRIES
            if bird_entry or item.relation == PACKING:
                seeds.add((item.index, item.subject))
        return seeds

    def _cross_down(self, origin: str, index: int, subject: str) -> bool:
        changed = False
        for other, (_store, trace_index) in self.logs.items():
            if other == origin:
                continue
            for at in trace_index.referencing(origin, index):
                entry = trace_index.referrer(at)
                if entry is None:
                    continue
                for ref in trace_index.refs_of(at):
                    if (ref.log, ref.index) != (origin, index):
                        continue
                    if ref.subject == subject:
                        self.status(other, at, ref, entry)
                    elif self.status(other, at, ref, entry, listed=False) is None:
                        continue  # a reference to the same entry for another of its subjects
                    else:  # a claim on a traced entry that does not hold: shown, flagged
                        self.status(other, at, ref, entry)
                    changed |= self._enter(other, at, entry, ref.subject)
        return changed

    def _enter(self, origin: str, index: int, entry: Entry, subject: str) -> bool:
        """Continue downstream in ``origin`` from event ``index``, which names ``subject``."""
        if (origin, index) in self._entered:
            return False
        self._entered.add((origin, index))
        tracer, event = self.tracer(origin), entry.payload["event"]
        tracer.own_subjects(index, entry.payload["subjects"])  # notes the other logs' subjects
        if event == "slaughtered":
            tracer.outputs_downstream(tracer.slaughter_outputs(index, entry))
        elif event == "packed":
            tracer.outputs_downstream([subject])
        elif event in ("shipped", "received"):
            tracer.named.add(subject)
            tracer.shipments([subject])
        elif event in ("placed", "moved"):
            self.down_birds.setdefault(origin, set()).add(subject)
            tracer.from_birds([subject])
        elif event in ("vaccinated", "treated", "inspected"):
            tracer.add(tracer.up, subject, BIRD_EVENT, index, entry)
        return True  # a recall is matched by finish()

    def _follow_up(self, origin: str, item: TraceItem) -> bool:
        """Follow the references of ``item``'s entry that concern it into the logs they name."""
        index = self.logs[origin][1]
        entry = index.referrer(item.index)
        if entry is None:
            return False
        whole = item.relation in (PACKING, INPUT, OUTPUT)  # all its refs name its inputs
        changed = False
        for ref in index.refs_of(item.index):
            key = (origin, item.index, ref)
            if key in self._followed or not (whole or ref.subject == item.subject):
                continue
            self._followed.add(key)
            if self.status(origin, item.index, ref, entry) is None:
                changed |= self._source(ref)
        return changed

    def _source(self, ref: LogReference) -> bool:
        """Trace upstream from the entry ``ref`` names, unless the trace already shows it."""
        if ref.log not in self.logs:
            return False
        tracer = self.tracer(ref.log)
        shown = {item.index for item in _items(tracer)}
        if ref.index in shown or ref.subject in tracer.birds:
            return False
        entry = _entry_at(self.logs[ref.log], ref.index)
        if entry is None or entry.type != "event":
            return False
        event = entry.payload["event"]
        if event in _BIRD_ENTRIES:
            tracer.upstream({ref.subject: None}, with_stays=True)
        elif event == "slaughtered":
            tracer.add(tracer.up, ref.subject, INPUT, ref.index, entry)
            mine = tracer.own_subjects(ref.index, entry.payload["subjects"])
            tracer.upstream(dict.fromkeys(mine), with_stays=True)
        elif event in ("packed", "shipped", "received") and ref.subject.startswith(_PACK_KINDS):
            tracer.from_pack(ref.subject)
        return {item.index for item in _items(tracer)} != shown

    # -- barns, recalls, the result -----------------------------------------------------

    def finish(self, feed: bool) -> None:
        """Add barn events and refills, then recalls in every log (see the module docstring)."""
        for tracer in self.tracers.values():
            tracer.barns(feed)
            tracer.find_recalls()
        packs = {s for t in self.tracers.values() for s in t.named if s.startswith(_PACK_KINDS)}
        shown = {(o, i.index, i.subject) for o, t in self.tracers.items() for i in _items(t)}
        for origin, (_store, index) in self.logs.items():
            for at, entry in index.events("recalled"):
                hits = [s for s in entry.payload["subjects"] if s in packs]
                for ref in index.refs_of(at):
                    if (ref.log, ref.index, ref.subject) in shown:
                        self.status(origin, at, ref, entry)
                        hits.append(ref.subject)
                if hits:
                    tracer = self.tracer(origin)
                    for subject in dict.fromkeys(hits):
                        tracer.add(tracer.recalls, subject, RECALL, at, entry)

    def result(self, start: str, origin: str | None, window: Window | None) -> AcrossResult:
        flags: dict[tuple[str, int], set[str]] = {}
        for crossing in self.crossings.values():
            if crossing.status is not None:
                flags.setdefault((crossing.origin, crossing.index), set()).add(crossing.status)
        lists: tuple[list[AcrossItem], list[AcrossItem], list[AcrossItem]] = ([], [], [])
        birds: list[str] = []
        for name, tracer in self.tracers.items():
            index = self.logs[name][1]
            parts = (tracer.down, tracer.up, tracer.recalls)
            for items, found in zip(lists, parts, strict=True):
                for item in found.values():
                    flagged = tuple(sorted(flags.get((name, item.index), ())))
                    items.append(AcrossItem(name, _shown(name, index, item), flagged))
            if any(parts):
                birds += [foreign_subject(name, bird) for bird in tracer.birds]
        down, up, recalls = (_sorted(items) for items in lists)
        limits = tuple(sorted((name, index.limit) for name, (_s, index) in self.logs.items()))
        references = tuple(sorted(self.crossings.values(), key=_crossing_order))
        return AcrossResult(
            start, origin, window, limits, tuple(sorted(birds)), down, up, recalls, references
        )


def _shown(origin: str, index: TraceIndex, item: TraceItem) -> TraceItem:
    """``item`` with its subject written as another log's when its entry names it so."""
    other = index.foreign_origin(item.index, item.subject)
    if other is None or item.subject.startswith(_PACK_KINDS):  # GS1 names are the world's
        return item
    return TraceItem(
        foreign_subject(other, item.subject),
        item.relation,
        item.event,
        item.index,
        item.ts,
        item.signer,
        item.fields,
    )


def _items(tracer: Tracer) -> list[TraceItem]:
    return [*tracer.down.values(), *tracer.up.values(), *tracer.recalls.values()]


def _entry_at(log: LogCopy, index: int) -> Entry | None:
    store, trace_index = log
    if index >= trace_index.limit:
        return None
    try:
        return parse_entry(store.entry(index))
    except (FarmtraceError, KeyError):
        return None


def _sorted(items: Iterable[AcrossItem]) -> tuple[AcrossItem, ...]:
    def order(a: AcrossItem) -> tuple[int, str, int, str, str]:
        return a.item.ts, a.origin, a.item.index, a.item.subject, a.item.relation

    return tuple(sorted(items, key=order))


def _crossing_order(c: Crossing) -> tuple[str, int, str, int, str]:
    return c.origin, c.index, c.ref.log, c.ref.index, c.ref.subject
