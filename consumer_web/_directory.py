"""Who the signers are: devices and operators as their latest registrations describe them.

Read from the store's registration index up to a cutoff, and kept up to date
by reading only registrations added since. A revocation keeps what the last
registration said (a revoked sensor still installed in a barn described it
until then).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.store import Store

__all__ = ["Directory"]


class Directory:
    """Devices and operators of ``store``'s log. Not thread-safe (callers serialise)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reset()

    def _reset(self) -> None:
        self._seen = 0  # registrations [0, _seen) of the index are applied
        self._cutoff = -1
        self._devices: dict[str, Mapping[str, Any]] = {}
        self._operators: dict[str, Mapping[str, Any]] = {}
        self._located: dict[str, list[str]] = {}

    def advance(self, cutoff: int) -> None:
        """Apply every registration entry with an index below ``cutoff``."""
        if cutoff == self._cutoff:
            return
        if cutoff < self._cutoff:
            self._reset()
        self._cutoff = cutoff
        indexes = self.store.registration_indexes()
        while self._seen < len(indexes) and indexes[self._seen] < cutoff:
            try:
                entry = parse_entry(self.store.entry(indexes[self._seen]))
            except (FarmtraceError, KeyError):
                entry = None
            self._seen += 1
            if entry is None or entry.payload.get("action") != "register":
                continue
            if entry.type == "device":
                self._devices[str(entry.payload["dev"])] = entry.payload
            else:
                self._operators[str(entry.payload["op"])] = entry.payload
        located: dict[str, list[str]] = {}
        for dev, payload in sorted(self._devices.items()):
            if isinstance(payload.get("location"), str):
                located.setdefault(payload["location"], []).append(dev)
        self._located = located

    def device(self, dev: str) -> Mapping[str, Any]:
        """The latest registration payload of device ``dev`` (empty if none)."""
        return self._devices.get(dev, MappingProxyType({}))

    def located_at(self, subject: str) -> list[str]:
        """Ids of the devices whose registration ``location`` is ``subject``, sorted."""
        return list(self._located.get(subject, ()))

    def feeders_at(self, subject: str) -> list[str]:
        """Ids of the feed devices installed at ``subject`` (registered kinds include feed).

        A feeder reports about ``feeder:<its id>`` (issue 4 plan, section 1).
        """
        return [
            dev
            for dev in self._located.get(subject, ())
            if "feed" in self._devices[dev].get("kinds", ("feed",))
        ]

    def heavy_subjects(self) -> list[str]:
        """Subjects whose readings are many: where devices are installed, barns first.

        Feeders count too (``feeder:<device>`` of each feed device in a barn).
        """
        locations = sorted(self._located, key=lambda s: (not s.startswith("barn:"), s))
        barns = [s for s in locations if s.startswith("barn:")]
        feeders = [f"feeder:{dev}" for barn in barns for dev in self.feeders_at(barn)]
        return barns + feeders + [s for s in locations if not s.startswith("barn:")]

    def operator_name(self, op: str) -> str | None:
        """The ``name`` operator ``op``'s registration gives, if any."""
        name = self._operators.get(op, {}).get("name")
        return name if isinstance(name, str) else None

    def operator_roles(self, op: str) -> frozenset[str]:
        """The ``roles`` operator ``op``'s latest registration grants (empty if none)."""
        roles = self._operators.get(op, {}).get("roles")
        return frozenset(str(r) for r in roles) if isinstance(roles, (list, tuple)) else frozenset()
