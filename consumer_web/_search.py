"""The search box: what a shopper types (or a scanner pastes), resolved to a page.

Understood, in this order: a batch hash (64 hex digits); a GS1 Digital Link
URI or path (``https://host/01/<GTIN>/21/<serial>``, ``/01/.../10/<lot>``); a
GS1 element string (``(01)<GTIN>(21)<serial>`` or ``(10)<lot>``); a GTIN and
a serial separated by a space or a slash; a bird id (``0001`` or
``bird:0001``); a bare pack serial or lot number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chain.errors import GS1Error
from chain.gs1 import (
    DigitalLink,
    parse_digital_link_path,
    parse_pack_subject,
    validate_gtin,
    validate_key_value,
)
from chain.jws import ID_PATTERN
from chain.store import Store

__all__ = ["Resolution", "resolve"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_ELEMENTS = re.compile(r"\(01\)([0-9]{8,14})\((21|10)\)(.+)")
_PAIR = re.compile(r"([0-9]{8,14})[ /]+(\S+)")
_ID = re.compile(ID_PATTERN)
_PACK_KINDS = ("pack:", "lot:")
_MAX_GTINS = 200


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a query leads: one ``url``, or several ``links`` to choose from, or nothing."""

    url: str | None = None
    links: tuple[DigitalLink, ...] = ()


def _link(gtin: str, ai: str, value: str) -> DigitalLink | None:
    try:
        gtin14 = validate_gtin(gtin)
        if ai == "21":
            return DigitalLink(gtin14, serial=validate_key_value(value, "serial"))
        return DigitalLink(gtin14, lot=validate_key_value(value, "lot"))
    except GS1Error:
        return None


def _packs_with(store: Store, value: str) -> list[DigitalLink]:
    """Packs and lots whose serial or lot number is ``value``.

    Pack and lot subjects are ``pack:<gtin>.<serial>`` and ``lot:<gtin>.<lot>``:
    the store lists each GTIN once (an indexed prefix query that seeks past
    each GTIN's packs) and is asked for ``<gtin>.<value>`` under each, so
    the cost grows with the number of GTINs (at most ``_MAX_GTINS`` of
    each kind), not with the number of packs or entries.
    """
    found: list[DigitalLink] = []
    for kind in _PACK_KINDS:
        for gtin in store.subjects(kind, delimiter=".", limit=_MAX_GTINS):
            subject = gtin + value
            if not gtin.endswith(".") or not store.has_subject(subject):
                continue
            try:
                found.append(parse_pack_subject(subject))
            except GS1Error:
                continue
    return found


def resolve(query: str, store: Store, bird_exists: Callable[[str], bool]) -> Resolution:
    """Resolve ``query``; ``bird_exists(id) -> bool`` tells whether a bird is in the log."""
    text = query.strip()
    if _HEX64.fullmatch(text):
        return Resolution(url=f"/batch/{text.lower()}")
    at = text.find("/01/")
    if at >= 0 or text.startswith("01/"):
        path = text[at:] if at >= 0 else "/" + text
        try:
            return Resolution(url=parse_digital_link_path(path.split("?")[0].split("#")[0]).path)
        except GS1Error:
            return Resolution()
    for pattern in (_ELEMENTS, _PAIR):
        match = pattern.fullmatch(text)
        if match:
            gtin, *rest = match.groups()
            ai, value = rest if len(rest) == 2 else ("21", rest[0])
            link = _link(gtin, ai, value)
            return Resolution(url=link.path) if link else Resolution()
    bird = text.removeprefix("bird:")
    if _ID.fullmatch(bird) and bird_exists(bird):
        return Resolution(url=f"/bird/{bird}")
    try:
        validate_key_value(text, "serial")
    except GS1Error:
        return Resolution()
    links = _packs_with(store, text)
    if len(links) == 1:
        return Resolution(url=links[0].path)
    return Resolution(links=tuple(sorted(links, key=lambda link: link.path)))
