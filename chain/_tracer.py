"""How a trace is built: the walk over a log's events, stays, devices and feed readings.

Private to :mod:`chain.trace`, which documents what each relation means and
re-exports the public names defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain._trace_index import TraceIndex, feed_rises
from chain.entries import Entry, event_outputs, member_text
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
    "TraceItem",
    "Tracer",
    "Window",
    "sorted_items",
]


BIRD, OUTPUT, PACK, SHIPMENT = "bird", "output", "pack", "shipment"
PACKING, INPUT, BIRD_EVENT, STAY = "packing", "input", "bird_event", "stay"
BARN_EVENT, DEVICE, FEED_REFILL, RECALL = "barn_event", "device", "feed_refill", "recall"
FOREVER = 2**62
"""The end of an open window (a bird still in its barn)."""
REFILL_MIN_KG = 1.0
"""The rise of a hopper's level, between two readings, that counts as a refill."""

FieldValue = str | int | float
_COMMON = frozenset({"type", "seq", "ts", "event", "subjects"})
_BIRD_EVENTS = frozenset({"hatched", "vaccinated", "treated", "inspected", "died"})
_STAY_EVENTS = frozenset({"placed", "moved", "slaughtered", "died"})
Window = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TraceItem:
    """One fact of a trace: entry ``index`` (``event``, at ``ts``, signed by ``signer``).

    ``subject`` is what the fact is about in this trace (a bird, a carcass,
    a pack, a barn, ``device:<id>``); ``relation`` one of this module's
    relation constants; ``event`` the event kind, or for other entries their
    type (``device``, ``reading``). ``fields`` are ``(name, value)`` pairs by
    name: an event's own members (arrays joined with ", "), or what the
    relation describes (a stay's ``barn``, ``until_ms``, a refill's levels).
    """

    subject: str
    relation: str
    event: str
    index: int
    ts: int
    signer: str
    fields: tuple[tuple[str, FieldValue], ...] = ()

    def field(self, name: str) -> FieldValue | None:
        """The value of field ``name``, or None."""
        return dict(self.fields).get(name)

    def to_json(self) -> dict[str, Any]:
        """The item as a JSON object."""
        return {
            "subject": self.subject,
            "relation": self.relation,
            "event": self.event,
            "index": self.index,
            "ts": self.ts,
            "signer": self.signer,
            "fields": dict(self.fields),
        }


@dataclass(frozen=True, slots=True)
class _Stay:
    barn: str
    start: int
    end: int  # FOREVER while open
    index: int
    entry: Entry
    end_index: int | None


def _item(subject: str, relation: str, index: int, entry: Entry, **extra: FieldValue) -> TraceItem:
    fields = {k: _text(v) for k, v in entry.payload.items() if k not in _COMMON} | extra
    event = str(entry.payload["event"]) if entry.type == "event" else entry.type
    return TraceItem(
        subject, relation, event, index, entry.ts, entry.kid, tuple(sorted(fields.items()))
    )


def _text(value: object) -> FieldValue:
    return value if isinstance(value, (str, int, float)) else member_text(value)


def sorted_items(items: Mapping[tuple[str, str, int], TraceItem]) -> tuple[TraceItem, ...]:
    """``items``' values by (ts, index, subject, relation)."""
    return tuple(sorted(items.values(), key=lambda i: (i.ts, i.index, i.subject, i.relation)))


def _inside(ts: int, windows: Iterable[Window]) -> bool:
    return any(start <= ts < end for start, end in windows)


class Tracer:
    """One trace being built over ``index`` (advanced to ``limit``) and ``store``'s readings.

    Call one ``from_*`` start, then :meth:`barns`, then :meth:`find_recalls`.
    Items are keyed by (subject, relation, index), so none repeats.
    """

    def __init__(self, store: Store, index: TraceIndex, limit: int) -> None:
        self.store, self.index, self.limit = store, index, limit
        self.down: dict[tuple[str, str, int], TraceItem] = {}
        self.up: dict[tuple[str, str, int], TraceItem] = {}
        self.recalls: dict[tuple[str, str, int], TraceItem] = {}
        self.birds: dict[str, None] = {}  # bird subjects, in the order found
        self.named: set[str] = set()  # subjects whose recalls concern the trace
        self.named_foreign: set[tuple[str, str]] = set()  # (origin, subject) of other logs
        self.windows: dict[str, list[Window]] = {}  # barn subject -> windows

    @staticmethod
    def _add(items: dict[tuple[str, str, int], TraceItem], item: TraceItem) -> None:
        items.setdefault((item.subject, item.relation, item.index), item)

    def add(
        self,
        items: dict[tuple[str, str, int], TraceItem],
        subject: str,
        relation: str,
        index: int,
        entry: Entry,
    ) -> None:
        """Add the item of ``entry`` (at ``index``) about ``subject`` to ``items`` (down, up)."""
        self._add(items, _item(subject, relation, index, entry))

    def stays(self, bird: str) -> list[_Stay]:
        """The stays of ``bird`` (a subject) in barns, by time."""
        found: list[_Stay] = []
        current: tuple[str, int, int, Entry] | None = None
        for index, entry in self.index.about(bird):
            payload = entry.payload
            if payload["event"] not in _STAY_EVENTS or bird not in payload["subjects"]:
                continue
            if current is not None:
                found.append(_Stay(current[0], current[1], entry.ts, current[2], current[3], index))
                current = None
            if payload["event"] in ("placed", "moved"):
                current = (f"barn:{payload['barn']}", entry.ts, index, entry)
        if current is not None:
            found.append(_Stay(current[0], current[1], FOREVER, current[2], current[3], None))
        return found

    # -- starts -------------------------------------------------------------------

    def from_pack(self, start: str) -> None:
        self.named.add(start)
        birds: dict[str, None] = {}
        for index, entry in self.index.about(start):
            if entry.payload["event"] != "packed" or start not in event_outputs(entry.payload):
                continue
            self._add(self.up, _item(start, PACKING, index, entry))
            for source in entry.payload["subjects"]:
                self.named.add(source)
                if source.startswith("bird:") and self.own_subjects(index, [source]):
                    birds[source] = None
                for made, slaughter in self.index.about(source):
                    if slaughter.payload["event"] == "slaughtered" and source in event_outputs(
                        slaughter.payload
                    ):
                        self._add(self.up, _item(source, INPUT, made, slaughter))
                        mine = self.own_subjects(made, slaughter.payload["subjects"])
                        birds |= dict.fromkeys(mine)
        self.shipments([start])
        self.upstream(birds, with_stays=True)

    def from_birds(self, birds: Sequence[str]) -> None:
        self.downstream(birds)
        self.upstream(dict.fromkeys(birds), with_stays=True)

    def from_barn(self, barn: str, window: Window) -> None:
        self.windows[barn] = [window]
        ident = barn.partition(":")[2]
        candidates: dict[str, None] = {}
        for event in ("placed", "moved"):
            for _, entry in self.index.events(event):
                if entry.payload["barn"] == ident:
                    candidates |= dict.fromkeys(entry.payload["subjects"])
        birds: list[str] = []
        for bird in sorted(candidates):
            for stay in self.stays(bird):
                if stay.barn == barn and stay.start < window[1] and stay.end > window[0]:
                    self._add(self.down, self._stay_item(bird, BIRD, stay))
                    if bird not in birds:
                        birds.append(bird)
        self.downstream(birds)
        self.upstream(dict.fromkeys(birds), with_stays=False)

    # -- downstream and upstream -------------------------------------------------

    def own_subjects(self, index: int, subjects: Iterable[str]) -> list[str]:
        """Those of ``subjects`` that event ``index`` names as this log's; notes the others.

        A subject the event names by a reference is the other log's: it is
        traced there (chain.trace_across), never by its bare name here, where
        two farms' ``bird:0001`` would meet; it is kept in :attr:`named_foreign`
        as (origin, subject), so that a recall here naming it by a reference
        to the same log concerns the trace.
        """
        mine: list[str] = []
        for subject in subjects:
            other = self.index.foreign_origin(index, subject)
            if other is None:
                mine.append(subject)
            else:
                self.named_foreign.add((other, subject))
        return mine

    def downstream(self, birds: Sequence[str]) -> None:
        self.birds |= dict.fromkeys(birds)
        self.named.update(birds)
        sources = list(birds)
        for bird in birds:
            for index, entry in self.index.about(bird):
                if entry.payload["event"] == "slaughtered" and bird in entry.payload["subjects"]:
                    sources += self.slaughter_outputs(index, entry)
        self.outputs_downstream(sources)

    def slaughter_outputs(self, index: int, entry: Entry) -> list[str]:
        """Add the outputs of slaughter ``entry`` (at ``index``) downstream; return them."""
        outputs = list(event_outputs(entry.payload))
        for output in outputs:
            self._add(self.down, _item(output, OUTPUT, index, entry))
        return outputs

    def outputs_downstream(self, sources: Sequence[str]) -> None:
        """Add the packs made of ``sources`` (birds, carcasses, cuts) and their shipments."""
        packs: dict[str, None] = {}
        for source in sources:
            self.named.add(source)
            for index, entry in self.index.about(source):
                if entry.payload["event"] == "packed" and source in entry.payload["subjects"]:
                    for pack in event_outputs(entry.payload):
                        self._add(self.down, _item(pack, PACK, index, entry))
                        packs[pack] = None
        self.named.update(packs)
        self.shipments(packs)

    def shipments(self, packs: Iterable[str]) -> None:
        for pack in packs:
            for index, entry in self.index.about(pack):
                payload = entry.payload
                if payload["event"] in ("shipped", "received") and pack in payload["subjects"]:
                    self._add(self.down, _item(pack, SHIPMENT, index, entry))

    def upstream(self, birds: Mapping[str, None], *, with_stays: bool) -> None:
        self.birds |= birds
        self.named.update(birds)
        for bird in birds:
            for index, entry in self.index.about(bird):
                payload = entry.payload
                if payload["event"] in _BIRD_EVENTS and bird in payload["subjects"]:
                    self._add(self.up, _item(bird, BIRD_EVENT, index, entry))
            for dev in self.index.devices_at(bird):
                self._devices(dev)
            if with_stays:
                for stay in self.stays(bird):
                    self._add(self.up, self._stay_item(bird, STAY, stay))
                    self.windows.setdefault(stay.barn, []).append((stay.start, stay.end))

    @staticmethod
    def _stay_item(bird: str, relation: str, stay: _Stay) -> TraceItem:
        extra: dict[str, FieldValue] = {"barn": stay.barn.partition(":")[2]}
        if stay.end_index is not None:
            extra |= {"until_ms": stay.end, "until_index": stay.end_index}
        return _item(bird, relation, stay.index, stay.entry, **extra)

    def _devices(self, dev: str) -> None:
        for index, entry in self.index.device_entries(dev):
            self._add(self.up, _item(f"device:{dev}", DEVICE, index, entry))

    # -- barns and recalls ---------------------------------------------------------

    def barns(self, feed: bool) -> None:
        for barn, windows in self.windows.items():
            merged = _merge(windows)
            self.windows[barn] = merged
            for index, entry in self.index.about(barn):
                payload = entry.payload
                named = barn in payload["subjects"] and payload["event"] != "recalled"
                if named and _inside(entry.ts, merged):
                    self._add(self.up, _item(barn, BARN_EVENT, index, entry))
            for dev in self.index.devices_at(barn):
                self._devices(dev)
                if feed and "feed" in self.index.device_kinds(dev):
                    self._refills(barn, dev, merged)

    def _refills(self, barn: str, dev: str, windows: Sequence[Window]) -> None:
        for (before, low), (index, ts, high) in feed_rises(self.store, self.limit, dev, windows):
            if high - low >= REFILL_MIN_KG:
                extra: dict[str, FieldValue] = {"barn": barn.partition(":")[2], "device": dev}
                extra |= {"before_kg": low, "after_kg": high, "before_index": before}
                fields = tuple(sorted(extra.items()))
                self._add(self.up, TraceItem(barn, FEED_REFILL, "reading", index, ts, dev, fields))

    def find_recalls(self) -> None:
        for index, entry in self.index.events("recalled"):
            for subject in entry.payload["subjects"]:
                other = self.index.foreign_origin(index, subject)
                if other is not None:  # another log's subject: by (origin, subject) only
                    if (other, subject) in self.named_foreign:
                        self._add(self.recalls, _item(subject, RECALL, index, entry))
                    continue
                windows = self.windows.get(subject, ())
                if subject in self.named or _inside(entry.ts, windows):
                    self._add(self.recalls, _item(subject, RECALL, index, entry))


def _merge(windows: Iterable[Window]) -> list[Window]:
    merged: list[Window] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
