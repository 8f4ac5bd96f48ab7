"""A brute-force trace, to check chain.trace against.

Deliberately naive: it parses every entry below the limit once, and answers
each question by scanning all of them, straight from the definitions in
chain.trace's docstring. It shares no code with chain.trace (no index, no
stays helper), only the entry parser and GS1's pack subject.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from chain.entries import Entry, parse_entry
from chain.gs1 import DigitalLink, pack_subject
from chain.store import Store

FOREVER = 2**62
Key = tuple[str, str, int]  # (subject, relation, index)


@dataclass(frozen=True)
class Expected:
    birds: frozenset[str]
    down: frozenset[Key]
    up: frozenset[Key]
    recalls: frozenset[Key]


def _made(entry: Entry) -> list[str]:
    p = entry.payload
    if p["event"] == "slaughtered":
        return list(p["outputs"])
    if p["event"] == "packed":
        return [pack_subject(DigitalLink(p["gtin"], p.get("serial"), p.get("lot")))]
    return []


class Reference:
    def __init__(self, store: Store, limit: int | None = None) -> None:
        limit = store.entry_count if limit is None else limit
        self.entries = [(i, parse_entry(store.entry(i))) for i in range(limit)]
        self.events = [(i, e) for i, e in self.entries if e.type == "event"]

    def _events(self, kinds: set[str]) -> list[tuple[int, Entry]]:
        return [(i, e) for i, e in self.events if e.payload["event"] in kinds]

    def stays(self, bird: str) -> list[tuple[str, int, int, int]]:
        """(barn subject, start, end, opening index) of each stay."""
        mine = sorted(
            (
                (e.ts, i, e)
                for i, e in self._events({"placed", "moved", "slaughtered", "died"})
                if bird in e.payload["subjects"]
            ),
            key=lambda t: (t[0], t[1]),
        )
        found: list[tuple[str, int, int, int]] = []
        current: tuple[str, int, int] | None = None
        for ts, i, e in mine:
            if current is not None:
                found.append((current[0], current[1], ts, current[2]))
                current = None
            if e.payload["event"] in ("placed", "moved"):
                current = (f"barn:{e.payload['barn']}", ts, i)
        if current is not None:
            found.append((current[0], current[1], FOREVER, current[2]))
        return found

    def _devices_at(self, location: str) -> set[str]:
        return {
            str(e.payload["dev"])
            for _, e in self.entries
            if e.type == "device"
            and e.payload["action"] == "register"
            and e.payload.get("location") == location
        }

    def _device_keys(self, dev: str) -> set[Key]:
        return {
            (f"device:{dev}", "device", i)
            for i, e in self.entries
            if e.type == "device" and e.payload["dev"] == dev
        }

    def _refills(self, barn: str, dev: str, windows: list[tuple[int, int]]) -> set[Key]:
        kinds = {
            k
            for _, e in self.entries
            if e.type == "device" and e.payload["dev"] == dev
            for k in e.payload.get("kinds", ())
        }
        if "feed" not in kinds:
            return set()
        readings = sorted(
            (e.ts, i, float(e.payload["value"]) * (0.001 if e.payload["unit"] == "g" else 1))
            for i, e in self.entries
            if e.type == "reading"
            and e.payload["subject"] == f"feeder:{dev}"
            and e.payload["kind"] == "feed"
            and e.payload["dev"] == dev
        )
        found = set()
        for start, end in windows:
            inside = [r for r in readings if start <= r[0] < end]
            for a, b in itertools.pairwise(inside):
                if b[2] - a[2] >= 1.0:
                    found.add((barn, "feed_refill", b[1]))
        return found

    def expected(self, start: str, window: tuple[int, int] | None = None) -> Expected:
        kind = start.partition(":")[0]
        down: set[Key] = set()
        up: set[Key] = set()
        named: set[str] = set()
        windows: dict[str, list[tuple[int, int]]] = {}
        birds: set[str] = set()
        packs: set[str] = set()
        if kind in ("pack", "lot"):
            named.add(start)
            packs.add(start)
            for i, e in self._events({"packed"}):
                if start in _made(e):
                    up.add((start, "packing", i))
                    for source in e.payload["subjects"]:
                        named.add(source)
                        if source.startswith("bird:"):
                            birds.add(source)
                        for j, s in self._events({"slaughtered"}):
                            if source in s.payload["outputs"]:
                                up.add((source, "input", j))
                                birds.update(s.payload["subjects"])
        elif kind == "bird":
            birds.add(start)
        else:
            assert window is not None
            windows[start] = [window]
            for bird in {
                s for _, e in self._events({"placed", "moved"}) for s in e.payload["subjects"]
            }:
                for barn, s, e_, i in self.stays(bird):
                    if barn == start and s < window[1] and e_ > window[0]:
                        down.add((bird, "bird", i))
                        birds.add(bird)
        named |= birds
        if kind in ("bird", "barn"):
            sources = set(birds)
            for i, e in self._events({"slaughtered"}):
                if birds & set(e.payload["subjects"]):
                    for out in e.payload["outputs"]:
                        down.add((out, "output", i))
                        sources.add(out)
            for i, e in self._events({"packed"}):
                if sources & set(e.payload["subjects"]):
                    for pack in _made(e):
                        down.add((pack, "pack", i))
                        packs.add(pack)
            named |= sources | packs
        for i, e in self._events({"shipped", "received"}):
            for pack in packs & set(e.payload["subjects"]):
                down.add((pack, "shipment", i))
        for i, e in self._events({"hatched", "vaccinated", "treated", "inspected", "died"}):
            for bird in birds & set(e.payload["subjects"]):
                up.add((bird, "bird_event", i))
        for bird in birds:
            for dev in self._devices_at(bird):
                up |= self._device_keys(dev)
            if kind != "barn":
                for barn, s, e_, i in self.stays(bird):
                    up.add((bird, "stay", i))
                    windows.setdefault(barn, []).append((s, e_))
        merged = {barn: _merge(w) for barn, w in windows.items()}
        for barn, spans in merged.items():
            for i, e in self.events:
                named_barn = barn in e.payload["subjects"] and e.payload["event"] != "recalled"
                if named_barn and any(s <= e.ts < t for s, t in spans):
                    up.add((barn, "barn_event", i))
            for dev in self._devices_at(barn):
                up |= self._device_keys(dev)
                up |= self._refills(barn, dev, spans)
        recalls: set[Key] = set()
        for i, e in self._events({"recalled"}):
            for subject in e.payload["subjects"]:
                spans = merged.get(subject, [])
                if subject in named or any(s <= e.ts < t for s, t in spans):
                    recalls.add((subject, "recall", i))
        found = bool(down or up or recalls)
        ids = frozenset(b.partition(":")[2] for b in birds) if found else frozenset()
        return Expected(ids, frozenset(down), frozenset(up), frozenset(recalls))


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(windows):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
