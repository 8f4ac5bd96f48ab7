"""One EPCIS 2.0 document across logs: a pack's, lot's or bird's story as each party's log tells it.

::

    doc = export_across(
        [ExportedLog(plant_store), ExportedLog(farm_store)],
        DigitalLink(gtin, serial="S0001"),
        base_url="https://shop.example",
        created_ms=now_ms,
        others={"farm-a.example/log": OtherLog("https://farm-a.example")},
    )

When each party keeps its own log (docs/supply-chain.md section 7), a pack's
story is told by several logs: the plant's log packed it and slaughtered its
birds, whose ``slaughtered`` events reference the farm's log; a
distributor's and a shop's logs received it. Each log exports its own events
exactly as a one-log export does (:mod:`chain.epcis`), and every event also
names the log it comes from (``farmtrace:log``), so that a reader proves it
against that log.

What each log contributes: a pack or lot (globally unique) is looked for in
every log: where a log packed it, its packing story (:func:`select_pack`);
where a log only names it (a shipment, a receipt, a recall), those events.
A bird id is only unique within a log, so ``bird:<id>`` is the first log's
bird. Then references lead upstream: a selected event's ``refs`` item
naming a subject of another exported log adds that log's story of that
subject (a bird, a pack or a lot; a carcass's is its slaughter's), and so on.

Identifiers: packs and lots are their GS1 Digital Links under ``base_url``
(the resolver's root); with one log, every other URI is under ``base_url``
as in a one-log export; with several, each log's are under
``<base_url>/logs/<slug>`` (where a site following those logs mounts it).
With ``others`` (from the verifier's pins), each ``farmtrace:refs`` item
carries ``farmtrace:proof``, the referenced entry's proof URL at that log's
own source, and a ``received`` event names each referenced party as a
``sourceList`` item of type ``owning_party``.

Pure, apart from reading the stores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain.crosslog import LogReference, refs_in
from chain.entries import Entry
from chain.epcis import EPCIS_CONTEXT, NAMESPACE
from chain.epcis._events import REF_MEMBERS, EventMapper
from chain.epcis._ids import Identifiers, iso_time
from chain.epcis._select import Selection, UnknownSubjectError, select_bird, select_pack
from chain.epcis._sensors import sensor_event
from chain.epcis._view import LogView
from chain.errors import MalformedError
from chain.gs1 import DigitalLink, pack_subject, parse_pack_subject
from chain.store import Store

__all__ = ["ExportedLog", "OtherLog", "export_across", "log_slug"]

_ITEM = ("pack:", "lot:")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class ExportedLog:
    """One log to export from: its ``store``, the entries to consider (``until``), its ``slug``.

    ``until`` None means every committed entry (pass
    :func:`chain.epcis.covered_entries`); ``slug`` None means :func:`log_slug`
    of its origin.
    """

    store: Store
    until: int | None = None
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class OtherLog:
    """What the verifier pinned of a log that references name: its read API and its party's URI.

    ``source`` is the log's read-API base URL (its pins' first source);
    ``party`` the URI naming the party that keeps it (default: ``source``).
    """

    source: str
    party: str | None = None


def log_slug(origin: str) -> str:
    """A URL-safe short name for a log: ``farm-a-example`` for ``farm-a.example/log``."""
    slug = re.sub(r"[^a-z0-9]+", "-", origin.lower().removesuffix("/log")).strip("-")
    return slug[:56] or "log"


class _LogIdentifiers(Identifiers):
    """One log's URIs under ``base_url``; GS1 Digital Links under the resolver's ``link_base``."""

    def __init__(self, base_url: str, link_base: str) -> None:
        super().__init__(base_url)
        self.link_base = link_base

    def link(self, link: DigitalLink) -> str:
        return self.link_base + link.path


@dataclass
class _Part:
    view: LogView
    ids: Identifiers
    selection: Selection


def export_across(
    logs: Sequence[ExportedLog],
    subject: str | DigitalLink,
    *,
    base_url: str,
    created_ms: int,
    others: Mapping[str, OtherLog] | None = None,
) -> dict[str, Any]:
    """The EPCIS document of a bird (its id, in the first log), a pack or a lot across ``logs``.

    ``others`` maps origins to what the verifier pinned of them (see the
    module docstring); ``created_ms`` is the ``creationDate``.

    Raises:
        MalformedError: no logs, two logs of one origin or slug, ``base_url``
            not an http(s) base URL, a bad bird id or slug, or an entry's time
            that cannot be written in ISO 8601.
        UnknownSubjectError: no log tells anything about the subject.
        StorageError: a store failed or holds an entry that does not parse.
    """
    if not logs:
        raise MalformedError("an export across logs needs at least one log")
    link_base = Identifiers(base_url).base
    views: dict[str, tuple[LogView, Identifiers]] = {}
    for log in logs:
        origin = log.store.origin
        slug = log_slug(origin) if log.slug is None else log.slug
        if not _SLUG.fullmatch(slug):
            raise MalformedError(
                f"log slug: expected lowercase letters, digits and -, found {slug!r}"
            )
        base = link_base if len(logs) == 1 else f"{link_base}/logs/{slug}"
        if origin in views or any(v[1].base == base for v in views.values()):
            raise MalformedError(f"log {origin!r} (slug {slug!r}) is given twice")
        views[origin] = (LogView(log.store, log.until), _LogIdentifiers(base, link_base))
    start, first = _start(subject)
    parts = _walk(views, start, None if first else logs[0].store.origin)
    if not parts:
        raise UnknownSubjectError(f"{start}: none of the {len(logs)} logs tells anything about it")
    return _document(parts, start, created_ms, others or {})


def _start(subject: str | DigitalLink) -> tuple[str, bool]:
    """The subject to start from, and whether every log may tell of it (packs and lots)."""
    if isinstance(subject, DigitalLink):
        return pack_subject(subject), True
    return f"bird:{subject}", False


def _select(view: LogView, subject: str) -> Selection | None:
    """``view``'s story of ``subject``, or None when it tells nothing of it."""
    kind, _, ident = subject.partition(":")
    try:
        if kind == "bird":
            return select_bird(view, ident)
        if subject.startswith(_ITEM):
            return select_pack(view, parse_pack_subject(subject))
    except UnknownSubjectError:
        pass
    about = view.events(subject)  # a pack it only received, or a carcass
    if not about:
        return None
    selection = Selection(subject)
    selection.events.update(about)
    return selection


def _walk(
    views: Mapping[str, tuple[LogView, Identifiers]], start: str, only: str | None
) -> dict[str, _Part]:
    """Each log's selection: the start subject, then upstream through references."""
    todo = [(origin, start) for origin in views if only is None or origin == only]
    seen: set[tuple[str, str]] = set(todo)
    parts: dict[str, _Part] = {}
    while todo:
        origin, subject = todo.pop(0)
        view, ids = views[origin]
        selection = _select(view, subject)
        if selection is None:
            continue
        part = parts.setdefault(origin, _Part(view, ids, Selection(start)))
        part.selection.events.update(selection.events)
        part.selection.readings.update(selection.readings)
        for entry in selection.events.values():
            for ref in _refs(entry):
                step = (ref.log, ref.subject)
                if ref.log in views and step not in seen:
                    seen.add(step)
                    todo.append(step)
    return parts


def _refs(entry: Entry) -> tuple[LogReference, ...]:
    return refs_in(entry.payload)


def _document(
    parts: Mapping[str, _Part], start: str, created_ms: int, others: Mapping[str, OtherLog]
) -> dict[str, Any]:
    keyed: list[tuple[int, int, int, int, dict[str, Any]]] = []
    logs: list[dict[str, Any]] = []
    for number, (origin, part) in enumerate(parts.items()):
        mapper = EventMapper(part.view, part.ids)
        for index, entry in part.selection.events.items():
            event = _with_others(mapper.event(index, entry), entry, others)
            keyed.append((entry.ts, 0, number, index, event | {"farmtrace:log": origin}))
        order = 0
        for bird, windows in part.selection.readings.items():
            for window, readings in windows:
                sensed = sensor_event(part.view, part.ids, bird, window, readings)
                if sensed is not None:
                    last = max(reading.ts for reading in readings)
                    keyed.append((last, 1, number, order, sensed | {"farmtrace:log": origin}))
                    order += 1
        until, store = part.view.until, part.view.store
        logs.append(
            {
                "farmtrace:log": origin,
                "farmtrace:base": part.ids.base,
                "farmtrace:treeSize": 0 if until == 0 else store.block_of_entry(until - 1) + 1,
                "farmtrace:entryCount": until,
            }
        )
    keyed.sort(key=lambda item: item[:4])
    return {
        "@context": [EPCIS_CONTEXT, {"farmtrace": NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(created_ms),
        "farmtrace:subject": start,
        "farmtrace:logs": logs,
        "epcisBody": {"eventList": [event for *_, event in keyed]},
    }


def _with_others(
    event: dict[str, Any], entry: Entry, others: Mapping[str, OtherLog]
) -> dict[str, Any]:
    """``event`` with its references' proof URLs and, for a receipt, the referenced parties."""
    refs = event.get("farmtrace:refs")
    if not refs or not others:
        return event
    log_member, index_member = REF_MEMBERS["log"], REF_MEMBERS["index"]
    items = []
    parties: list[str] = []
    for item in refs:
        other = others.get(item[log_member])
        if other is None:
            items.append(item)
            continue
        proof = f"{other.source}/api/v1/entries/{item[index_member]}/proof"
        items.append(item | {"farmtrace:proof": proof})
        party = other.party or other.source
        if party not in parties:
            parties.append(party)
    event = event | {"farmtrace:refs": items}
    if entry.payload.get("event") == "received" and parties:
        owning = [{"type": "owning_party", "source": party} for party in parties]
        event["sourceList"] = [*event.get("sourceList", []), *owning]
    return event
