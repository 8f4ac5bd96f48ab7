"""What a trace reads from a store (see chain.trace): events, registrations, feed levels.

Private to :mod:`chain.trace`. A log holds few events and registrations next
to its readings (a hundred birds' whole lives are a few hundred events among
hundreds of thousands of readings), so :class:`TraceIndex` parses them all
once, through the store's event and registration indexes, and keeps them in
memory by subject. Readings are only read by :func:`feed_rises`, one feeder
and window at a time.

It also indexes the cross-log references events carry (:mod:`chain.crosslog`):
which of this log's events name an entry of another log (:meth:`TraceIndex.referencing`),
built in the same pass, so that a trace crosses logs by lookups only.
"""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, insort
from collections.abc import Iterator, Sequence
from typing import Any

from chain.crosslog import LogReference, refs_in
from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError
from chain.store import Store, entry_subjects

__all__ = ["TraceIndex", "feed_rises"]

_Located = tuple[int, Entry]


class TraceIndex:
    """Every event and device registration of ``store`` below an entry count, parsed.

    :meth:`advance` moves the bound (only entries added since are read; a
    lower bound starts afresh). Entries that do not parse (a store is
    written only with verified entries, so this means corruption) are left
    out and counted in :attr:`skipped` (an event whose ``refs`` do not parse
    is kept without them, and counted too). Not thread-safe: callers serialise.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reset()

    def _reset(self) -> None:
        self.limit = 0
        self.skipped = 0
        self._about: dict[str, list[tuple[int, int, Entry]]] = {}
        self._events: dict[str, list[_Located]] = {}
        self._devices: dict[str, list[_Located]] = {}
        self._located: dict[str, dict[str, None]] = {}
        self._refs: dict[int, tuple[LogReference, ...]] = {}
        self._referrers: dict[int, Entry] = {}
        self._referencing: dict[tuple[str, int], list[int]] = {}

    def advance(self, limit: int) -> None:
        """Include every event and registration with an index below ``limit``.

        Raises:
            StorageError: the store failed.
        """
        if limit < self.limit:
            self._reset()
        if limit == self.limit:
            return
        for index in _between(self.store.event_indexes(), self.limit, limit):
            entry = self._parse(index)
            if entry is not None and entry.type == "event":
                self._add_event(index, entry)
        for index in _between(self.store.registration_indexes(), self.limit, limit):
            entry = self._parse(index)
            if entry is not None and entry.type == "device":
                self._add_device(index, entry)
        self.limit = limit

    def _parse(self, index: int) -> Entry | None:
        try:
            return parse_entry(self.store.entry(index))
        except (FarmtraceError, KeyError):
            self.skipped += 1
            return None

    def _add_event(self, index: int, entry: Entry) -> None:
        for subject in entry_subjects(entry):
            insort(self._about.setdefault(subject, []), (entry.ts, index, entry), key=_ts_index)
        self._events.setdefault(str(entry.payload["event"]), []).append((index, entry))
        if "refs" in entry.payload:
            try:
                refs = refs_in(entry.payload)
            except FarmtraceError:
                self.skipped += 1
                return
            self._refs[index], self._referrers[index] = refs, entry
            for named in dict.fromkeys((ref.log, ref.index) for ref in refs):
                self._referencing.setdefault(named, []).append(index)

    def _add_device(self, index: int, entry: Entry) -> None:
        payload = entry.payload
        dev = str(payload["dev"])
        self._devices.setdefault(dev, []).append((index, entry))
        location = payload.get("location")
        if payload["action"] == "register" and isinstance(location, str):
            self._located.setdefault(location, {})[dev] = None

    def about(self, subject: str) -> list[_Located]:
        """The events naming ``subject`` (or deriving it: a carcass, a pack), by (ts, index)."""
        return [(index, entry) for _, index, entry in self._about.get(subject, ())]

    def events(self, event: str) -> Sequence[_Located]:
        """Every event of kind ``event`` (``placed``, ``recalled`` ...), in log order."""
        return self._events.get(event, ())

    def refs_of(self, index: int) -> tuple[LogReference, ...]:
        """The cross-log references event ``index`` carries (none for any other entry)."""
        return self._refs.get(index, ())

    def referencing(self, origin: str, index: int) -> Sequence[int]:
        """This log's events whose references name entry ``index`` of log ``origin``, in order."""
        return self._referencing.get((origin, index), ())

    def referrer(self, index: int) -> Entry | None:
        """Event ``index`` if it carries cross-log references, else None."""
        return self._referrers.get(index)

    def foreign_origin(self, index: int, subject: str) -> str | None:
        """The other log event ``index`` names ``subject`` of, by a reference; None if its own."""
        return next((ref.log for ref in self._refs.get(index, ()) if ref.subject == subject), None)

    def devices_at(self, location: str) -> list[str]:
        """Ids of the devices a registration ever installed at ``location``, sorted."""
        return sorted(self._located.get(location, ()))

    def device_entries(self, dev: str) -> Sequence[_Located]:
        """Device ``dev``'s registrations and revocations, in log order."""
        return self._devices.get(dev, ())

    def device_kinds(self, dev: str) -> frozenset[str]:
        """The reading kinds any registration of ``dev`` declared."""
        kinds: set[str] = set()
        for _, entry in self._devices.get(dev, ()):
            kinds.update(_strings(entry.payload.get("kinds")))
        return frozenset(kinds)


def _ts_index(item: tuple[int, int, Entry]) -> tuple[int, int]:
    return item[0], item[1]


def _between(indexes: list[int], start: int, stop: int) -> list[int]:
    return indexes[bisect_left(indexes, start) : bisect_left(indexes, stop)]


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else ()


def feed_rises(
    store: Store, limit: int, dev: str, windows: Sequence[tuple[int, int]]
) -> Iterator[tuple[tuple[int, float], tuple[int, int, float]]]:
    """Consecutive feed readings of ``dev`` (about ``feeder:<dev>``) within each window.

    Yields ``((index, kg), (index, ts, kg))`` for each pair of consecutive
    readings (by time) inside one window, levels in kg, among entries below
    ``limit``.

    Raises:
        StorageError: the store failed.
    """
    for start, end in windows:
        last: tuple[int, float] | None = None
        for index in store.subject_entries(f"feeder:{dev}", start, end):
            payload = _reading(store.entry(index)) if index < limit else None
            if payload is None or payload.get("kind") != "feed" or payload.get("dev") != dev:
                continue
            kg = float(payload["value"]) * (0.001 if payload.get("unit") == "g" else 1.0)
            if last is not None:
                yield last, (index, int(payload["ts"]), kg)
            last = (index, kg)


def _reading(raw: bytes) -> dict[str, Any] | None:
    """A stored reading's payload, or None if it is not one.

    Decoded without re-validation: a store holds only entries verified before
    they were committed. Anything that does not decode counts as no reading.
    """
    try:
        segment = raw.split(b".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
        if payload.get("type") != "reading" or not isinstance(payload["value"], (int, float)):
            return None
        return dict(payload)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError):
        return None
