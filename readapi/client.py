"""A client of the read API (design.md section 5 and issue 4's extra endpoints).

:class:`ReadApiClient` fetches what a gateway or a replica serves and checks
that each answer has the promised shape; it verifies nothing cryptographic
(that is :mod:`chain.follow`'s job, on the caller's side)::

    client = ReadApiClient("http://gateway.example:8080")
    note = client.checkpoint()
    block = client.block(0)          # FetchedBlock(height, header_raw, entries)
    path = client.inclusion(0, 5)    # [32-byte hashes]
    events = client.subject_events("bird:0001")   # [(log index, entry bytes)], log order

Every failure is a :class:`~chain.errors.SourceError` whose ``reason`` says
whether the source was unreachable, answered with an HTTP error (the message
carries its JSON error text) or sent a malformed body (whatever it holds:
bodies are decoded by :mod:`chain.json_input`); a negative height or
size, or a malformed block hash, is the caller's bug (ValueError). HTTP goes
through a :class:`Transport`, a plain callable, so that another HTTP stack
(or a fake, in tests of the parsing) can be plugged in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from chain.errors import MalformedError, SourceError
from chain.json_input import load_json_object
from chain.proof_bundle import EntryProof

__all__ = ["MAX_RESPONSE_BYTES", "FetchedBlock", "ReadApiClient", "Transport", "urllib_transport"]

MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""The default transport refuses bodies longer than this (a block of 100k entries is ~40 MB)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")


class Transport(Protocol):
    """Performs one HTTP request; returns ``(status, headers, body)``.

    Any status (including 4xx and 5xx) is returned, not raised. Headers are
    keyed in lower case. When there is no complete answer (connection
    refused or reset, timeout, truncated body), it raises :class:`OSError` or
    :class:`http.client.HTTPException`.
    """

    def __call__(self, method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        """Perform ``method`` on ``url``, giving up after ``timeout`` seconds."""
        ...


def urllib_transport(method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """The default :class:`Transport`, on :mod:`urllib.request` (follows redirects)."""
    request = urllib.request.Request(url, method=method, headers={"Accept-Encoding": "identity"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read(65536)
    with response:
        body = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise http.client.HTTPException(f"response longer than {MAX_RESPONSE_BYTES} bytes")
        return response.status, {k.lower(): v for k, v in response.headers.items()}, body


@dataclass(frozen=True, slots=True)
class FetchedBlock:
    """A block as a source served it: unverified header bytes and entry bytes, in order."""

    height: int
    header_raw: bytes
    entries: list[bytes]


class ReadApiClient:
    """The read API of one source at ``base_url`` (scheme, host, port and optional path prefix).

    Thread-safe as far as the transport is (the default one is).
    """

    def __init__(
        self, base_url: str, *, transport: Transport | None = None, timeout: float = 10
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport: Transport = transport or urllib_transport
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ReadApiClient({self.base_url!r})"

    # -- HTTP ----------------------------------------------------------------

    def _get(self, url: str) -> bytes:
        try:
            status, _headers, body = self._transport("GET", url, self.timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise SourceError(
                f"{url}: source unreachable: {str(exc) or type(exc).__name__}",
                reason="unreachable",
                url=url,
            ) from exc
        if status != 200:
            raise SourceError(
                f"{url}: HTTP {status}: {_error_text(body)}",
                reason="http_error",
                url=url,
                status=status,
            )
        return body

    def _json(self, url: str) -> dict[str, Any]:
        body = self._get(url)
        try:
            return load_json_object(body, "body", max_bytes=MAX_RESPONSE_BYTES)
        except MalformedError as exc:
            raise _malformed(url, str(exc)) from None

    # -- endpoints -------------------------------------------------------------

    def checkpoint(self) -> str:
        """The source's latest signed checkpoint note, exactly as served (``GET /checkpoint``)."""
        url = self.base_url + "/checkpoint"
        body = self._get(url)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed(url, "not UTF-8 text") from exc

    def newest_checkpoint(self) -> str:
        """A gateway's newest signed checkpoint, cosigned or not.

        ``GET /api/v1/checkpoints/newest``, exactly as served.

        Mirrors copy blocks ahead of the witnesses with it
        (``farmtrace site run --stage-uncosigned``); a source that does not
        serve it answers 404 (a SourceError with status 404).
        """
        url = self.base_url + "/api/v1/checkpoints/newest"
        body = self._get(url)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed(url, "not UTF-8 text") from exc

    def log_info(self) -> dict[str, Any]:
        """``GET /api/v1/log``: at least ``origin`` and ``vkey`` (strings) and ``witnesses``."""
        url = self.base_url + "/api/v1/log"
        info = self._json(url)
        for name in ("origin", "vkey"):
            _member(info, name, str, url)
        if not isinstance(info.get("witnesses", []), list):
            raise _malformed(url, "witnesses: expected a list")
        return info

    def block(self, height: int) -> FetchedBlock:
        """Block ``height`` (``GET /api/v1/blocks/<height>``), unverified."""
        url = self.base_url + f"/api/v1/blocks/{_uint(height, 'height')}"
        return _fetched_block(self._json(url), height, url)

    def block_by_hash(self, block_hash: str) -> FetchedBlock:
        """The block whose header hashes to ``block_hash`` (``GET /api/v1/batches/<hash>``).

        Raises:
            ValueError: ``block_hash`` is not 64 lowercase hex digits.
        """
        if not _HEX64.fullmatch(block_hash):
            raise ValueError(f"block hash: expected 64 lowercase hex digits, got {block_hash!r}")
        url = self.base_url + f"/api/v1/batches/{block_hash}"
        body = self._json(url)
        height = _member(body, "height", int, url)
        block = _fetched_block(body, height, url)
        if body.get("hash") != block_hash:
            raise _malformed(url, f"served block {body.get('hash')!r}, not {block_hash}")
        return block

    def inclusion(self, height: int, tree_size: int) -> list[bytes]:
        """Audit path of block ``height`` in the tree of ``tree_size`` blocks."""
        url = self.base_url + (
            f"/api/v1/blocks/{_uint(height, 'height')}/inclusion"
            f"?tree_size={_uint(tree_size, 'tree_size')}"
        )
        body = self._json(url)
        if body.get("leaf_index") != height or body.get("tree_size") != tree_size:
            raise _malformed(url, "leaf_index or tree_size differ from the request")
        return _hashes(body, url)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """Consistency proof from tree size ``first`` to ``second``."""
        url = (
            self.base_url
            + f"/api/v1/consistency?first={_uint(first, 'first')}&second={_uint(second, 'second')}"
        )
        return _hashes(self._json(url), url)

    def entry_proof(self, index: int, tree_size: int | None = None) -> EntryProof:
        """The proof bundle of entry ``index`` at ``tree_size`` (default: the latest checkpoint)."""
        url = self.base_url + f"/api/v1/entries/{_uint(index, 'index')}/proof"
        if tree_size is not None:
            url += f"?tree_size={_uint(tree_size, 'tree_size')}"
        body = self._get(url)
        try:
            return EntryProof.from_json(body)
        except MalformedError as exc:
            raise _malformed(url, str(exc)) from exc

    def ref_checkpoint(self, origin: str, size: int) -> str:
        """The note of log ``origin``'s tree ``size`` this log kept when it checked a reference.

        ``GET /api/v1/refs/<sha256(origin) hex>/checkpoints/<size>``; unchecked
        here (it is a note of the other log: verify it with that log's pinned key).
        A note this log did not keep is a :class:`SourceError` with status 404.
        """
        origin_hash = hashlib.sha256(origin.encode()).hexdigest()
        url = self.base_url + f"/api/v1/refs/{origin_hash}/checkpoints/{_uint(size, 'size')}"
        body = self._get(url)
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed(url, "not UTF-8 text") from exc

    def signer(self, signer_id: str, tree_size: int | None = None) -> dict[str, Any]:
        """``GET /api/v1/signers/<id>``: ``{"id", "grants": [...], "registry_proof"}`` in log order.

        With ``tree_size``: the grants in the tree of that size, and the
        registry proof there (docs/registry-commitment.md); unchecked here.
        """
        url = self.base_url + f"/api/v1/signers/{quote(signer_id, safe='')}"
        if tree_size is not None:
            url += f"?tree_size={_uint(tree_size, 'tree_size')}"
        body = self._json(url)
        if body.get("id") != signer_id:
            raise _malformed(url, f"describes {body.get('id')!r}, not {signer_id!r}")
        grants = body.get("grants")
        if not isinstance(grants, list) or not all(isinstance(g, dict) for g in grants):
            raise _malformed(url, "grants: expected a list of objects")
        return body

    def subject_events(self, subject: str) -> list[tuple[int, bytes]]:
        """``GET /api/v1/subjects/<subject>/events``: the events naming ``subject``, in log order.

        Returns ``(global log index, exact entry bytes)`` pairs; an event that
        brings ``subject`` into being (a slaughter's output, a pack) counts. The
        entries are unverified and unparsed; only committed entries are served.
        A subject no event names yields ``[]``.
        """
        url = self.base_url + f"/api/v1/subjects/{quote(subject, safe=':')}/events"
        body = self._json(url)
        if body.get("subject") != subject:
            raise _malformed(url, f"describes {body.get('subject')!r}, not {subject!r}")
        events = body.get("events")
        if not isinstance(events, list):
            raise _malformed(url, "events: expected a list")
        found: list[tuple[int, bytes]] = []
        for item in events:
            index = item.get("index") if isinstance(item, dict) else None
            entry = item.get("entry") if isinstance(item, dict) else None
            if type(index) is not int or index < 0 or not isinstance(entry, str):
                raise _malformed(url, "events: expected objects with an index and an entry")
            if found and index <= found[-1][0]:
                raise _malformed(url, "events: expected ascending log indexes")
            if not entry.isascii():
                raise _malformed(url, "events: expected ASCII JWS entries")
            found.append((index, entry.encode("ascii")))
        return found


def _uint(value: int, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what}: expected a non-negative int, got {value!r}")
    return value


def _malformed(url: str, message: str) -> SourceError:
    return SourceError(
        f"{url}: malformed response: {message}", reason="malformed_response", url=url
    )


def _error_text(body: bytes) -> str:
    try:
        error = load_json_object(body, "error body", max_bytes=65536).get("error")
    except MalformedError:
        error = None
    return error[:500] if isinstance(error, str) else repr(body[:200])


def _member(obj: dict[str, Any], name: str, kind: type[Any], url: str) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _malformed(url, f"{name}: expected {kind.__name__}, found {type(value).__name__}")
    return value


def _b64(text: object, what: str, url: str) -> bytes:
    if not isinstance(text, str):
        raise _malformed(url, f"{what}: expected a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(url, f"{what}: not base64 ({exc})") from exc


def _hashes(body: dict[str, Any], url: str) -> list[bytes]:
    hashes = body.get("hashes")
    if not isinstance(hashes, list):
        raise _malformed(url, "hashes: expected a list")
    decoded = [_b64(h, "hash", url) for h in hashes]
    if any(len(h) != 32 for h in decoded):
        raise _malformed(url, "hashes: expected 32-byte hashes")
    return decoded


def _fetched_block(body: dict[str, Any], height: int, url: str) -> FetchedBlock:
    header_raw = _b64(body.get("header_b64"), "header_b64", url)
    entries = body.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise _malformed(url, "entries: expected a list of strings")
    try:
        raw_entries = [e.encode("ascii") for e in entries]
    except UnicodeEncodeError as exc:
        raise _malformed(url, "entries: expected ASCII JWS") from exc
    return FetchedBlock(height, header_raw, raw_entries)
