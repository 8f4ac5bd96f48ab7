"""Device swaps: a sensor taken out of a place and another put in, read from registrations.

``farmtrace device replace`` registers the new device for the old one's
``location`` and then revokes the old one. A swap is a revocation of a
device installed at a location, with another device registered for that
location for a kind the old one reported (and still registered) shortly
before it: the place's readings go on under the new key. :func:`find_swaps`
is pure (registration entries in log order); :func:`swaps_at` reads them
from a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain.entries import Entry, parse_entry
from chain.errors import FarmtraceError
from chain.store import Store

__all__ = ["SWAP_WINDOW_MS", "DeviceSwap", "find_swaps", "swaps_at"]

SWAP_WINDOW_MS = 60 * 60 * 1000
"""The most time between the new device's registration and the old one's revocation."""


@dataclass(frozen=True, slots=True)
class DeviceSwap:
    """At ``ts``, device ``old_dev`` (key ``old_key``) at ``location`` gave way to ``new_dev``."""

    location: str
    ts: int
    index: int
    old_dev: str
    old_key: str
    new_dev: str
    new_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "ts": self.ts,
            "index": self.index,
            "old": {"dev": self.old_dev, "pubkey": self.old_key},
            "new": {"dev": self.new_dev, "pubkey": self.new_key},
        }


@dataclass(frozen=True, slots=True)
class _Installed:
    dev: str
    location: str
    pubkey: str
    ts: int
    kinds: frozenset[str]


def find_swaps(registrations: Iterable[tuple[int, Entry]]) -> list[DeviceSwap]:
    """Every swap that ``(index, entry)`` registration entries, in log order, describe.

    Entries that are not device registrations or revocations are ignored.
    Of several devices newly registered at the location, the latest is the
    replacement.
    """
    installed: dict[str, _Installed] = {}
    swaps: list[DeviceSwap] = []
    for index, entry in registrations:
        if entry.type != "device":
            continue
        dev = str(entry.payload["dev"])
        if entry.payload["action"] == "register":
            location = entry.payload.get("location")
            if isinstance(location, str):
                pubkey = str(entry.payload["pubkey"])
                kinds = frozenset(str(k) for k in entry.payload.get("kinds", ()))
                installed[dev] = _Installed(dev, location, pubkey, entry.ts, kinds)
            else:
                installed.pop(dev, None)
            continue
        old = installed.pop(dev, None)
        if old is None:
            continue
        successors = [
            d
            for d in installed.values()
            if d.location == old.location
            and d.kinds & old.kinds
            and 0 <= entry.ts - d.ts <= SWAP_WINDOW_MS
        ]
        if successors:
            new = max(successors, key=lambda d: d.ts)
            swaps.append(
                DeviceSwap(old.location, entry.ts, index, dev, old.pubkey, new.dev, new.pubkey)
            )
    return swaps


def swaps_at(
    store: Store, cutoff: int, places: Mapping[str, Sequence[tuple[int, int]]]
) -> tuple[DeviceSwap, ...]:
    """The swaps at each location of ``places`` during one of its ``[start, end)`` ms windows.

    In log order. Only registrations with an index below ``cutoff`` count;
    one that does not parse is skipped (the replica verified what it holds).
    """
    entries = []
    for index in store.registration_indexes():
        if index >= cutoff:
            break
        try:
            entries.append((index, parse_entry(store.entry(index))))
        except (FarmtraceError, KeyError):
            continue
    return tuple(
        swap
        for swap in find_swaps(entries)
        if any(start <= swap.ts < end for start, end in places.get(swap.location, ()))
    )
