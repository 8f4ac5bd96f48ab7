"""Identifiers and times of an EPCIS export: every URI a document uses is made here.

The URI scheme, under the site's base URL ``<base>`` (e.g. ``https://trace.example.com``):

* a pack: its GS1 Digital Link ``<base>/01/<GTIN-14>/21/<serial>`` (what its QR code
  encodes); a lot: the class-level Digital Link ``<base>/01/<GTIN-14>/10/<lot>`` (an
  LGTIN, used as an ``epcClass`` only, never as an instance);
* a bird: ``<base>/bird/<id>`` (its page on the site);
* any other subject ``<kind>:<id>`` (carcass, cut, barn ...): ``<base>/id/<kind>/<id>``;
  a device: ``<base>/id/device/<id>``;
* a place named by free text in an event (a plant, a distribution centre):
  ``<base>/id/place/<percent-encoded name>``;
* proofs: ``<base>/api/v1/batches/<block hash>`` (a block with its entries),
  ``<base>/api/v1/entries/<index>/proof`` and ``<base>/api/v1/signers/<id>``.

Every value put in a path is percent-encoded, so each result is an RFC 3986 URI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from chain.errors import MalformedError
from chain.gs1 import DigitalLink, parse_pack_subject

__all__ = [
    "LATEST_MS",
    "TZ_OFFSET",
    "Identifiers",
    "check_time",
    "entry_event_id",
    "iso_time",
    "summary_event_id",
]

TZ_OFFSET = "+00:00"
"""``eventTimeZoneOffset`` of every event: entry times are UTC, the farm's zone is not logged."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_MS = 253_402_297_199_999
"""9999-12-31T22:59:59.999Z: the last time whose clock hour still ends in the year 9999."""
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_BASE_URL = re.compile(
    rf"https?://(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?(?:/{_PCHAR}*)*"
)


def iso_time(ms: int) -> str:
    """``ms`` (milliseconds since the Unix epoch) as ISO 8601 / RFC 3339 UTC, to the millisecond.

    Raises:
        MalformedError: ``ms`` lies beyond the year 9999 (entries allow up to 2**53 ms).
    """
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError as exc:
        raise MalformedError(f"time {ms} ms: beyond the year 9999, not expressible") from exc
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_time(ms: int, index: int) -> None:
    """Check that entry ``index``'s time ``ms`` can be written in an export.

    Raises:
        MalformedError: ``ms`` is after :data:`LATEST_MS` (entries allow up to 2**53 ms).
    """
    if ms > LATEST_MS:
        raise MalformedError(
            f"entry {index}: time {ms} ms lies beyond the year 9999, which ISO 8601 "
            "(and so EPCIS) cannot express"
        )


def _ni(digest: bytes) -> str:
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def entry_event_id(raw: bytes) -> str:
    """The ``eventID`` of the EPCIS event told from one signed entry: its RFC 6920 name.

    ``ni:///sha-256;<base64url of SHA-256(raw)>``, ``raw`` being the entry's exact
    JWS bytes as logged. It depends on the signed entry alone, never on the base
    URL of the export, so the site, the CLI and any host name give one event one id,
    and an auditor recomputes it by hashing the entry.
    """
    return _ni(hashlib.sha256(raw).digest())


def summary_event_id(bird: str, barn: str | None, indexes: Iterable[int]) -> str:
    """The ``eventID`` of a ``sensor_reporting`` summary of ``bird``'s readings in ``barn``.

    ``ni:///sha-256;`` over the canonical JSON (sorted keys, no whitespace)
    ``{"barn": barn, "bird": bird, "entries": [log indexes, ascending],
    "farmtrace": "sensor_reporting"}``: it names the signed entries summarised
    (their positions in the append-only log) and the bird they are told for,
    never the base URL, so it is the same from every exporter.
    """
    body = {
        "farmtrace": "sensor_reporting",
        "bird": bird,
        "barn": barn,
        "entries": sorted(set(indexes)),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _ni(hashlib.sha256(text.encode("ascii")).digest())


def _segment(value: str) -> str:
    return quote(value, safe="")


class Identifiers:
    """The URIs of one export, under ``base_url``.

    Raises:
        MalformedError: ``base_url`` is not ``http(s)://host[:port][/path]`` without
            query, fragment or user information.
    """

    def __init__(self, base_url: str) -> None:
        if not isinstance(base_url, str) or not _BASE_URL.fullmatch(base_url):
            shown = repr(base_url[:80]) if isinstance(base_url, str) else repr(base_url)
            raise MalformedError(
                f"base URL: expected http(s)://HOST[:PORT][/PATH] (ASCII, no query or "
                f"fragment), found {shown}"
            )
        self.base = base_url.rstrip("/")

    def link(self, link: DigitalLink) -> str:
        """The GS1 Digital Link URI of a pack (instance) or a lot (class)."""
        return self.base + link.path

    def subject(self, subject: str) -> str:
        """The URI of a farmtrace subject ``<kind>:<id>`` (a pack's or lot's is its Digital Link).

        Precondition: ``subject`` is a valid subject (as in a stored entry).
        """
        kind, _, ident = subject.partition(":")
        if kind in ("pack", "lot"):
            return self.link(parse_pack_subject(subject))
        if kind == "bird":
            return f"{self.base}/bird/{_segment(ident)}"
        return f"{self.base}/id/{_segment(kind)}/{_segment(ident)}"

    def device(self, dev: str) -> str:
        """The URI of device ``dev``."""
        return f"{self.base}/id/device/{_segment(dev)}"

    def place(self, name: str) -> str:
        """The URI of a place an event names by free text (a plant, a shop)."""
        return f"{self.base}/id/place/{_segment(name)}"

    def batch(self, block_hash: str) -> str:
        """The read API's URL of a block and its signed entries."""
        return f"{self.base}/api/v1/batches/{block_hash}"

    def proof(self, index: int) -> str:
        """The read API's URL of entry ``index``'s proof bundle."""
        return f"{self.base}/api/v1/entries/{index}/proof"

    def signer(self, signer: str) -> str:
        """The read API's URL of a signer's registrations."""
        return f"{self.base}/api/v1/signers/{_segment(signer)}"
