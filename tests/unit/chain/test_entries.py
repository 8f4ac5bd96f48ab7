"""Tests for chain.entries: typed entry payloads (design.md section 2)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import nacl.bindings
import pytest

from chain._encoding import b64url_decode, b64url_encode
from chain.entries import (
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
    verify_entry,
)
from chain.errors import MalformedEntryError, SignatureError
from chain.jws import sign_compact

TS = 1_717_171_717_000
DEV_SEED = bytes([1]) * 32
OP_SEED = bytes([2]) * 32
DEV_KEY = nacl.bindings.crypto_sign_seed_keypair(DEV_SEED)[0]
OP_KEY = nacl.bindings.crypto_sign_seed_keypair(OP_SEED)[0]
NEW_KEY = nacl.bindings.crypto_sign_seed_keypair(bytes([3]) * 32)[0]
DELETE = object()

# A valid payload of each type and its signer.
VALID: dict[str, tuple[dict[str, object], str]] = {
    "reading": (reading_payload("dev-1", 7, TS, "temperature", "barn:b1", 21.5, "Cel"), "dev-1"),
    "event": (
        event_payload("packed", 3, TS, ["bird:b-42"], gtin="09506000134352", lot="L7", count=12)
        | {"sources": ["lot:A", "lot:B"]},
        "plant-op",
    ),
    "device": (
        device_payload(
            "register", "dev-1", 1, TS, pubkey=DEV_KEY, farm="farm-7", kinds=["temperature"]
        ),
        "admin",
    ),
    "operator": (
        operator_payload("register", "admin", 1, TS, pubkey=OP_KEY, roles=["admin"], name="Ana"),
        "admin",
    ),
}


def signed(payload: Mapping[str, object], kid: str, seed: bytes = OP_SEED) -> bytes:
    """Sign ``payload`` WITHOUT validating it, the way a buggy or hostile signer would."""
    return sign_compact(json.dumps(payload).encode(), kid, seed)


def raw_payload(text: bytes, kid: str = "dev-1") -> bytes:
    return sign_compact(text, kid, DEV_SEED)


def mutated(entry_type: str, **changes: object) -> tuple[dict[str, object], str]:
    payload, kid = VALID[entry_type]
    out = {name: value for name, value in payload.items() if changes.get(name) is not DELETE}
    out.update({name: value for name, value in changes.items() if value is not DELETE})
    return out, kid


# --- well-formed entries ----------------------------------------------------------------


@pytest.mark.parametrize("entry_type", VALID)
def test_valid_payloads_round_trip(entry_type: str) -> None:
    payload, kid = VALID[entry_type]
    raw = sign_entry(payload, kid, OP_SEED)
    entry = parse_entry(raw)
    assert entry.raw is raw
    assert (entry.kid, entry.type, entry.seq, entry.ts) == (kid, entry_type, payload["seq"], TS)
    assert entry.key == (kid, payload["seq"])
    assert json.loads(b64url_decode(raw.split(b".")[1].decode())) == payload
    assert {name: entry.payload[name] for name in payload} == {
        name: tuple(value) if isinstance(value, list) else value for name, value in payload.items()
    }
    verify_entry(entry, OP_KEY)


def test_sign_entry_serialises_compact_utf8_json_in_payload_order() -> None:
    payload = device_payload("register", "dev-9", 2, TS, pubkey=NEW_KEY, label="Stall Süd")
    entry = parse_entry(sign_entry(payload, "op-1", OP_SEED))
    body = b64url_decode(entry.raw.split(b".")[1].decode())
    assert (
        body
        == (
            '{"type":"device","seq":2,"ts":1717171717000,"action":"register","dev":"dev-9",'
            f'"pubkey":"{b64url_encode(NEW_KEY)}","label":"Stall Süd"}}'
        ).encode()
    )
    assert entry.public_key == NEW_KEY


def test_entry_is_immutable_and_compares_by_its_raw_bytes() -> None:
    payload, kid = VALID["event"]
    entry = parse_entry(sign_entry(payload, kid, OP_SEED))
    with pytest.raises(TypeError):
        entry.payload["seq"] = 8  # type: ignore[index]
    assert entry.payload["sources"] == ("lot:A", "lot:B")
    with pytest.raises(AttributeError):
        entry.seq = 8  # type: ignore[misc]
    again = parse_entry(bytes(entry.raw))
    assert again == entry and hash(again) == hash(entry)
    assert entry.public_key is None


@pytest.mark.parametrize(
    ("kind", "unit", "value"),
    [
        ("temperature", "Cel", -3),
        ("humidity", "%RH", 55.25),
        ("feed", "kg", 1200),
        ("feed", "g", 0.5),
        ("water", "l", 0),
        ("activity", "count", 31),
        ("weight", "g", 2400),
        ("co2", "Pa", 1.0e-3),
        ("light_level", "lx", 300),
    ],
)
def test_reading_kinds_and_units_that_fit(kind: str, unit: str, value: float) -> None:
    payload = reading_payload("dev-1", 1, TS, kind, "feeder:f.2", value, unit)
    entry = parse_entry(sign_entry(payload, "dev-1", DEV_SEED))
    assert (entry.payload["kind"], entry.payload["unit"], entry.payload["value"]) == (
        kind,
        unit,
        value,
    )


def test_revocations_and_self_signed_genesis_admin() -> None:
    for payload in (
        device_payload("revoke", "dev-1", 5, TS),
        operator_payload("revoke", "vet-3", 6, TS, name="left the practice"),
        operator_payload("register", "root", 1, 0, pubkey=OP_KEY, roles=["admin", "vet"]),
    ):
        entry = parse_entry(sign_entry(payload, "root", OP_SEED))
        verify_entry(entry, OP_KEY)


def test_a_tampered_reading_is_a_signature_error() -> None:
    raw = sign_entry(VALID["reading"][0], "dev-1", DEV_SEED)
    header, body, signature = raw.split(b".")
    forged = b64url_decode(body.decode()).replace(b'"value":21.5', b'"value":29.5')
    tampered = parse_entry(b".".join([header, b64url_encode(forged).encode(), signature]))
    assert tampered.payload["value"] == 29.5
    with pytest.raises(SignatureError):
        verify_entry(tampered, DEV_KEY)
    with pytest.raises(SignatureError):
        verify_entry(parse_entry(raw), OP_KEY)


# --- malformed payloads -----------------------------------------------------------------

_INT = "an integer in"
# (entry type, changes to its valid payload, member the error must name, what it must say)
BAD_FIELDS: list[tuple[str, dict[str, object], str, str]] = [
    ("reading", {"type": DELETE}, "type", "one of reading, event"),
    ("reading", {"type": "blob"}, "type", "one of reading, event"),
    ("reading", {"type": 1}, "type", "one of"),
    ("reading", {"seq": DELETE}, "seq", "required in reading payloads"),
    ("reading", {"seq": 0}, "seq", f"{_INT} [1, 2**53), found 0"),
    ("reading", {"seq": -1}, "seq", _INT),
    ("reading", {"seq": 1.0}, "seq", f"{_INT} [1, 2**53), found 1.0"),
    ("reading", {"seq": True}, "seq", "found true"),
    ("reading", {"seq": "1"}, "seq", _INT),
    ("reading", {"seq": 2**53}, "seq", _INT),
    ("reading", {"ts": -1}, "ts", f"{_INT} [0, 2**53)"),
    ("reading", {"ts": 1.5}, "ts", _INT),
    ("reading", {"ts": None}, "ts", "found null"),
    ("reading", {"ts": DELETE}, "ts", "required"),
    ("reading", {"dev": "dev-2"}, "dev", "the signer kid 'dev-1'"),
    ("reading", {"dev": DELETE}, "dev", "required"),
    ("reading", {"dev": 1}, "dev", "an id"),
    ("reading", {"kind": "Temperature"}, "kind", "a kind matching"),
    ("reading", {"kind": ""}, "kind", "a kind matching"),
    ("reading", {"kind": ["temperature"]}, "kind", "a kind matching"),
    ("reading", {"subject": "barn"}, "subject", "barn:<id>"),
    ("reading", {"subject": "pen:1"}, "subject", "barn:<id>"),
    ("reading", {"subject": "barn:"}, "subject", "barn:<id>"),
    ("reading", {"subject": "barn:a/b"}, "subject", "barn:<id>"),
    ("reading", {"subject": "bird:1:2"}, "subject", "barn:<id>"),
    ("reading", {"subject": 5}, "subject", "barn:<id>"),
    ("reading", {"value": True}, "value", "a finite number"),
    ("reading", {"value": "21.5"}, "value", "a finite number"),
    ("reading", {"value": None}, "value", "a finite number"),
    ("reading", {"value": [21.5]}, "value", "a finite number"),
    ("reading", {"value": 2**53}, "value", "a finite number"),
    ("reading", {"unit": "C"}, "unit", "one of"),
    ("reading", {"unit": "kg"}, "unit", "a unit for kind 'temperature': one of Cel"),
    ("reading", {"kind": "humidity", "unit": "%"}, "unit", "one of"),
    ("reading", {"kind": "weight", "unit": "l"}, "unit", "one of g, kg"),
    ("reading", {"kind": "ammonia", "unit": "furlong"}, "unit", "one of"),
    ("reading", {"unit": 1}, "unit", "one of"),
    ("reading", {"note": "hot"}, "note", "not a member of reading payloads"),
    ("event", {"event": "exploded"}, "event", "one of died, hatched"),
    ("event", {"event": DELETE}, "event", "required"),
    ("event", {"subjects": []}, "subjects", "a non-empty array of subjects"),
    ("event", {"subjects": "bird:1"}, "subjects", "a non-empty array"),
    ("event", {"subjects": [1]}, "subjects[0]", "<kind>:<id>"),
    ("event", {"subjects": ["bird"]}, "subjects[0]", "<kind>:<id>"),
    ("event", {"subjects": ["bird:1", "Bird:2"]}, "subjects[1]", "<kind>:<id>"),
    ("event", {"subjects": ["bird:1", "bird:1"]}, "subjects", "distinct subjects"),
    ("event", {"origin": {"id": "p1"}}, "origin", "a string, an integer or an array of strings"),
    ("event", {"weight": 1.5}, "weight", "a string, an integer"),
    ("event", {"halal": True}, "halal", "a string, an integer"),
    ("event", {"count": None}, "count", "a string, an integer"),
    ("event", {"count": 2**53}, "count", "a string, an integer"),
    ("event", {"sources": ["lot:A", 2]}, "sources", "an array of strings"),
    ("event", {"Plant": "p1"}, "event member name", "a member name matching"),
    ("event", {"plant-id": "p1"}, "event member name", "a member name matching"),
    ("device", {"action": "delete"}, "action", "one of register, revoke"),
    ("device", {"action": DELETE}, "action", "required"),
    ("device", {"pubkey": DELETE}, "pubkey", "required when action is 'register'"),
    ("device", {"action": "revoke"}, "pubkey", "forbidden when action is 'revoke'"),
    ("device", {"pubkey": b64url_encode(DEV_KEY[:31])}, "pubkey", "32-byte Ed25519"),
    ("device", {"pubkey": b64url_encode(DEV_KEY) + "="}, "pubkey", "32-byte Ed25519"),
    ("device", {"pubkey": DEV_KEY.hex()}, "pubkey", "32-byte Ed25519"),
    ("device", {"pubkey": 1}, "pubkey", "32-byte Ed25519"),
    ("device", {"dev": "dev/1"}, "dev", "an id"),
    ("device", {"farm": "farm 7"}, "farm", "an id"),
    ("device", {"kinds": []}, "kinds", "a non-empty array of kinds"),
    ("device", {"kinds": ["Temp"]}, "kinds[0]", "a kind matching"),
    ("device", {"kinds": "temperature"}, "kinds", "a non-empty array"),
    ("device", {"label": "x" * 201}, "label", "a string of at most 200 characters"),
    ("device", {"label": 5}, "label", "a string of at most 200"),
    ("device", {"roles": ["admin"]}, "roles", "not a member of device payloads"),
    ("operator", {"roles": DELETE}, "roles", "required when action is 'register'"),
    ("operator", {"roles": []}, "roles", "a non-empty array of roles"),
    ("operator", {"roles": ["king"]}, "roles[0]", "one of admin, distributor"),
    ("operator", {"roles": ["vet", "vet"]}, "roles", "distinct roles"),
    ("operator", {"pubkey": DELETE}, "pubkey", "required when action is 'register'"),
    ("operator", {"action": "revoke"}, "pubkey", "forbidden when action is 'revoke'"),
    ("operator", {"action": "revoke", "pubkey": DELETE}, "roles", "forbidden"),
    ("operator", {"name": "n" * 201}, "name", "at most 200 characters"),
    ("operator", {"op": ""}, "op", "an id"),
    ("operator", {"op": DELETE}, "op", "required"),
    ("operator", {"dev": "dev-1"}, "dev", "not a member of operator payloads"),
]


@pytest.mark.parametrize(
    ("entry_type", "changes", "member", "expected"),
    BAD_FIELDS,
    ids=[f"{t}-{'-'.join(c)}-{i}" for i, (t, c, _, _) in enumerate(BAD_FIELDS)],
)
def test_malformed_payload_is_rejected_naming_the_member(
    entry_type: str, changes: dict[str, object], member: str, expected: str
) -> None:
    payload, kid = mutated(entry_type, **changes)
    pattern = rf"^{re.escape(member)}: .*{re.escape(expected)}"
    with pytest.raises(MalformedEntryError, match=pattern):
        parse_entry(signed(payload, kid))
    with pytest.raises(MalformedEntryError, match=pattern):
        sign_entry(payload, kid, OP_SEED)


_READING = b'"type":"reading","dev":"dev-1","seq":1,"ts":0,"kind":"water","subject":"barn:1"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"{" + _READING + b',"value":NaN,"unit":"l"}', "finite number, found NaN"),
        (b"{" + _READING + b',"value":Infinity,"unit":"l"}', "found Infinity"),
        (b"{" + _READING + b',"value":-Infinity,"unit":"l"}', "found -Infinity"),
        (b"{" + _READING + b',"value":1e400,"unit":"l"}', "expected a finite number, found 1e400"),
        (b"{" + _READING + b',"value":1,"value":2,"unit":"l"}', "'value' twice"),
        (b'{"type":"event","type":"reading"}', "'type' twice"),
        (b"[" + b"{" + _READING + b',"value":1,"unit":"l"}' + b"]", "JSON object, found array"),
        (b'"reading"', "JSON object, found string"),
        (b"21.5", "JSON object, found number"),
        (b"", "payload: expected JSON"),
        (b"{" + _READING + b',"value":1,"unit":"l"} {}', "payload: expected JSON"),
        (b"{" + _READING.replace(b"barn:1", b"barn:\xff") + b',"value":1,"unit":"l"}', "UTF-8"),
        (b"{" + _READING.replace(b'"seq":1', b'"seq":1e0') + b',"value":1,"unit":"l"}', "seq"),
        (b"{" + _READING.replace(b'"ts":0', b'"ts":-0.0') + b',"value":1,"unit":"l"}', "ts"),
    ],
)
def test_malformed_payload_json_is_rejected(text: bytes, expected: str) -> None:
    with pytest.raises(MalformedEntryError, match=re.escape(expected)):
        parse_entry(raw_payload(text))


def test_json_number_forms_that_are_accepted() -> None:
    text = b"{" + _READING + b',"value":1E2,"unit":"l"}'
    assert parse_entry(raw_payload(text)).payload["value"] == 100.0


def test_malformed_jws_is_rejected_before_the_payload() -> None:
    raw = sign_entry(VALID["reading"][0], "dev-1", DEV_SEED)
    with pytest.raises(MalformedEntryError, match=r"expected 3 '\.'-separated parts"):
        parse_entry(raw + b".")
    with pytest.raises(MalformedEntryError, match="at most 4096 bytes, found 4097"):
        parse_entry(raw + b"A" * (4097 - len(raw)))


def test_sign_entry_refuses_what_parse_entry_would_reject() -> None:
    reading = VALID["reading"][0]
    with pytest.raises(MalformedEntryError, match="dev: expected the signer kid 'dev-2'"):
        sign_entry(reading, "dev-2", DEV_SEED)
    with pytest.raises(MalformedEntryError, match=r"^kid: expected an id"):
        sign_entry(reading, "dev/1", DEV_SEED)
    with pytest.raises(MalformedEntryError, match="expected JSON-serialisable UTF-8"):
        sign_entry(device_payload("revoke", "d", 1, TS, label="\ud800"), "op", OP_SEED)
    big = event_payload("shipped", 1, TS, [f"pack:{n}" for n in range(400)], destination="d")
    with pytest.raises(MalformedEntryError, match="at most 4096 bytes"):
        sign_entry(big, "op", OP_SEED)
    with pytest.raises(ValueError, match="seed"):
        sign_entry(reading, "dev-1", DEV_SEED[:31])


def test_public_key_must_be_32_bytes() -> None:
    entry = parse_entry(sign_entry(VALID["reading"][0], "dev-1", DEV_SEED))
    with pytest.raises(MalformedEntryError, match="public key: expected 32 bytes"):
        verify_entry(entry, DEV_KEY[:31])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"value": b"21.5"},
            "value: expected a finite number (integer within +-2**53), found b'21.5'",
        ),
        (
            {"subject": ("barn:1",)},
            'subject: expected barn:<id>, feeder:<id> or bird:<id>, found ["barn:1"]',
        ),
        ({"value": float("nan")}, "value: expected a finite number"),
    ],
)
def test_sign_entry_rejects_python_values_that_json_would_not_carry(
    changes: dict[str, object], expected: str
) -> None:
    payload, kid = mutated("reading", **changes)
    with pytest.raises(MalformedEntryError, match=re.escape(expected)):
        sign_entry(payload, kid, DEV_SEED)
