"""Validation of entry payloads, one table-driven schema per entry type.

Private to :mod:`chain.entries` (which re-exports the public constants); kept
apart so that each file reads in one sitting. The rules follow design.md
section 2; each event's own subjects and members are in ``EVENT_SCHEMAS``
(issue 4 plan, section 1).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, NoReturn

from chain._crosslog_format import REFERABLE, parse_refs
from chain._encoding import b64url_decode
from chain.errors import MalformedEntryError
from chain.gs1 import KEY_VALUE_PATTERN, gtin_check_digit
from chain.jws import ID_PATTERN, check_id

ENTRY_TYPES = ("reading", "event", "device", "operator", "gap")
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


@dataclass(frozen=True, slots=True)
class ValueRange:
    """The values a reading of one kind may carry, stated in the kind's first unit.

    ``low`` is allowed unless ``above_low`` (a weight of 0 is no weight);
    ``high`` None means no upper bound; ``whole`` asks for a whole number (a
    count). A value in ``g`` is compared with the bounds times 1000.
    """

    low: float
    high: float | None
    above_low: bool = False
    whole: bool = False

    def allows(self, value: float, unit: str) -> bool:
        """Whether ``value`` (a finite number, in ``unit``) is in range."""
        scale = 1000.0 if unit == "g" else 1.0
        if self.whole and not float(value).is_integer():
            return False
        low = self.low * scale
        if value < low or (self.above_low and value == low):
            return False
        return self.high is None or value <= self.high * scale

    def describe(self, unit: str) -> str:
        """The range in words, e.g. ``a number in [-60, 100] Cel``."""
        scale = 1000 if unit == "g" else 1
        what = "a whole number" if self.whole else "a number"
        low = f"{self.low * scale:.10g}"
        if self.high is None:
            return f"{what} {'>' if self.above_low else '>='} {low} {unit}"
        bracket = "(" if self.above_low else "["
        return f"{what} in {bracket}{low}, {self.high * scale:.10g}] {unit}"


VALUE_RANGES: Mapping[str, ValueRange] = MappingProxyType(
    {
        # Air, a cold store or a scald tank; a DS18B20 says -127 when disconnected.
        "temperature": ValueRange(-60, 100),
        "humidity": ValueRange(0, 100),
        "feed": ValueRange(0, None),
        "water": ValueRange(0, None),
        "activity": ValueRange(0, None, whole=True),
        "weight": ValueRange(0, 1000, above_low=True),
    }
)
"""The plausible values of each known kind (extension kinds: any finite number)."""

EVENTS = frozenset(
    {"hatched", "placed", "moved", "vaccinated", "treated", "inspected", "died", "slaughtered"}
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
_REGISTERED_SUBJECT = re.compile(rf"(?:barn|feeder|bird):(?:\*|{ID_PATTERN})")
_SUBJECT = re.compile(rf"[a-z][a-z0-9_]{{0,31}}:{ID_PATTERN}")
_OUTPUT_SUBJECT = re.compile(rf"(?:carcass|cut):{ID_PATTERN}")
_KEY_VALUE = re.compile(KEY_VALUE_PATTERN)
_GTIN14 = re.compile(r"[0-9]{14}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WITHDRAWAL_DAYS_MAX = 1000
"""The longest withdrawal period a ``treated`` event may state, in days."""
EARLIEST_OFFSET_MS = 12 * 3_600_000
"""How far the earliest time zone (UTC-12) is behind UTC: a packing date is at least this day."""

# --- validation -------------------------------------------------------------------------

_Check = Callable[[object, str], object]


def fail(name: str, expected: str, value: object, *, reason: str | None = None) -> NoReturn:
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    shown = shown if len(shown) <= 72 else shown[:69] + "..."
    raise MalformedEntryError(f"{name}: expected {expected}, found {shown}", reason=reason)


def _int(lo: int) -> _Check:
    def check(value: object, name: str) -> None:
        if type(value) is not int or not lo <= value < _INT_LIMIT:
            fail(name, f"an integer in [{lo}, 2**53)", value)

    return check


def _int_in(lo: int, hi: int) -> _Check:
    def check(value: object, name: str) -> None:
        if type(value) is not int or not lo <= value <= hi:
            fail(name, f"an integer in [{lo}, {hi}]", value)

    return check


def _iso_date(value: object, name: str) -> None:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return
        except ValueError:
            pass
    fail(name, "a calendar date YYYY-MM-DD (ISO 8601)", value)


def packing_day(ts: int) -> str:
    """The earliest calendar date (YYYY-MM-DD) that any time zone gives the instant ``ts``.

    A ``packed`` event's ``best_before`` may not precede it: the date is the
    plant's local one, and the log does not know the plant's time zone, so
    the rule is the one no honest plant anywhere can break (UTC-12).
    """
    moment = datetime.fromtimestamp((ts - EARLIEST_OFFSET_MS) / 1000, UTC)
    return moment.date().isoformat()


def _text(value: object, name: str) -> None:
    if not isinstance(value, str) or len(value) > _TEXT_MAX:
        fail(name, f"a string of at most {_TEXT_MAX} characters", value)


def _one_of(choices: frozenset[str] | tuple[str, ...]) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, str) or value not in choices:
            fail(name, "one of " + ", ".join(sorted(choices)), value)

    return check


def _matching(pattern: re.Pattern[str], what: str) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            fail(name, what, value)

    return check


def _list_of(item: _Check, what: str) -> _Check:
    def check(value: object, name: str) -> None:
        if not isinstance(value, list) or not value:
            fail(name, f"a non-empty array of {what}", value)
        for index, element in enumerate(value):
            item(element, f"{name}[{index}]")
        if len(set(value)) != len(value):
            fail(name, f"distinct {what}", value)

    return check


def _number(value: object, name: str) -> None:
    if type(value) is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return
    elif type(value) is float and math.isfinite(value):
        return
    fail(name, "a finite number (integer within +-2**53)", value)


def _pubkey(value: object, name: str) -> None:
    try:
        if isinstance(value, str) and len(b64url_decode(value)) == _KEY_BYTES:
            return
    except ValueError:
        pass
    fail(name, "a base64url raw 32-byte Ed25519 public key", value)


def _event_member(value: object, name: str) -> None:
    if isinstance(value, str) or (type(value) is int and -_INT_LIMIT < value < _INT_LIMIT):
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    fail(name, "a string, an integer or an array of strings", value)


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
        fail("dev", f"the signer kid {kid!r}", payload["dev"])
    kind, unit = payload["kind"], payload["unit"]
    units = KIND_UNITS.get(kind, SENML_UNITS)
    if unit not in units:
        fail("unit", f"a unit for kind {kind!r}: one of {', '.join(sorted(units))}", unit)
    limits = VALUE_RANGES.get(kind)
    if limits is not None and not limits.allows(payload["value"], unit):
        expected = f"{limits.describe(unit)} for kind {kind!r}"
        fail("value", expected, payload["value"], reason="value_out_of_range")


def _gap_rules(payload: Mapping[str, Any], kid: str) -> None:
    if payload["dev"] != kid:
        fail("dev", f"the signer kid {kid!r}", payload["dev"])
    first, last, seq = payload["from"], payload["to"], payload["seq"]
    if not first <= last < seq:
        raise MalformedEntryError(
            f"from, to: expected from <= to < seq {seq} (a skipped range below the gap "
            f"entry's own seq), found from {first}, to {last}"
        )


def _gtin14(value: object, name: str) -> None:
    if not isinstance(value, str) or not _GTIN14.fullmatch(value):
        fail(name, "a GTIN-14: 14 ASCII digits (pad a GTIN-8, -12 or -13 with zeros)", value)
    check = gtin_check_digit(value[:-1])
    if int(value[-1]) != check:
        fail(name, f"a GTIN-14 ending in its GS1 check digit {check}", value)


_gs1_value = _matching(_KEY_VALUE, "1 to 20 characters from A-Z a-z 0-9 . _ - (GS1 AI 10/21)")
_outputs = _list_of(_matching(_OUTPUT_SUBJECT, "carcass:<id> or cut:<id>"), "outputs")


def _one_subject(payload: Mapping[str, Any]) -> None:
    if len(payload["subjects"]) != 1:
        fail("subjects", f"exactly one subject in a {payload['event']} event", payload["subjects"])


def _serial_or_lot(payload: Mapping[str, Any]) -> None:
    present = [name for name in ("serial", "lot") if name in payload]
    if len(present) != 1:
        found = "both" if present else "neither"
        raise MalformedEntryError(
            f"serial, lot: exactly one is required in a {payload['event']} event, found {found}"
        )


def _packed_rules(payload: Mapping[str, Any]) -> None:
    _serial_or_lot(payload)
    best_before = payload.get("best_before")
    if best_before is not None and best_before < packing_day(payload["ts"]):
        fail(
            "best_before",
            f"a date on or after the packing date {packing_day(payload['ts'])} (ts "
            f"{payload['ts']}, at its earliest in any time zone)",
            best_before,
        )


@dataclass(frozen=True, slots=True)
class EventSchema:
    """One event's rules: its subjects' kinds (empty: any), members, cross-member rule.

    Members in neither ``required`` nor ``optional`` are allowed and checked
    by ``_event_member``; ``refs``, in any event kind, by ``_refs_rules``.
    """

    kinds: frozenset[str]
    required: Mapping[str, _Check] = field(default_factory=dict)
    optional: Mapping[str, _Check] = field(default_factory=dict)
    rule: Callable[[Mapping[str, Any]], None] | None = None


_BIRD = frozenset({"bird"})
_PACK = frozenset({"pack", "lot"})
EVENT_SCHEMAS: Mapping[str, EventSchema] = MappingProxyType(
    {
        "hatched": EventSchema(_BIRD, {"breed": _text}, {"hatchery": _text, "parent_flock": _text}),
        "placed": EventSchema(_BIRD, {"barn": check_id}),
        "moved": EventSchema(_BIRD, {"barn": check_id}, {"from_barn": check_id}),
        "vaccinated": EventSchema(_BIRD, {"vaccine": _text}, {"dose": _text}),
        "treated": EventSchema(
            frozenset({"bird", "barn"}),
            {"medicine": _text},
            {"reason": _text, "dose": _text} | {"withdrawal_days": _int_in(0, WITHDRAWAL_DAYS_MAX)},
        ),
        "inspected": EventSchema(
            frozenset({"bird", "barn"}), {"result": _one_of(("pass", "fail"))}, {"note": _text}
        ),
        "died": EventSchema(_BIRD, {}, {"cause": _text}),
        "slaughtered": EventSchema(_BIRD, {"plant": _text, "outputs": _outputs}, {}, _one_subject),
        "packed": EventSchema(
            frozenset({"carcass", "cut", "bird"}),
            {"gtin": _gtin14},
            {"serial": _gs1_value, "lot": _gs1_value, "plant": _text, "weight_g": _int(1)}
            | {"product": _text, "best_before": _iso_date},
            _packed_rules,
        ),
        "shipped": EventSchema(_PACK, {"destination": _text}, {"source": _text}),
        "received": EventSchema(_PACK, {"location": _text}),
        "recalled": EventSchema(frozenset(), {"reason": _text}),
    }
)
_EVENT_COMMON = frozenset({"type", "seq", "ts", "event", "subjects"})
_BAD_REF = "malformed_reference"


def _refs_rules(payload: Mapping[str, Any]) -> None:
    """An event's cross-log references (chain.crosslog): their format, kind and subjects.

    Raises:
        MalformedEntryError: (reason ``malformed_reference``) ``refs`` breaks
            the format, the event's kind may not reference other logs, or a
            reference's ``subject`` is not among the event's ``subjects``.
    """
    event, refs = payload["event"], payload["refs"]
    if event not in REFERABLE:
        kinds = ", ".join(sorted(REFERABLE))
        fail("refs", f"no refs in a {event} event (only in {kinds})", refs, reason=_BAD_REF)
    for index, ref in enumerate(parse_refs(refs)):
        if ref.subject not in payload["subjects"]:
            expected = "one of the event's subjects " + ", ".join(payload["subjects"])
            fail(f"refs[{index}].subject", expected, ref.subject, reason=_BAD_REF)


def _event_rules(payload: Mapping[str, Any], kid: str) -> None:
    event = payload["event"]
    schema = EVENT_SCHEMAS[event]
    for name in schema.required:
        if name not in payload:
            raise MalformedEntryError(f"{name}: required in {event} events, missing")
    for name, value in payload.items():
        if name not in _EVENT_COMMON and name != "refs":
            _member_name(name, "event member name")
            check = schema.required.get(name) or schema.optional.get(name, _event_member)
            check(value, name)
    if "refs" in payload:
        _refs_rules(payload)
    if schema.kinds:
        for index, subject in enumerate(payload["subjects"]):
            if subject.partition(":")[0] not in schema.kinds:
                kinds = " or ".join(f"{kind}:<id>" for kind in sorted(schema.kinds))
                fail(f"subjects[{index}]", f"a {kinds} subject in a {event} event", subject)
    if schema.rule is not None:
        schema.rule(payload)


def _registration_rules(*register_only: str) -> Callable[[Mapping[str, Any], str], None]:
    def rules(payload: Mapping[str, Any], kid: str) -> None:
        for name in register_only:
            present = name in payload
            if present != (payload["action"] == "register"):
                need = "required" if not present else "forbidden"
                raise MalformedEntryError(f"{name}: {need} when action is {payload['action']!r}")

    return rules


_REGISTERED_WHAT = "barn:<id>, feeder:<id>, bird:<id>, or barn:*, feeder:* or bird:* (any id)"
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
        {"pubkey": _pubkey, "farm": check_id, "kinds": _list_of(_kind, "kinds"), "label": _text}
        | {"location": _matching(_SUBJECT, "a subject <kind>:<id>, e.g. barn:b1")}
        | {"subjects": _list_of(_matching(_REGISTERED_SUBJECT, _REGISTERED_WHAT), "subjects")},
        _registration_rules("pubkey"),
    ),
    "operator": _Schema(
        _COMMON | {"action": _action, "op": check_id},
        {"pubkey": _pubkey, "roles": _list_of(_one_of(ROLES), "roles"), "name": _text},
        _registration_rules("pubkey", "roles"),
    ),
    "gap": _Schema(_COMMON | {"dev": check_id, "from": _int(1), "to": _int(1)}, {}, _gap_rules),
}


def validate_payload(payload: Mapping[str, Any], kid: str) -> None:
    entry_type = payload.get("type")
    schema = _SCHEMAS.get(entry_type) if isinstance(entry_type, str) else None
    if schema is None:
        fail("type", "one of " + ", ".join(ENTRY_TYPES), entry_type)
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
