"""GS1 EPCIS 2.0 export of a bird's, a pack's or a lot's lifecycle, from a store.

::

    doc = export_bird(store, "0001", base_url="https://trace.example.com", created_ms=now_ms)
    doc = export_pack(store, DigitalLink(gtin, serial="S0001"), base_url=..., created_ms=...)

The result is an ``EPCISDocument`` in JSON-LD (a dict ready for ``json.dumps``),
valid against GS1's EPCIS 2.0 JSON schema, with CBV 2.0 vocabulary only. What
each signed event becomes is in :mod:`chain.epcis._events`, how readings
become sensor data in :mod:`chain.epcis._sensors`, the identifiers (GS1
Digital Links for packs and lots, URIs under the site's base URL for the
rest) in :mod:`chain.epcis._ids`.

Every event carries, in the ``farmtrace:`` namespace (:data:`NAMESPACE`,
declared in ``@context``), the signed entry it comes from, its index, block
height and hash, and the read API URLs of its block and proof; sensor
reports carry their block as ``rawData``. Events are ordered by
``eventTime``. Times are UTC (``eventTimeZoneOffset`` ``+00:00``).

Only entries below ``until`` are exported: pass :func:`covered_entries` to
tell no more than the latest signed checkpoint covers. Pure, apart from
reading the store.
"""

from __future__ import annotations

import re
from typing import Any

from chain.epcis._events import EventMapper
from chain.epcis._ids import Identifiers, iso_time
from chain.epcis._select import Selection, UnknownSubjectError, select_bird, select_pack
from chain.epcis._sensors import sensor_event
from chain.epcis._view import LogView
from chain.errors import MalformedError
from chain.gs1 import DigitalLink
from chain.jws import ID_PATTERN
from chain.store import Store

__all__ = [
    "EPCIS_CONTEXT",
    "NAMESPACE",
    "UnknownSubjectError",
    "covered_entries",
    "export_bird",
    "export_pack",
    "validate_base_url",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
"""GS1's JSON-LD context for EPCIS 2.0."""

NAMESPACE = "https://farmtrace.example/ns/epcis#"
"""The IRI the ``farmtrace:`` prefix of extension members expands to."""

_ID = re.compile(ID_PATTERN)


def validate_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, if identifiers can be made under it.

    Raises:
        MalformedError: not ``http(s)://HOST[:PORT][/PATH]`` (ASCII, no query or fragment).
    """
    return Identifiers(base_url).base


def covered_entries(store: Store) -> int | None:
    """How many entries the store's latest signed checkpoint covers (None: no checkpoint)."""
    latest = store.latest_checkpoint()
    if latest is None:
        return None
    return store.block(latest[0] - 1).next_index


def export_bird(
    store: Store, bird: str, *, base_url: str, created_ms: int, until: int | None = None
) -> dict[str, Any]:
    """The EPCIS document of bird ``bird`` (its id, e.g. ``"0001"``).

    ``created_ms`` is the document's ``creationDate``; ``until`` the number
    of entries to consider (default: every committed entry).

    Raises:
        MalformedError: ``bird`` is not a farmtrace id, ``base_url`` is not an
            http(s) base URL, or an entry's time cannot be written in ISO 8601.
        UnknownSubjectError: the entries considered never mention the bird.
        StorageError: the store failed or holds an entry that does not parse.
    """
    if not isinstance(bird, str) or not _ID.fullmatch(bird):
        raise MalformedError(f"bird id: expected an id matching {ID_PATTERN}, found {bird!r}")
    ids = Identifiers(base_url)
    view = LogView(store, until)
    return _document(view, ids, select_bird(view, bird), created_ms)


def export_pack(
    store: Store, link: DigitalLink, *, base_url: str, created_ms: int, until: int | None = None
) -> dict[str, Any]:
    """The EPCIS document of the pack (GTIN + serial) or lot (GTIN + lot) ``link`` names.

    Arguments and errors as for :func:`export_bird`; :class:`UnknownSubjectError`
    when no ``packed`` event made it.
    """
    ids = Identifiers(base_url)
    view = LogView(store, until)
    return _document(view, ids, select_pack(view, link), created_ms)


def _document(
    view: LogView, ids: Identifiers, selection: Selection, created_ms: int
) -> dict[str, Any]:
    mapper = EventMapper(view, ids)
    keyed: list[tuple[int, int, int, dict[str, Any]]] = []
    for index, entry in selection.events.items():
        keyed.append((entry.ts, 0, index, mapper.event(index, entry)))
    order = 0
    for bird, windows in selection.readings.items():
        for window, readings in windows:
            event = sensor_event(view, ids, bird, window, readings)
            if event is not None:
                last = max(reading.ts for reading in readings)
                keyed.append((last, 1, order, event))
                order += 1
    keyed.sort(key=lambda item: item[:3])
    tree_size = 0 if view.until == 0 else view.store.block_of_entry(view.until - 1) + 1
    return {
        "@context": [EPCIS_CONTEXT, {"farmtrace": NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(created_ms),
        "farmtrace:log": view.store.origin,
        "farmtrace:subject": selection.subject,
        "farmtrace:treeSize": tree_size,
        "farmtrace:entryCount": view.until,
        "epcisBody": {"eventList": [event for *_, event in keyed]},
    }
