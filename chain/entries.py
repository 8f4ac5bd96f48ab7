"""Log entries and their typed payloads (design.md section 2).

An entry is a compact JWS (see :mod:`chain.jws`, RFC 7515 / RFC 8037) whose
payload is a UTF-8 JSON object (RFC 8259) of one of four types:

* ``reading``: a sensor value signed by a device (``dev`` = the header ``kid``);
  ``unit`` is a SenML unit (RFC 8428 section 12.1) that must fit ``kind``.
* ``event``: a lifecycle fact signed by an operator, about ``subjects``.
* ``device`` / ``operator``: registrations and revocations signed by an operator.

Every payload carries ``type``, ``seq`` (the signer's sequence number, 1, 2,
3 ...; ``(kid, seq)`` is unique in the log, for every type, so that every
signer's stream is replay-protected and gap-checked) and ``ts`` (integer
milliseconds since the Unix epoch). Every integer lies strictly within +-2**53, so
that any JSON implementation reads it exactly. An :class:`Entry` keeps the exact
received bytes: nothing is ever re-serialised.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from chain._encoding import b64url_decode, b64url_encode
from chain.errors import MalformedEntryError
from chain.jws import (
    ID_PATTERN,
    _parse_compact_fields,
    check_id,
    loads_json_object,
    sign_compact,
    verify_signature,
)

__all__ = [
    "ENTRY_TYPES",
    "EVENTS",
    "KIND_UNITS",
    "ROLES",
    "SENML_UNITS",
    "Entry",
    "device_payload",
    "event_payload",
    "operator_payload",
    "parse_entry",
    "reading_payload",
    "sign_entry",
    "verify_entry",
]

ENTRY_TYPES = ("reading", "event", "device", "operator")
"""The accepted values of a payload's ``type`` member."""

KIND_UNITS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "temperature": frozenset({"Cel"}),
        "humidity": frozenset({"%RH"}),
        "feed": frozenset({"kg", "g"}),
        "water": frozenset({"l"}),
        "activity": frozenset({"count"}),
        "weight": frozenset({"kg", "g"}),
    }
)
"""The known reading kinds and the SenML units each may be reported in."""

SENML_UNITS = frozenset(
    {"Cel", "K", "%RH", "%EL", "kg", "g", "l", "m3", "l/s", "m3/s", "count", "Pa", "lx"}
    | {"m", "m/s", "s", "V", "A", "W", "J", "Hz", "pH", "1/s", "1/min", "beat/min"}
)
"""RFC 8428 units accepted for extension kinds (kinds not in :data:`KIND_UNITS`)."""

EVENTS = frozenset(
    {"hatched", "placed", "moved", "vaccinated", "inspected", "died", "slaughtered"}
    | {"packed", "shipped", "received", "recalled"}
)
"""The accepted values of an event's ``event`` member."""

ROLES = frozenset({"admin", "hatchery", "farm", "vet", "plant", "distributor", "retailer"})
"""The roles an operator registration may grant."""

_INT_LIMIT = 2**53
_TEXT_MAX = 200
_KEY_BYTES = 32
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_READING_SUBJECT = re.compile(rf"(?:barn|feeder|bird):{ID_PATTERN}")
_SUBJECT = re.compile(rf"[a-z][a-z0-9_]{{0,31}}:{ID_PATTERN}")


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
    kid, _, payload_bytes, signing_input, signature = _parse_compact_fields(raw)
    payload = loads_json_object(payload_bytes, "payload")
    _validate(payload, kid)
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
    _validate(payload, kid)
    try:
        text = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in a string
        raise MalformedEntryError(f"payload: expected JSON-serialisable UTF-8, {exc}") from exc
    return sign_compact(data, kid, seed)


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
) -> dict[str, object]:
    """Build (without validating) a ``device`` payload; ``pubkey`` is the raw 32-byte key."""
    key = None if pubkey is None else b64url_encode(pubkey)
    optional = {
        "pubkey": key,
        "farm": farm,
        "kinds": None if kinds is None else list(kinds),
        "label": label,
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


# --- validation -------------------------------------------------------------------------

_Check = Callable[[object, str], object]


def _fail(name: str, expected: str, value: object) -> NoReturn:
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    shown = shown if len(shown) <= 72 else shown[:69] + "..."
    raise MalformedEntryError(f"{name}: expected {expected}, found {shown}")


def _int(lo: int) -> _Check:
    def check(value: object, name: str) -> None:
        if type(value) is not int or not lo <= value < _INT_LIMIT:
            _fail(name, f"an integer in [{lo}, 2**53)", value)

    return check


def _text(value: object, name: str) -> None:
    if not isinstance(value, str) or len(value) > _TEXT_MAX:
        _fail(name, f"a string of at most {_TEXT_MAX} characters", value)


def _one_of(choices: frozenset[str] | tuple[str, ...]) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, str) or value not in choices:
            _fail(name, "one of " + ", ".join(sorted(choices)), value)

    return check


def _matching(pattern: re.Pattern[str], what: str) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            _fail(name, what, value)

    return check


def _list_of(item: _Check, what: str) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, list) or not value:
            _fail(name, f"a non-empty array of {what}", value)
        for index, element in enumerate(value):
            item(element, f"{name}[{index}]")
        if len(set(value)) != len(value):
            _fail(name, f"distinct {what}", value)

    return check


def _number(value: object, name: str) -> None:
    if type(value) is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return
    elif type(value) is float and math.isfinite(value):
        return
    _fail(name, "a finite number (integer within +-2**53)", value)


def _pubkey(value: object, name: str) -> None:
    try:
        if isinstance(value, str) and len(b64url_decode(value)) == _KEY_BYTES:
            return
    except ValueError:
        pass
    _fail(name, "a base64url raw 32-byte Ed25519 public key", value)


def _event_member(value: object, name: str) -> None:
    if isinstance(value, str) or (type(value) is int and -_INT_LIMIT < value < _INT_LIMIT):
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    _fail(name, "a string, an integer or an array of strings", value)


_kind = _matching(_KIND, "a kind matching [a-z][a-z0-9_]{0,31}")
_member_name = _matching(_KIND, "a member name matching [a-z][a-z0-9_]{0,31}")
_action = _one_of(frozenset({"register", "revoke"}))


@dataclass(frozen=True, slots=True)
class _Schema:
    required: Mapping[str, _Check]
    optional: Mapping[str, _Check]
    rules: Callable[[Mapping[str, Any], str], None]
    open: bool = False  # other members allowed (and checked by ``rules``)


def _reading_rules(payload: Mapping[str, Any], kid: str) -> None:
    if payload["dev"] != kid:
        _fail("dev", f"the signer kid {kid!r}", payload["dev"])
    kind, unit = payload["kind"], payload["unit"]
    units = KIND_UNITS.get(kind, SENML_UNITS)
    if unit not in units:
        _fail("unit", f"a unit for kind {kind!r}: one of {', '.join(sorted(units))}", unit)


# Event-specific members with their own check; any other member is checked by
# _event_member. Tighten the rules for an event by adding its members here.
_EVENT_FIELDS: Mapping[str, Mapping[str, _Check]] = {event: {} for event in EVENTS}
_EVENT_COMMON = frozenset({"type", "seq", "ts", "event", "subjects"})


def _event_rules(payload: Mapping[str, Any], kid: str) -> None:
    fields = _EVENT_FIELDS[payload["event"]]
    for name, value in payload.items():
        if name not in _EVENT_COMMON:
            _member_name(name, "event member name")
            fields.get(name, _event_member)(value, name)


def _registration_rules(*register_only: str) -> Callable[[Mapping[str, Any], str], None]:
    def rules(payload: Mapping[str, Any], kid: str) -> None:
        for name in register_only:
            present = name in payload
            if present != (payload["action"] == "register"):
                need = "required" if not present else "forbidden"
                raise MalformedEntryError(f"{name}: {need} when action is {payload['action']!r}")

    return rules


_COMMON = {"type": _one_of(ENTRY_TYPES), "seq": _int(1), "ts": _int(0)}
_SCHEMAS: Mapping[str, _Schema] = {
    "reading": _Schema(
        _COMMON
        | {"dev": check_id, "kind": _kind, "value": _number, "unit": _one_of(SENML_UNITS)}
        | {"subject": _matching(_READING_SUBJECT, "barn:<id>, feeder:<id> or bird:<id>")},
        {},
        _reading_rules,
    ),
    "event": _Schema(
        _COMMON
        | {
            "event": _one_of(EVENTS),
            "subjects": _list_of(_matching(_SUBJECT, "<kind>:<id>"), "subjects"),
        },
        {},
        _event_rules,
        open=True,
    ),
    "device": _Schema(
        _COMMON | {"action": _action, "dev": check_id},
        {"pubkey": _pubkey, "farm": check_id, "kinds": _list_of(_kind, "kinds"), "label": _text},
        _registration_rules("pubkey"),
    ),
    "operator": _Schema(
        _COMMON | {"action": _action, "op": check_id},
        {"pubkey": _pubkey, "roles": _list_of(_one_of(ROLES), "roles"), "name": _text},
        _registration_rules("pubkey", "roles"),
    ),
}


def _validate(payload: Mapping[str, Any], kid: str) -> None:
    entry_type = payload.get("type")
    schema = _SCHEMAS.get(entry_type) if isinstance(entry_type, str) else None
    if schema is None:
        _fail("type", "one of " + ", ".join(ENTRY_TYPES), entry_type)
    for name, check in schema.required.items():
        if name not in payload:
            raise MalformedEntryError(f"{name}: required in {entry_type} payloads, missing")
        check(payload[name], name)
    # Every required member is present, so without optional members the loop
    # below has nothing to check when the schema is open or no member is extra.
    if schema.optional or not (schema.open or payload.keys() == schema.required.keys()):
        for name, value in payload.items():
            if name in schema.optional:
                schema.optional[name](value, name)
            elif name not in schema.required and not schema.open:
                expected = ", ".join([*schema.required, *schema.optional])
                raise MalformedEntryError(
                    f"{name}: not a member of {entry_type} payloads; expected only {expected}"
                )
    schema.rules(payload, kid)


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
