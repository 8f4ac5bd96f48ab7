"""Signed lifecycle events as EPCIS 2.0 events: one EPCIS event per ``event`` entry.

The mapping, with Core Business Vocabulary (CBV 2.0) values only:

============  =====================================================================
hatched       ObjectEvent ADD, bizStep ``commissioning``, disposition ``active``; the
              hatchery's facts (breed, parent flock) as ILMD
placed/moved  ObjectEvent OBSERVE, bizStep ``arriving`` ("an object arrives at a
              location"; ``storing`` is a warehouse's put-away), readPoint and
              bizLocation the barn
vaccinated    ObjectEvent OBSERVE, bizStep ``other``: no CBV step names a treatment,
              and calling it ``inspecting`` would claim an inspection nobody made
treated       ObjectEvent OBSERVE, bizStep ``other``, as vaccinated (CBV 2.0 has no
              step for giving medicine); a barn treatment names the barn and is
              located there; medicine, dose and withdrawal as ``farmtrace:`` members
inspected     ObjectEvent OBSERVE, bizStep ``inspecting``, disposition ``conformant``
              or ``non_conformant`` (CBV 2.0) from the result; a barn inspection
              names the barn (a fixed asset) and is located there
died          ObjectEvent DELETE, bizStep ``destroying`` (the object ends),
              disposition ``destroyed``
slaughtered   TransformationEvent, bird in, carcasses/cuts out, bizStep
              ``commissioning`` of the outputs, disposition ``active``
packed        serial: AggregationEvent ADD, bizStep ``packing``, parentID the pack's
              Digital Link, childEPCs the carcasses. lot: TransformationEvent, bizStep
              ``packing``, the carcasses in, the lot's LGTIN out (``outputQuantityList``,
              with the packed weight in KGM): a lot is a class, and EPCIS wants an
              instance as an aggregation's parentID. A lot's ``best_before`` is
              also the CBV master data attribute ``cbvmda:bestBeforeDate`` (GS1
              AI 15) in the event's ILMD; an AggregationEvent has no ILMD, so a
              serial pack's is only ``farmtrace:best_before``
shipped       ObjectEvent OBSERVE, bizStep ``shipping``, disposition ``in_transit``,
              source and destination (type ``location``)
received      ObjectEvent OBSERVE, bizStep ``receiving``, located at ``location``
recalled      ObjectEvent OBSERVE, disposition ``recalled`` (also set as persistent
              disposition); no bizStep: no CBV step names a recall notice
============  =====================================================================

Lots appear in ``quantityList``; every other subject in ``epcList``. Every event
carries the entry it comes from (``farmtrace:entry``, the signed JWS), its index,
block and proof URL, and each payload member as ``farmtrace:<member>``. Cross-log
references (``refs``, :mod:`chain.crosslog`) are ``farmtrace:refs``, each item's
members named as this log's own are (:data:`REF_MEMBERS`; docs/supply-chain.md
section 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chain.entries import Entry
from chain.epcis._ids import TZ_OFFSET, Identifiers, check_time, entry_event_id, iso_time
from chain.epcis._view import LogView
from chain.gs1 import DigitalLink

__all__ = ["REF_MEMBERS", "EventMapper", "proof_fields"]

_COMMON = frozenset({"type", "seq", "ts", "event", "subjects"})
_ILMD = {"hatched": frozenset({"breed", "hatchery", "parent_flock"})}
_BARN = "barn"
_Builder = Callable[[Mapping[str, Any], list[str]], dict[str, Any]]

REF_MEMBERS = {
    "log": "farmtrace:log",
    "index": "farmtrace:entryIndex",
    "hash": "farmtrace:entryHash",
    "size": "farmtrace:treeSize",
    "root": "farmtrace:rootHash",
    "subject": "farmtrace:subject",
}
"""Each ``refs`` item's member and the ``farmtrace:`` member it exports as."""


def proof_fields(view: LogView, ids: Identifiers, index: int, entry: Entry) -> dict[str, Any]:
    """The ``farmtrace:`` members that lead a reader from an event to its signed entry."""
    height, block_hash = view.block(index)
    return {
        "farmtrace:entryIndex": index,
        "farmtrace:blockHeight": height,
        "farmtrace:blockHash": block_hash,
        "farmtrace:batch": ids.batch(block_hash),
        "farmtrace:proof": ids.proof(index),
        "farmtrace:signer": entry.kid,
        "farmtrace:entry": entry.raw.decode("ascii"),
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class EventMapper:
    """Maps lifecycle entries of ``view`` to EPCIS events with URIs from ``ids``."""

    def __init__(self, view: LogView, ids: Identifiers) -> None:
        self.view = view
        self.ids = ids
        self._builders: dict[str, _Builder] = {
            "hatched": self._hatched,
            "placed": self._placed,
            "moved": self._placed,
            "vaccinated": self._vaccinated,
            "treated": self._treated,
            "inspected": self._inspected,
            "died": self._died,
            "slaughtered": self._slaughtered,
            "packed": self._packed,
            "shipped": self._shipped,
            "received": self._received,
            "recalled": self._recalled,
        }

    def event(self, index: int, entry: Entry) -> dict[str, Any]:
        """The EPCIS event of ``entry`` (an ``event`` entry stored at ``index``)."""
        check_time(entry.ts, index)
        payload = entry.payload
        kind = str(payload["event"])
        subjects = [str(s) for s in payload["subjects"]]
        body: dict[str, Any] = {
            "eventTime": iso_time(entry.ts),
            "eventTimeZoneOffset": TZ_OFFSET,
        }
        build = self._builders.get(kind)
        body |= build(payload, subjects) if build is not None else self._other(subjects)
        ilmd = _ILMD.get(kind, frozenset())
        members = {n: _plain(v) for n, v in payload.items() if n not in _COMMON}
        if "refs" in members:
            members["refs"] = [{REF_MEMBERS[n]: v for n, v in r.items()} for r in members["refs"]]
        if ilmd & members.keys():
            body["ilmd"] = {f"farmtrace:{n}": v for n, v in members.items() if n in ilmd}
        body["farmtrace:event"] = kind
        body["farmtrace:subjects"] = subjects
        body |= {f"farmtrace:{n}": v for n, v in members.items() if n not in ilmd}
        body |= proof_fields(self.view, self.ids, index, entry)
        return {"eventID": entry_event_id(entry.raw)} | body

    # -- helpers ---------------------------------------------------------------------

    def _objects(self, subjects: Iterable[str]) -> dict[str, Any]:
        """``epcList`` (instances) and ``quantityList`` (lots) of an ObjectEvent."""
        epcs: list[str] = []
        lots: list[dict[str, Any]] = []
        for subject in subjects:
            if subject.startswith("lot:"):
                lots.append({"epcClass": self.ids.subject(subject)})
            else:
                epcs.append(self.ids.subject(subject))
        found: dict[str, Any] = {}
        if epcs or not lots:
            found["epcList"] = epcs
        if lots:
            found["quantityList"] = lots
        return found

    def _at(self, uri: str) -> dict[str, Any]:
        return {"readPoint": {"id": uri}, "bizLocation": {"id": uri}}

    def _observe(self, subjects: Iterable[str], **fields: Any) -> dict[str, Any]:
        return {"type": "ObjectEvent", **self._objects(subjects), "action": "OBSERVE", **fields}

    # -- one method per event kind ---------------------------------------------------

    def _hatched(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            **self._objects(subjects),
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
        }

    def _placed(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        barn = self.ids.subject(f"{_BARN}:{payload['barn']}")
        return self._observe(subjects, bizStep="arriving", **self._at(barn))

    def _vaccinated(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        return self._observe(subjects, bizStep="other")

    def _treated(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {"bizStep": "other"}
        barns = [s for s in subjects if s.startswith(f"{_BARN}:")]
        if len(barns) == 1:
            fields |= self._at(self.ids.subject(barns[0]))
        return self._observe(subjects, **fields)

    def _inspected(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        result = "conformant" if payload["result"] == "pass" else "non_conformant"
        fields: dict[str, Any] = {"bizStep": "inspecting", "disposition": result}
        barns = [s for s in subjects if s.startswith(f"{_BARN}:")]
        if len(barns) == 1:
            fields |= self._at(self.ids.subject(barns[0]))
        return self._observe(subjects, **fields)

    def _died(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            **self._objects(subjects),
            "action": "DELETE",
            "bizStep": "destroying",
            "disposition": "destroyed",
        }

    def _slaughtered(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "TransformationEvent",
            "inputEPCList": [self.ids.subject(s) for s in subjects],
            "outputEPCList": [self.ids.subject(str(s)) for s in payload["outputs"]],
            "bizStep": "commissioning",
            "disposition": "active",
        }
        return event | self._plant(payload)

    def _packed(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        inputs = [self.ids.subject(s) for s in subjects]
        gtin = str(payload["gtin"])
        if "serial" in payload:
            parent = self.ids.link(DigitalLink(gtin, serial=str(payload["serial"])))
            event: dict[str, Any] = {
                "type": "AggregationEvent",
                "parentID": parent,
                "childEPCs": inputs,
                "action": "ADD",
                "bizStep": "packing",
            }
            return event | self._plant(payload)
        output: dict[str, Any] = {"epcClass": self.ids.link(DigitalLink(gtin, lot=payload["lot"]))}
        if "weight_g" in payload:
            output |= {"quantity": payload["weight_g"] / 1000, "uom": "KGM"}
        event = {
            "type": "TransformationEvent",
            "inputEPCList": inputs,
            "outputQuantityList": [output],
            "bizStep": "packing",
        }
        if "best_before" in payload:
            event["ilmd"] = {"cbvmda:bestBeforeDate": payload["best_before"]}
        return event | self._plant(payload)

    def _plant(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        plant = payload.get("plant")
        return {} if not isinstance(plant, str) else {"bizLocation": {"id": self.ids.place(plant)}}

    def _shipped(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {"bizStep": "shipping", "disposition": "in_transit"}
        source = payload.get("source")
        if isinstance(source, str):
            fields["readPoint"] = {"id": self.ids.place(source)}
            fields["sourceList"] = [{"type": "location", "source": self.ids.place(source)}]
        destination = self.ids.place(str(payload["destination"]))
        fields["destinationList"] = [{"type": "location", "destination": destination}]
        return self._observe(subjects, **fields)

    def _received(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        place = self.ids.place(str(payload["location"]))
        destinations = [{"type": "location", "destination": place}]
        return self._observe(
            subjects, bizStep="receiving", **self._at(place), destinationList=destinations
        )

    def _recalled(self, payload: Mapping[str, Any], subjects: list[str]) -> dict[str, Any]:
        return self._observe(
            subjects, disposition="recalled", persistentDisposition={"set": ["recalled"]}
        )

    def _other(self, subjects: list[str]) -> dict[str, Any]:
        """An event kind this module does not know yet: observed, no bizStep claimed."""
        return self._observe(subjects)
