"""Log entries and their typed payloads (design.md section 2).

An entry is a compact JWS (see :mod:`chain.jws`, RFC 7515 / RFC 8037) whose
payload is a UTF-8 JSON object (RFC 8259) of one of five types:

* ``reading``: a sensor value signed by a device (``dev`` = the header ``kid``);
  ``unit`` is a SenML unit (RFC 8428 section 12.1) that must fit ``kind``, and
  ``value`` must lie in the kind's :data:`VALUE_RANGES` (else the error's
  reason is ``value_out_of_range``).
* ``event``: a lifecycle fact signed by an operator, about ``subjects``. A
  ``packed`` event's ``best_before`` (``YYYY-MM-DD``) may not precede its
  packing date (:func:`packing_day`).
* ``device`` / ``operator``: registrations and revocations signed by an operator.
* ``gap``: a signer's own declaration that it will never use the seqs
  ``from`` .. ``to`` (reserved, then lost in a crash); ``dev`` = the ``kid``,
  ``from <= to < seq``. Auditors report declared gaps apart from missing ones.

Every payload carries ``type``, ``seq`` (the signer's sequence number, 1, 2,
3 ...; ``(kid, seq)`` is unique in the log, for every type, so that every
signer's stream is replay-protected and gap-checked) and ``ts`` (integer
milliseconds since the Unix epoch). Every integer lies strictly within +-2**53, so
that any JSON implementation reads it exactly. An :class:`Entry` keeps the exact
received bytes: nothing is ever re-serialised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chain._encoding import b64url_decode, b64url_encode
from chain._payloads import (
    ENTRY_TYPES,
    EVENT_SCHEMAS,
    EVENTS,
    KIND_UNITS,
    ROLES,
    SENML_UNITS,
    VALUE_RANGES,
    WITHDRAWAL_DAYS_MAX,
    EventSchema,
    ValueRange,
    fail,
    packing_day,
    validate_payload,
)
from chain.errors import MalformedEntryError
from chain.gs1 import DigitalLink, pack_subject
from chain.jws import (
    check_id,
    loads_json_object,
    parse_compact_fields,
    sign_compact,
    verify_signature,
)

__all__ = [
    "ENTRY_TYPES",
    "EVENTS",
    "KIND_UNITS",
    "ROLES",
    "SENML_UNITS",
    "VALUE_RANGES",
    "WITHDRAWAL_DAYS_MAX",
    "Entry",
    "ValueRange",
    "device_payload",
    "event_members",
    "event_outputs",
    "event_payload",
    "event_subject_kinds",
    "gap_payload",
    "member_text",
    "operator_payload",
    "packing_day",
    "parse_entry",
    "reading_payload",
    "sign_entry",
    "verify_entry",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """A structurally valid log entry; its signature is NOT verified (see :func:`verify_entry`).

    ``raw`` is the exact received JWS; every other field is derived from it, so
    entries compare and hash by ``raw`` alone. ``payload`` is the parsed JSON,
    read-only (arrays become tuples).
    """

    raw: bytes
    kid: str = field(compare=False)
    type: str = field(compare=False)
    seq: int = field(compare=False)
    ts: int = field(compare=False)
    payload: Mapping[str, Any] = field(compare=False, repr=False)
    signing_input: bytes = field(compare=False, repr=False)
    signature: bytes = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        """``(kid, seq)``: unique per log; a second, different entry for it is an equivocation."""
        return self.kid, self.seq

    @property
    def public_key(self) -> bytes | None:
        """The raw 32-byte key a ``device``/``operator`` registration carries, else None."""
        pubkey = self.payload.get("pubkey") if self.type in ("device", "operator") else None
        return None if pubkey is None else b64url_decode(pubkey)


def parse_entry(raw: bytes) -> Entry:
    """Parse and validate ``raw`` as a farmtrace entry, without checking its signature.

    Raises:
        MalformedEntryError: if the JWS is malformed (see :func:`chain.jws.parse_compact`)
            or the payload breaks its type's rules; the message names the member.
    """
    kid, _, payload_bytes, signing_input, signature = parse_compact_fields(raw)
    payload = loads_json_object(payload_bytes, "payload")
    validate_payload(payload, kid)
    return Entry(
        raw,
        kid,
        payload["type"],
        payload["seq"],
        payload["ts"],
        _freeze(payload),
        signing_input,
        signature,
    )


def verify_entry(entry: Entry, public_key: bytes) -> None:
    """Check ``entry``'s signature with the signer's raw 32-byte Ed25519 ``public_key``.

    Raises:
        MalformedEntryError: if ``public_key`` is not 32 bytes.
        SignatureError: if the signature does not verify.
    """
    verify_signature(entry.signing_input, entry.signature, public_key, entry.kid)


def sign_entry(payload: Mapping[str, object], kid: str, seed: bytes) -> bytes:
    """Validate ``payload``, serialise it compactly as UTF-8 JSON and sign it as ``kid``.

    ``seed`` is the signer's 32-byte Ed25519 private seed. The result is
    accepted by :func:`parse_entry`: we never sign what we would reject.

    Raises:
        MalformedEntryError: if ``payload`` or ``kid`` would make an entry
            :func:`parse_entry` rejects (including one over the size limit).
        ValueError: if ``seed`` is not 32 bytes.
    """
    check_id(kid, "kid")
    validate_payload(payload, kid)
    try:
        text = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in a string
        raise MalformedEntryError(f"payload: expected JSON-serialisable UTF-8, {exc}") from exc
    return sign_compact(data, kid, seed)


def member_text(value: object) -> str:
    """A payload member's value as plain text for pages and traces.

    A list is its items joined by ", "; a cross-log reference (``refs``) is
    ``<log> entry <index>``; anything else its ``str``.
    """
    if isinstance(value, (list, tuple)):
        return ", ".join(member_text(item) for item in value)
    if isinstance(value, Mapping) and "log" in value and "index" in value:
        return f"{value['log']} entry {value['index']}"
    return str(value)


def event_outputs(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The subjects an event brings into being, which its signer does not list in ``subjects``.

    ``slaughtered`` yields its ``outputs`` (``carcass:<id>``, ``cut:<id>``);
    ``packed`` yields ``pack:<gtin>.<serial>`` or ``lot:<gtin>.<lot>`` (see
    :func:`chain.gs1.pack_subject`); every other payload yields nothing. The
    store indexes them alongside ``subjects``, so that a pack leads to its
    packed event, whose inputs lead to their slaughter, which names the bird.

    Precondition: ``payload`` is valid (e.g. an :attr:`Entry.payload`).
    """
    if payload.get("type") != "event":
        return ()
    event = payload["event"]
    if event == "slaughtered":
        return tuple(payload["outputs"])
    if event == "packed":
        link = DigitalLink(payload["gtin"], payload.get("serial"), payload.get("lot"))
        return (pack_subject(link),)
    return ()


def event_members(event: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The members an ``event`` payload requires, and those it may carry, besides the common ones.

    The common members (``type, seq, ts, event, subjects``) are not listed.
    Other members are allowed too, as strings, integers or arrays of strings.
    A rule across members is not shown here: a ``packed`` event carries
    exactly one of its optional ``serial`` and ``lot``.

    Raises:
        MalformedEntryError: ``event`` is not one of :data:`EVENTS`.
    """
    schema = _event_schema(event)
    return tuple(schema.required), tuple(schema.optional)


def event_subject_kinds(event: str) -> frozenset[str]:
    """The subject kinds (``bird``, ``pack`` ...) an ``event`` may name; empty: any kind.

    Raises:
        MalformedEntryError: ``event`` is not one of :data:`EVENTS`.
    """
    return _event_schema(event).kinds


def _event_schema(event: str) -> EventSchema:
    schema = EVENT_SCHEMAS.get(event)
    if schema is None:
        fail("event", "one of " + ", ".join(sorted(EVENTS)), event)
    return schema


def reading_payload(
    dev: str, seq: int, ts: int, kind: str, subject: str, value: float, unit: str
) -> dict[str, object]:
    """Build (without validating) a ``reading`` payload; :func:`sign_entry` validates."""
    return dict(
        type="reading", dev=dev, seq=seq, ts=ts, kind=kind, subject=subject, value=value, unit=unit
    )


def event_payload(
    event: str, seq: int, ts: int, subjects: Sequence[str], **fields: object
) -> dict[str, object]:
    """Build (without validating) an ``event`` payload with its event-specific ``fields``."""
    base: dict[str, object] = {"type": "event", "seq": seq, "ts": ts, "event": event}
    return base | {"subjects": list(subjects)} | fields


def device_payload(
    action: str,
    dev: str,
    seq: int,
    ts: int,
    *,
    pubkey: bytes | None = None,
    farm: str | None = None,
    kinds: Sequence[str] | None = None,
    label: str | None = None,
    location: str | None = None,
    subjects: Sequence[str] | None = None,
) -> dict[str, object]:
    """Build (without validating) a ``device`` payload; ``pubkey`` is the raw 32-byte key.

    ``kinds`` and ``subjects`` are what the device's readings may report and
    about what (``barn:b1``, or ``bird:*`` for any bird); a registration
    without them allows no reading (see :mod:`chain.registry`). ``location``
    is the subject where the device is installed, e.g. ``barn:b1``.
    """
    key = None if pubkey is None else b64url_encode(pubkey)
    optional = {
        "pubkey": key,
        "farm": farm,
        "kinds": None if kinds is None else list(kinds),
        "label": label,
        "location": location,
        "subjects": None if subjects is None else list(subjects),
    }
    base = {"type": "device", "seq": seq, "ts": ts, "action": action, "dev": dev}
    return _with_optional(base, optional)


def operator_payload(
    action: str,
    op: str,
    seq: int,
    ts: int,
    *,
    pubkey: bytes | None = None,
    roles: Sequence[str] | None = None,
    name: str | None = None,
) -> dict[str, object]:
    """Build (without validating) an ``operator`` payload; ``pubkey`` is the raw 32-byte key."""
    key = None if pubkey is None else b64url_encode(pubkey)
    optional = {"pubkey": key, "roles": None if roles is None else list(roles), "name": name}
    base = {"type": "operator", "seq": seq, "ts": ts, "action": action, "op": op}
    return _with_optional(base, optional)


def gap_payload(dev: str, seq: int, ts: int, first: int, last: int) -> dict[str, object]:
    """Build (without validating) a ``gap`` payload declaring seqs ``first``..``last`` unused."""
    return {"type": "gap", "dev": dev, "seq": seq, "ts": ts, "from": first, "to": last}


def _freeze(payload: dict[str, Any]) -> Mapping[str, Any]:
    # A validated payload nests nothing but arrays of strings, and a reading
    # (a closed schema of scalars) not even those: it needs no copy.
    if payload["type"] == "reading":
        return MappingProxyType(payload)
    return MappingProxyType(
        {name: tuple(v) if isinstance(v, list) else v for name, v in payload.items()}
    )


def _with_optional(base: dict[str, object], optional: Mapping[str, object]) -> dict[str, object]:
    return base | {name: value for name, value in optional.items() if value is not None}
