"""The EPCIS 2.0 export API: a bird's, pack's or lot's lifecycle as GS1 EPCIS JSON-LD.

``GET /api/v1/epcis/birds/<id>``, ``/api/v1/epcis/01/<GTIN>/21/<serial>`` and
``/api/v1/epcis/01/<GTIN>/10/<lot>`` answer an ``EPCISDocument``
(``application/ld+json``; see :mod:`chain.epcis`) told up to the latest signed
checkpoint, like every page of the site. Identifiers are URIs under the
site's configured origin (:func:`consumer_web._qr.site_origin`, never the
request's Host header), so a pack's is the GS1 Digital Link its QR code
encodes, and each eventID is derived from the signed entries alone. Errors
are JSON ``{"error": ...}``: 400 for a malformed id or link (a wrong GTIN
check digit says so), 404 for one the log does not know or before the first
checkpoint, 500 (logged) when the log holds something EPCIS cannot express (a
time beyond the year 9999), the store fails or ``PUBLIC_URL`` is malformed.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from chain.epcis import UnknownSubjectError, export_bird, export_pack, validate_base_url
from chain.errors import FarmtraceError, GS1Error, MalformedError
from chain.gs1 import parse_digital_link_path
from chain.jws import ID_PATTERN
from consumer_web._qr import site_origin
from consumer_web._site import current_site

__all__ = ["MEDIA_TYPE", "bp"]

MEDIA_TYPE = "application/ld+json"

bp = Blueprint("epcis", __name__)

_ID = re.compile(ID_PATTERN)
_logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> Response:
    body = json.dumps({"error": message})
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _export(make: Callable[[str, int, int], dict[str, Any]]) -> Response:
    """Run ``make(base_url, created_ms, until)`` against the site's checkpointed log."""
    site = current_site()
    head = site.lifecycle.head()
    if head is None:
        return _error(404, "the log has no checkpoint yet")
    try:
        base = validate_base_url(site_origin())
    except MalformedError as exc:  # a wrong PUBLIC_URL: the operator's mistake
        _logger.error("EPCIS export: PUBLIC_URL: %s", exc)
        return _error(500, f"identifiers: {exc}")
    try:
        document = make(base, time.time_ns() // 1_000_000, head.entry_count)
    except UnknownSubjectError as exc:
        return _error(404, str(exc))
    except FarmtraceError as exc:  # the log holds what EPCIS cannot say, or the store failed
        _logger.error("EPCIS export of %s failed: %s", request.path, exc)
        return _error(500, f"cannot export: {exc}")
    response = Response(json.dumps(document, ensure_ascii=False), mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/v1/epcis/birds/<bird_id>")
def bird(bird_id: str) -> Response:
    """A bird's lifecycle as an EPCIS document."""
    if not _ID.fullmatch(bird_id):
        return _error(400, f"bird id: expected an id matching {ID_PATTERN}, found {bird_id[:80]!r}")
    store = current_site().data.store
    return _export(
        lambda base, created, until: export_bird(
            store, bird_id, base_url=base, created_ms=created, until=until
        )
    )


@bp.get("/api/v1/epcis/01/<gtin>/21/<serial>")
@bp.get("/api/v1/epcis/01/<gtin>/10/<lot>")
def pack(gtin: str, serial: str | None = None, lot: str | None = None) -> Response:
    """A pack's or lot's lifecycle as an EPCIS document (the bird(s) in it included)."""
    ai, value = ("21", serial) if serial is not None else ("10", lot or "")
    try:
        link = parse_digital_link_path(f"/01/{quote(gtin, safe='')}/{ai}/{quote(value, safe='')}")
    except GS1Error as exc:
        return _error(400, str(exc))
    store = current_site().data.store
    return _export(
        lambda base, created, until: export_pack(
            store, link, base_url=base, created_ms=created, until=until
        )
    )
