"""The part of a store an export reads: entries below a cutoff, by subject, with their blocks.

Private to :mod:`chain.epcis`. Entries in the store were verified when they
were committed; they are parsed again here (not re-verified) and cached per
export. Readings, the bulk of a log, are only decoded (as the site does).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass

from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError, StorageError
from chain.store import Store

__all__ = ["FOREVER", "LogView", "Reading", "Stay", "stays_of"]

FOREVER = 2**63
"""The end of an open time window (a bird still in its barn)."""

_STAY_EVENTS = ("placed", "moved", "slaughtered", "died")


@dataclass(frozen=True, slots=True)
class Stay:
    """A bird's stay in barn ``barn`` from ``start_ms`` to ``end_ms`` (exclusive, or FOREVER).

    ``opened_by`` is the index of the ``placed``/``moved`` entry that began it,
    ``closed_by`` the index of the event that ended it (None while it lasts).
    """

    barn: str
    start_ms: int
    end_ms: int
    opened_by: int
    closed_by: int | None


def stays_of(events: Iterable[tuple[int, Entry]]) -> list[Stay]:
    """The barn stays a bird's ``events`` describe (given in ``(ts, index)`` order).

    A stay opens at ``placed`` or ``moved`` (into its ``barn``) and closes at
    the next of those, or at ``slaughtered`` or ``died``.
    """
    stays: list[Stay] = []
    current: tuple[str, int, int] | None = None
    for index, entry in events:
        kind = entry.payload.get("event")
        if kind not in _STAY_EVENTS:
            continue
        if current is not None:
            stays.append(Stay(current[0], current[1], entry.ts, current[2], index))
            current = None
        if kind in ("placed", "moved"):
            current = (str(entry.payload["barn"]), entry.ts, index)
    if current is not None:
        stays.append(Stay(current[0], current[1], FOREVER, current[2], None))
    return stays


@dataclass(frozen=True, slots=True)
class Reading:
    """A stored ``reading`` entry's facts, decoded without re-validation (it was verified)."""

    index: int
    ts: int
    dev: str
    kind: str
    subject: str
    value: float
    unit: str


def _reading(index: int, raw: bytes) -> Reading | None:
    """The reading ``raw`` holds, or None if it holds another type of entry.

    Raises:
        ValueError, KeyError, TypeError: ``raw`` is not a JWS with a JSON payload
            of the expected shape.
    """
    first = raw.index(b".")
    segment = raw[first + 1 : raw.index(b".", first + 1)]
    payload = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    if payload["type"] != "reading":
        return None
    value = payload["value"]
    if type(value) not in (int, float) or type(payload["ts"]) is not int:
        raise TypeError(f"reading value {value!r} or ts {payload['ts']!r} is not a number")
    fields = (payload[name] for name in ("dev", "kind", "subject", "unit"))
    dev, kind, subject, unit = (str(field) for field in fields)
    return Reading(index, payload["ts"], dev, kind, subject, value, unit)


class LogView:
    """The entries of ``store`` with an index below ``until`` (default: all committed).

    Raises :class:`~chain.errors.StorageError` when a stored entry does not
    parse (the store is corrupt).
    """

    def __init__(self, store: Store, until: int | None = None) -> None:
        count = store.entry_count
        self.store = store
        self.until = count if until is None else min(until, count)
        self._items: dict[int, Entry | Reading] = {}
        self._block = (0, 0, 0, "")  # first index, next index, height, hash: the last one used
        self._hashes: dict[int, str] = {}
        self._located: dict[str, list[str]] | None = None

    def item(self, index: int) -> Entry | Reading:
        """Entry ``index``: a :class:`Reading` if it is one, else the parsed :class:`Entry`."""
        item = self._items.get(index)
        if item is None:
            try:
                raw = self.store.entry(index)
                item = _reading(index, raw) or parse_entry(raw)
            except (FarmtraceError, KeyError, ValueError, TypeError) as exc:
                raise StorageError(f"stored entry {index} does not parse: {exc}") from exc
            self._items[index] = item
        return item

    def entry(self, index: int) -> Entry:
        """Entry ``index``, parsed (even a reading)."""
        item = self.item(index)
        if isinstance(item, Reading):
            item = self._items[index] = parse_entry(self.store.entry(index))
        return item

    def indexes(self, subject: str, start_ms: int = 0, end_ms: int = FOREVER) -> list[int]:
        """Indexes of the entries about ``subject`` with ``start_ms <= ts < end_ms``, by time."""
        found = self.store.subject_entries(subject, start_ms, end_ms)
        return [index for index in found if index < self.until]

    def split(
        self, subject: str, start_ms: int = 0, end_ms: int = FOREVER
    ) -> tuple[list[tuple[int, Entry]], list[Reading]]:
        """The entries :meth:`indexes` names: ``(index, entry)`` of non-readings, and readings."""
        others: list[tuple[int, Entry]] = []
        readings: list[Reading] = []
        for index in self.indexes(subject, start_ms, end_ms):
            item = self.item(index)
            if isinstance(item, Reading):
                readings.append(item)
            else:
                others.append((index, item))
        return others, readings

    def events(self, subject: str) -> list[tuple[int, Entry]]:
        """``(index, entry)`` of every event about ``subject`` (including derived outputs)."""
        return [(i, e) for i, e in self.split(subject)[0] if e.type == "event"]

    def block(self, index: int) -> tuple[int, str]:
        """``(height, hash)`` of the block holding entry ``index``."""
        first, after, height, block_hash = self._block
        if not first <= index < after:
            height = self.store.block_of_entry(index)
            header = self.store.block(height)
            block_hash = self._hashes.get(height) or self._hashes.setdefault(height, header.hash)
            self._block = (header.first_index, header.next_index, height, block_hash)
        return height, block_hash

    def devices_at(self, location: str) -> list[str]:
        """Devices whose latest registration below the cutoff is installed at ``location``."""
        if self._located is None:
            latest: dict[str, object] = {}
            for index in self.store.registration_indexes():
                if index >= self.until:
                    break
                entry = self.entry(index)
                if entry.type == "device" and entry.payload["action"] == "register":
                    latest[str(entry.payload["dev"])] = entry.payload.get("location")
            located: dict[str, list[str]] = {}
            for dev, where in sorted(latest.items()):
                if isinstance(where, str):
                    located.setdefault(where, []).append(dev)
            self._located = located
        return list(self._located.get(location, ()))
