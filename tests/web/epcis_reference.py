"""What an EPCIS export must say, worked out by brute force from every entry of a log.

The reference reads each entry below the cutoff in index order (no subject
index), and states the mapping from lifecycle events to EPCIS independently
of :mod:`chain.epcis`. ``validator()`` is GS1's EPCIS 2.0 JSON schema with
format checking on (``uri`` through rfc3987, ``date-time`` through
rfc3339-validator).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

from chain.entries import Entry, parse_entry
from chain.store import Store

SCHEMA = Path(__file__).resolve().parent / "assets" / "EPCIS-JSON-Schema.json"
HOUR = 3_600_000
FOREVER = 2**63

# kind -> (type, action, bizStep, disposition); packed and inspected depend on the payload.
MAPPING: Mapping[str, tuple[str, str | None, str | None, str | None]] = {
    "hatched": ("ObjectEvent", "ADD", "commissioning", "active"),
    "placed": ("ObjectEvent", "OBSERVE", "arriving", None),
    "moved": ("ObjectEvent", "OBSERVE", "arriving", None),
    "vaccinated": ("ObjectEvent", "OBSERVE", "other", None),
    "treated": ("ObjectEvent", "OBSERVE", "other", None),
    "died": ("ObjectEvent", "DELETE", "destroying", "destroyed"),
    "slaughtered": ("TransformationEvent", None, "commissioning", "active"),
    "shipped": ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    "received": ("ObjectEvent", "OBSERVE", "receiving", None),
    "recalled": ("ObjectEvent", "OBSERVE", None, "recalled"),
}
MEASURES = {
    "temperature": ("Temperature", "CEL"),
    "humidity": ("RelativeHumidity", "P1"),
    "feed": ("Mass", "KGM"),
    "water": ("Volume", "LTR"),
    "activity": ("Count", None),
    "weight": ("Mass", "KGM"),
}


@cache
def validator() -> Draft7Validator:
    """GS1's schema (checked itself), with a format checker that enforces uri and date-time."""
    assert SCHEMA.is_file(), f"GS1's EPCIS schema is missing: {SCHEMA}"
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    checker = FormatChecker()
    assert {"uri", "date-time"} <= set(checker.checkers), "install rfc3987 and rfc3339-validator"
    return Draft7Validator(schema, format_checker=checker)


def schema_errors(document: Any) -> list[str]:
    """Every schema violation of ``document``, as 'path: message'."""
    found = validator().iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in found)


def ms(text: str) -> int:
    """An ISO 8601 time with an offset as milliseconds since the epoch."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() is not None, text
    return round(moment.timestamp() * 1000)


def uri(base: str, subject: str) -> str:
    """The identifier the export must use for ``subject``."""
    kind, _, ident = subject.partition(":")
    if kind in ("pack", "lot"):
        gtin, _, value = ident.partition(".")
        return f"{base}/01/{gtin}/{'21' if kind == 'pack' else '10'}/{value}"
    if kind == "bird":
        return f"{base}/bird/{ident}"
    return f"{base}/id/{kind}/{ident}"


def product_of(payload: Mapping[str, Any]) -> str | None:
    """The pack or lot a packed event makes."""
    if payload.get("event") != "packed":
        return None
    if "serial" in payload:
        return f"pack:{payload['gtin']}.{payload['serial']}"
    return f"lot:{payload['gtin']}.{payload['lot']}"


@dataclass(frozen=True)
class Stay:
    barn: str
    start: int
    end: int
    opened_by: int
    closed_by: int | None


class Scan:
    """Every entry of ``store`` below ``until``, read one by one."""

    def __init__(self, store: Store, until: int) -> None:
        self.entries = [(i, parse_entry(store.entry(i))) for i in range(until)]
        self.block_hash: dict[int, str] = {}
        for height in range(store.size):
            header = store.block(height)
            for index in range(header.first_index, header.next_index):
                self.block_hash[index] = header.hash
        self.located: dict[str, str] = {}
        for _, entry in self.entries:
            if entry.type == "device" and entry.payload["action"] == "register":
                self.located[str(entry.payload["dev"])] = str(entry.payload.get("location"))

    def events(self) -> list[tuple[int, Entry]]:
        return [(i, e) for i, e in self.entries if e.type == "event"]

    def naming(self, subjects: Iterable[str]) -> dict[int, Entry]:
        """Events that list any of ``subjects``, or make one (slaughter outputs, packs)."""
        wanted = set(subjects)
        found = {}
        for index, entry in self.events():
            p = entry.payload
            made = set(p.get("outputs", ())) if p["event"] == "slaughtered" else set()
            product = product_of(p)
            if product is not None:
                made.add(product)
            if wanted & (set(p["subjects"]) | made):
                found[index] = entry
        return found

    def stays(self, bird: str) -> list[Stay]:
        stays: list[Stay] = []
        open_: tuple[str, int, int] | None = None
        for index, entry in sorted(self.naming([f"bird:{bird}"]).items(), key=_by_time):
            kind = entry.payload["event"]
            if kind in ("placed", "moved", "slaughtered", "died") and open_ is not None:
                stays.append(Stay(open_[0], open_[1], entry.ts, open_[2], index))
                open_ = None
            if kind in ("placed", "moved"):
                open_ = (str(entry.payload["barn"]), entry.ts, index)
        if open_ is not None:
            stays.append(Stay(open_[0], open_[1], FOREVER, open_[2], None))
        return stays

    def story(self, birds: Iterable[str], product: str | None = None) -> dict[int, Entry]:
        """The lifecycle events of ``birds`` (downstream limited to ``product`` if given)."""

        def fits(entry: Entry) -> bool:
            made = product_of(entry.payload)
            return product is None or made is None or made == product

        inputs = {
            s
            for e in self.naming([product] if product else []).values()
            if product_of(e.payload) == product
            for s in e.payload["subjects"]
        }
        found: dict[int, Entry] = {}
        for bird in birds:
            own = {i: e for i, e in self.naming([f"bird:{bird}"]).items() if fits(e)}
            outputs = [o for e in own.values() for o in e.payload.get("outputs", ())]
            if product is not None:
                outputs = [o for o in outputs if o in inputs]
            downstream = {i: e for i, e in self.naming(outputs).items() if fits(e)}
            made = [product_of(e.payload) for e in (own | downstream).values()]
            found |= own | downstream | self.naming(p for p in made if p is not None)
            for stay in self.stays(bird):
                for index, entry in self.naming([f"barn:{stay.barn}"]).items():
                    if stay.start <= entry.ts < stay.end:
                        found[index] = entry
        return found

    def sensors(self, bird: str) -> dict[tuple[Any, ...], tuple[float, float, float, int]]:
        """(barn or None, hour, kind, device, block hash) -> (min, mean, max, count)."""
        stays = self.stays(bird)
        groups: dict[tuple[Any, ...], list[float]] = {}
        for index, entry in self.entries:
            if entry.type != "reading":
                continue
            subject, ts = entry.payload["subject"], entry.ts
            barn: str | None = None
            for stay in stays:
                barn_subject = f"barn:{stay.barn}"
                feeder = subject.startswith("feeder:") and (
                    self.located.get(subject.partition(":")[2]) == barn_subject
                )
                here = subject in (barn_subject, f"bird:{bird}") or feeder
                if here and stay.start <= ts < stay.end:
                    barn = stay.barn
                    break
            else:
                if subject != f"bird:{bird}":
                    continue
            key = (barn, ts // HOUR * HOUR, entry.payload["kind"], entry.kid)
            groups.setdefault((*key, self.block_hash[index]), []).append(entry.payload["value"])
        return {k: (min(v), sum(v) / len(v), max(v), len(v)) for k, v in groups.items()}


def _by_time(item: tuple[int, Entry]) -> tuple[int, int]:
    return item[1].ts, item[0]


def exported_sensors(document: Mapping[str, Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The sensor reports of ``document`` keyed like :meth:`Scan.sensors` (for one bird)."""
    found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for event in document["epcisBody"]["eventList"]:
        if event.get("bizStep") != "sensor_reporting":
            continue
        barn = event.get("farmtrace:barn")
        for element in event["sensorElementList"]:
            hour = ms(element["sensorMetadata"]["startTime"]) // HOUR * HOUR
            for report in element["sensorReport"]:
                dev = report["deviceID"].rsplit("/", 1)[1]
                block_hash = report["rawData"].rsplit("/", 1)[1]
                key = (barn, hour, report["farmtrace:kind"], dev, block_hash)
                assert key not in found, f"two reports for {key}"
                values = (report["minValue"], report["meanValue"], report["maxValue"])
                found[key] = (*values, report["farmtrace:count"])
    return found
