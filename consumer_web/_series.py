"""An in-memory cache of what the log says about each subject, kept up to date by tailing.

A bird's page reads thousands of readings (its barns' climate every few
minutes for weeks, its own tag every quarter hour). Parsing them from the
store on every request would take far longer than a page may, so a
:class:`SubjectCache` keeps, per subject, its readings as compact per-device
arrays sorted by time (:class:`Series`) and its other entries (events) parsed.
A subject is loaded on first use from the store's subject/time index; after
that, entries committed later are folded in by reading only the new ones
("tailing" the log from the last entry seen). Nothing is ever recomputed from
scratch while the log grows by appends; the least recently used subjects are
dropped when the cache holds more than ``max_readings`` readings.

Entries are only ever counted up to a ``cutoff`` (an entry count): the site
shows what its latest signed checkpoint covers, nothing newer. Readings were
verified (signature, authority) before they reached the store, so they are
decoded here without re-validation; an entry that still fails to decode is
skipped and counted in :attr:`SubjectCache.skipped`.

Not thread-safe: callers hold :attr:`SubjectCache.lock` around every use.
"""

from __future__ import annotations

import base64
import json
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError
from chain.store import Store, entry_subjects

__all__ = ["Series", "SubjectCache", "SubjectData"]

_MAX_SUBJECTS = 20_000
"""Subjects kept at most: even an empty one (an id nobody logged) costs some memory."""

_TAIL_MAX = 20_000
"""Beyond this many new entries, forget every subject instead of tailing (reload on demand)."""


@dataclass(slots=True)
class Series:
    """The readings of one ``(subject, kind, dev)`` stream, sorted by (ts, index).

    Parallel arrays: ``ts`` (ms), ``value``, ``index`` (global entry index)
    and ``seq`` (the device's sequence number).
    """

    subject: str
    kind: str
    dev: str
    unit: str
    ts: array[int] = field(default_factory=lambda: array("q"))
    value: array[float] = field(default_factory=lambda: array("d"))
    index: array[int] = field(default_factory=lambda: array("q"))
    seq: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, ts: int, value: float, index: int, seq: int) -> None:
        """Insert one reading in (ts, index) order (appending is the common case)."""
        n = len(self.ts)
        if n == 0 or (ts, index) > (self.ts[-1], self.index[-1]):
            pos = n
        else:
            pos = bisect_right(self.ts, ts)
            while pos > 0 and self.ts[pos - 1] == ts and self.index[pos - 1] > index:
                pos -= 1
        if pos == n:
            self.ts.append(ts)
            self.value.append(value)
            self.index.append(index)
            self.seq.append(seq)
            return
        self.ts.insert(pos, ts)
        self.value.insert(pos, value)
        self.index.insert(pos, index)
        self.seq.insert(pos, seq)

    def window(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of the readings with ``start_ms <= ts < end_ms``."""
        return bisect_left(self.ts, start_ms), bisect_left(self.ts, end_ms)


@dataclass(slots=True)
class SubjectData:
    """Everything cached about one subject: reading series and other entries."""

    subject: str
    series: dict[tuple[str, str], Series] = field(default_factory=dict)
    entries: list[tuple[int, int, Entry]] = field(default_factory=list)  # (ts, index, entry)
    readings: int = 0

    def kind(self, kind: str) -> list[Series]:
        """The series of ``kind``, one per device, by device id."""
        return [s for (k, _), s in sorted(self.series.items()) if k == kind]

    def add_entry(self, entry: Entry, index: int) -> None:
        item = (entry.ts, index, entry)
        if not self.entries or item[:2] > self.entries[-1][:2]:
            self.entries.append(item)
        else:
            pos = bisect_left([e[:2] for e in self.entries], item[:2])
            self.entries.insert(pos, item)


def _reading_payload(raw: bytes) -> dict[str, Any] | None:
    """A stored entry's payload if it is a reading, else None (decoded without validation)."""
    first = raw.find(b".")
    second = raw.find(b".", first + 1)
    segment = raw[first + 1 : second]
    payload = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    if not isinstance(payload, dict) or payload.get("type") != "reading":
        return None
    return payload


class SubjectCache:
    """Per-subject readings and events of ``store``, up to a growing cutoff.

    Attributes: ``lock`` (hold it around every call), ``covered`` (entries
    ``[0, covered)`` are reflected in every cached subject), ``skipped``
    (entries that could not be decoded), ``loads`` and ``tailed`` (counters).
    """

    def __init__(self, store: Store, *, max_readings: int = 2_000_000) -> None:
        self.store = store
        self.max_readings = max_readings
        self.lock = threading.RLock()
        self.covered = 0
        self.skipped = 0
        self.loads = 0
        self.tailed = 0
        self._subjects: OrderedDict[str, SubjectData] = OrderedDict()
        self._readings = 0

    @property
    def readings(self) -> int:
        """Readings held in memory."""
        return self._readings

    def __len__(self) -> int:
        return len(self._subjects)

    def advance(self, cutoff: int) -> None:
        """Fold entries ``[covered, cutoff)`` into the cached subjects.

        A cutoff below ``covered`` (the store was replaced) or far above it
        empties the cache instead; subjects then reload on demand.
        """
        if cutoff == self.covered:
            return
        if not self._subjects or cutoff < self.covered or cutoff - self.covered > _TAIL_MAX:
            self._subjects.clear()
            self._readings = 0
            self.covered = cutoff
            return
        for index in range(self.covered, cutoff):
            self._fold(index, self.store.entry(index))
            self.tailed += 1
        self.covered = cutoff

    def has(self, subject: str) -> bool:
        """Whether ``subject`` is cached."""
        return subject in self._subjects

    def get(self, subject: str) -> SubjectData:
        """The cached data of ``subject`` up to ``covered``, loading it if needed."""
        data = self._subjects.get(subject)
        if data is not None:
            self._subjects.move_to_end(subject)
            return data
        data = SubjectData(subject)
        self._subjects[subject] = data
        for index in self.store.subject_entries(subject):
            if index < self.covered:
                self._fold(index, self.store.entry(index), data)
        self.loads += 1
        self._evict()
        return data

    def _fold(self, index: int, raw: bytes, only: SubjectData | None = None) -> None:
        """Add entry ``index`` to ``only``, or (tailing) to every cached subject it concerns."""
        try:
            payload = _reading_payload(raw)
            if payload is None:
                entry = parse_entry(raw)
                subjects = entry_subjects(entry) if only is None else (only.subject,)
                for subject in subjects:
                    data = self._subjects.get(subject)
                    if data is not None:
                        data.add_entry(entry, index)
                return
            data = only or self._subjects.get(str(payload["subject"]))
            if data is None:
                return
            key = (str(payload["kind"]), str(payload["dev"]))
            series = data.series.get(key)
            if series is None:
                series = Series(data.subject, key[0], key[1], str(payload["unit"]))
                data.series[key] = series
            series.add(int(payload["ts"]), float(payload["value"]), index, int(payload["seq"]))
        except (ValueError, KeyError, TypeError, FarmtraceError):
            self.skipped += 1
            return
        data.readings += 1
        self._readings += 1

    def _evict(self) -> None:
        while len(self._subjects) > 1 and (
            self._readings > self.max_readings or len(self._subjects) > _MAX_SUBJECTS
        ):
            _, data = self._subjects.popitem(last=False)
            self._readings -= data.readings
