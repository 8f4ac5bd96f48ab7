"""Entries as the stories show them: event rows and packs."""

from __future__ import annotations

from chain.entries import Entry, member_text
from chain.errors import FarmtraceError
from chain.gs1 import DigitalLink
from consumer_web._directory import Directory
from consumer_web._story import EventRow, PackInfo

__all__ = ["event_row", "pack_info"]

_COMMON = frozenset({"type", "seq", "ts", "event", "subjects"})


def event_row(entry: Entry, index: int, height: int, directory: Directory) -> EventRow:
    """The :class:`EventRow` of event ``entry`` (log index ``index``, in block ``height``)."""
    payload = entry.payload
    fields = tuple(sorted((k, member_text(v)) for k, v in payload.items() if k not in _COMMON))
    return EventRow(
        index,
        height,
        entry.ts,
        str(payload["event"]),
        entry.kid,
        directory.operator_name(entry.kid),
        tuple(str(s) for s in payload["subjects"]),
        fields,
    )


def pack_info(entry: Entry, index: int) -> PackInfo | None:
    """The pack or lot a ``packed`` event made, or None if it is not a valid one."""
    payload = entry.payload
    try:
        link = DigitalLink(str(payload["gtin"]), payload.get("serial"), payload.get("lot"))
    except (FarmtraceError, KeyError):
        return None
    weight = payload.get("weight_g")
    return PackInfo(
        link.gtin,
        link.serial,
        link.lot,
        link.path,
        entry.ts,
        index,
        _text_or_none(payload.get("plant")),
        weight if type(weight) is int else None,
        _text_or_none(payload.get("product")),
        _text_or_none(payload.get("best_before")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
