"""Write tests/vectors/entries.json and consumer_web/static/verify/roles.js from chain/.

    .venv/bin/python tests/vectors/make_entry_vectors.py

entries.json holds entries that every verifier (gateway, audit, browser) must
decide alike (design.md section 2), each with the expected decision and the
reason, and the small log they are checked against: its genesis
administrator, the registrations of a few operators and a device, a
checkpoint, and the read API's answers about them (so that the browser's
verifier proves each registration as it does on the site). Keys come from
fixed seeds, so the file is the same on every run. roles.js is the table of
who may sign what, as chain/registry.py has it, and which events may
reference which (chain/crosslog.py), for the browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

import nacl.bindings  # noqa: E402
from flask import Flask  # noqa: E402

from chain import note  # noqa: E402
from chain.crosslog import REFERABLE  # noqa: E402
from chain.entries import (  # noqa: E402
    KIND_UNITS,
    SENML_UNITS,
    VALUE_RANGES,
    device_payload,
    event_payload,
    gap_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.keyfile import SignerKey  # noqa: E402
from chain.log import LogWriter  # noqa: E402
from chain.registry import (  # noqa: E402
    DEVICE_REGISTRAR_ROLES,
    EVENT_ROLES,
    OPERATOR_REGISTRAR_ROLES,
)
from chain.store import Store  # noqa: E402
from readapi import LogInfo, create_read_api  # noqa: E402

VECTORS = REPO / "tests" / "vectors" / "entries.json"
ROLES_JS = REPO / "consumer_web" / "static" / "verify" / "roles.js"
READINGS_JS = REPO / "consumer_web" / "static" / "verify" / "readings.js"
ORIGIN = "vectors.example/log"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_MINUTE = 60_000


def seed(name: str) -> bytes:
    return hashlib.sha256(b"farmtrace entry vectors " + name.encode()).digest()


def key(name: str) -> SignerKey:
    return SignerKey.generate(name, seed=seed(name))


ADMIN, FARM, VET, PLANT = key("admin"), key("farm-op"), key("vet"), key("plant")
SENSOR, STRANGER = key("barn1-temp"), key("stranger")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header: str, payload: str | bytes, signer: SignerKey) -> str:
    """A JWS of exactly ``header`` and ``payload`` bytes, validly signed by ``signer``."""
    body = payload.encode() if isinstance(payload, str) else payload
    signing_input = f"{b64url(header.encode())}.{b64url(body)}"
    secret = nacl.bindings.crypto_sign_seed_keypair(signer.seed)[1]
    signature = nacl.bindings.crypto_sign(signing_input.encode(), secret)[:64]
    return f"{signing_input}.{b64url(signature)}"


def canonical(payload: Mapping[str, object]) -> str:
    return json.dumps(dict(payload), separators=(",", ":"))


def header(kid: str) -> str:
    return f'{{"alg":"EdDSA","kid":"{kid}"}}'


def flip(jws: str) -> str:
    """``jws`` with one bit of its signature flipped: well formed, not validly signed."""
    head, body, signature = jws.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(raw))}"


def registrations() -> list[str]:
    """The log's entries in order: genesis, three operators and a device (index 0 .. 4)."""
    ts = T0 - 60 * _MINUTE
    genesis = operator_payload(
        "register", ADMIN.id, 1, ts, pubkey=ADMIN.public_key, roles=["admin"], name="genesis"
    )
    entries = [sign_entry(genesis, ADMIN.id, ADMIN.seed)]
    for seq, (op, roles) in enumerate(((FARM, ["farm"]), (VET, ["vet"]), (PLANT, ["plant"])), 2):
        payload = operator_payload("register", op.id, seq, ts, pubkey=op.public_key, roles=roles)
        entries.append(sign_entry(payload, ADMIN.id, ADMIN.seed))
    device = device_payload(
        "register",
        SENSOR.id,
        1,
        ts,
        pubkey=SENSOR.public_key,
        kinds=["temperature"],
        subjects=["barn:b1"],
    )
    entries.append(sign_entry(device, FARM.id, FARM.seed))
    return [e.decode() for e in entries]


def cases() -> list[dict[str, Any]]:
    """The vectors: name, jws, accept, reason (what a verifier must say is wrong)."""
    t = T0
    reading = reading_payload(SENSOR.id, 1, t, "temperature", "barn:b1", 21.5, "Cel")
    vaccinated = event_payload("vaccinated", 1, t, ["bird:b1"], vaccine="ND")
    slaughtered = event_payload(
        "slaughtered", 2, t, ["bird:b1"], plant="Riverside", outputs=["carcass:b1"]
    )
    good_event = canonical(vaccinated)
    out: list[dict[str, Any]] = []

    def add(name: str, jws: str, reason: str | None) -> None:
        out.append({"name": name, "jws": jws, "accept": reason is None, "reason": reason})

    def signed(payload: Mapping[str, object], signer: SignerKey) -> str:
        return sign_entry(payload, signer.id, signer.seed).decode()

    def signed_unchecked(payload: Mapping[str, object], signer: SignerKey) -> str:
        """Validly signed, but never validated (sign_entry refuses bad payloads)."""
        return forge(header(signer.id), canonical(payload), signer)

    add("valid reading", signed(reading, SENSOR), None)
    add("valid event", signed(vaccinated, VET), None)
    add("valid event of the plant", signed(slaughtered, PLANT), None)
    add(
        "valid device registration",
        signed(
            device_payload(
                "register",
                "barn1-hum",
                2,
                t,
                pubkey=seed("h"),
                kinds=["humidity"],
                subjects=["barn:b1"],
            ),
            FARM,
        ),
        None,
    )
    for name, text in [
        ("header members reordered", '{"kid":"vet","alg":"EdDSA"}'),
        ("header with white space", '{"alg": "EdDSA", "kid": "vet"}'),
        ("header with a trailing newline", header("vet") + "\n"),
        ("header with \\u0045 escaped", '{"alg":"\\u0045dDSA","kid":"vet"}'),
        ("header kid escaped", '{"alg":"EdDSA","kid":"\\u0076et"}'),
        ("header with an extra member", '{"alg":"EdDSA","kid":"vet","typ":"JWT"}'),
        ("header with alg none", '{"alg":"none","kid":"vet"}'),
        ("header with crit", '{"alg":"EdDSA","crit":["exp"],"kid":"vet","exp":1}'),
        ("header alg twice", '{"alg":"EdDSA","alg":"EdDSA","kid":"vet"}'),
        ("header without kid", '{"alg":"EdDSA"}'),
    ]:
        add(name, forge(text, good_event, VET), "header")
    payloads: list[tuple[str, str | bytes, SignerKey]] = [
        ("payload not JSON", "{not json", VET),
        ("payload an array", "[1,2]", VET),
        ("payload member twice", good_event[:-1] + ',"seq":7}', VET),
        ("payload with a BOM", b"\xef\xbb\xbf" + good_event.encode(), VET),
        ("payload of an unknown type", canonical({**vaccinated, "type": "gossip"}), VET),
        ("payload seq 0", canonical({**vaccinated, "seq": 0}), VET),
        ("payload seq written 1.0", good_event.replace('"seq":1', '"seq":1.0'), VET),
        ("payload ts negative", canonical({**vaccinated, "ts": -1}), VET),
        ("payload ts beyond 2**53", canonical({**vaccinated, "ts": 2**53}), VET),
        ("payload without ts", canonical({k: v for k, v in vaccinated.items() if k != "ts"}), VET),
        ("reading dev not the kid", canonical({**reading, "dev": "barn2-temp"}), SENSOR),
    ]
    for name, body, signer in payloads:
        add(name, forge(header(signer.id), body, signer), "payload")
    add("valid gap of a device", signed(gap_payload(SENSOR.id, 4, t, 2, 3), SENSOR), None)
    add("valid gap of an operator", signed(gap_payload(VET.id, 4, t, 1, 3), VET), None)
    gap_body = canonical(gap_payload(SENSOR.id, 4, t, 2, 3))
    for name, body in [
        ("gap dev not the kid", gap_body.replace('"dev":"barn1-temp"', '"dev":"barn2-temp"')),
        ("gap range not below its seq", canonical(gap_payload(SENSOR.id, 4, t, 2, 4))),
        ("gap range reversed", canonical(gap_payload(SENSOR.id, 4, t, 3, 2))),
        ("gap from written 2.0", gap_body.replace('"from":2', '"from":2.0')),
    ]:
        add(name, forge(header(SENSOR.id), body, SENSOR), "payload")
    humidity = reading_payload(SENSOR.id, 2, t, "humidity", "barn:b1", 60.0, "%RH")
    add("reading of a kind its device may not sign", signed(humidity, SENSOR), "signer")
    for name, changes in [
        ("reading too hot", {"value": 100.5}),
        ("reading too cold (a disconnected DS18B20)", {"value": -127}),
        ("reading unit not its kind's", {"unit": "K"}),
        ("reading unit not SenML", {"unit": "degC"}),
        ("reading value a string", {"value": "21.5"}),
    ]:
        add(name, signed_unchecked({**reading, **changes}, SENSOR), "payload")
    weight = reading_payload(SENSOR.id, 2, t, "weight", "barn:b1", 0, "kg")
    add("reading of a zero weight", signed_unchecked(weight, SENSOR), "payload")
    gram = {**weight, "value": 1_000_001, "unit": "g"}
    add("reading of a weight over 1000 kg in g", signed_unchecked(gram, SENSOR), "payload")
    activity = reading_payload(SENSOR.id, 2, t, "activity", "barn:b1", 1.5, "count")
    add("reading of a fractional count", signed_unchecked(activity, SENSOR), "payload")
    elsewhere = reading_payload(SENSOR.id, 2, t, "temperature", "barn:b2", 21.5, "Cel")
    add("reading about a subject its device may not", signed(elsewhere, SENSOR), "signer")
    add("bad signature", flip(signed(vaccinated, VET)), "signature")
    add(
        "signed by another key than the kid's", forge(header("vet"), good_event, PLANT), "signature"
    )
    add("kid not registered", signed(vaccinated, STRANGER), "signer")
    add("event signed by an operator without the needed role", signed(slaughtered, VET), "role")
    add("event of the plant signed by the farm", signed({**slaughtered, "seq": 1}, FARM), "role")
    add("reading signed by an operator", signed({**reading, "dev": "vet"}, VET), "role")
    add(
        "device registered by a vet",
        signed(device_payload("register", "rogue", 3, t, pubkey=seed("r")), VET),
        "role",
    )
    add(
        "event before the signer's registration",
        signed({**vaccinated, "ts": T0 - 120 * _MINUTE}, VET),
        "signer",
    )
    out += label_and_medicine_cases(t)
    out += refs_cases(t)
    return out


def label_and_medicine_cases(t: int) -> list[dict[str, Any]]:
    """A packed event's best-before date and a treated event's role and withdrawal period.

    ``t`` is midnight UTC: its packing day is the day before (it still is in UTC-12).
    """
    out: list[dict[str, Any]] = []
    gtin = "09506000134352"
    packed = event_payload(
        "packed", 3, t, ["carcass:b1"], gtin=gtin, serial="S1", product="Whole chicken"
    )
    treated = event_payload(
        "treated", 4, t, ["bird:b1"], medicine="Amoxicillin", reason="E. coli", withdrawal_days=1
    )

    def add(
        name: str, payload: Mapping[str, object], signer: SignerKey, reason: str | None
    ) -> None:
        jws = forge(header(signer.id), canonical(payload), signer)  # never validated
        if reason is None:
            jws = sign_entry(payload, signer.id, signer.seed).decode()
        out.append({"name": name, "jws": jws, "accept": reason is None, "reason": reason})

    add("packed with a best-before date", {**packed, "best_before": "2026-01-08"}, PLANT, None)
    add(
        "packed best-before on the packing day in UTC-12",
        {**packed, "best_before": "2025-12-31"},
        PLANT,
        None,
    )
    for name, value in [
        ("packed best-before before the packing day", "2025-12-30"),
        ("packed best-before not a calendar date", "2026-02-30"),
        ("packed best-before in the basic format", "20260108"),
        ("packed best-before with a time", "2026-01-08T00:00"),
        ("packed best-before a number", 20260108),
    ]:
        add(name, {**packed, "best_before": value}, PLANT, "payload")
    add("treated by the vet", treated, VET, None)
    add("treated without a withdrawal period", {**treated, "withdrawal_days": 0}, VET, None)
    add("treated signed by the farm", {**treated, "seq": 2}, FARM, "role")
    for name, days in [
        ("treated with a negative withdrawal period", -1),
        ("treated with a withdrawal period over 1000 days", 1001),
        ("treated with a withdrawal period of a string", "7"),
    ]:
        add(name, {**treated, "withdrawal_days": days}, VET, "payload")
    body = canonical(treated).replace('"withdrawal_days":1', '"withdrawal_days":1.0')
    out.append(
        {
            "name": "treated withdrawal period written 1.0",
            "jws": forge(header(VET.id), body, VET),
            "accept": False,
            "reason": "payload",
        }
    )
    return out


def refs_cases(t: int) -> list[dict[str, Any]]:
    """Cross-log references (chain/crosslog.py): their format, who may carry them, about what."""
    ref = {"log": "farm-a.example/log", "index": 17, "hash": "ab" * 32, "size": 9}
    ref |= {"root": "cd" * 32, "subject": "bird:b1"}
    slaughtered = event_payload(
        "slaughtered", 2, t, ["bird:b1"], plant="Riverside", outputs=["carcass:b1"], refs=[ref]
    )
    vaccinated = event_payload("vaccinated", 5, t, ["bird:b1", "bird:b2"], vaccine="ND")
    second = ref | {"index": 18, "subject": "bird:b2"}
    out: list[dict[str, Any]] = []

    def add(
        name: str, payload: Mapping[str, object] | str, signer: SignerKey, reason: str | None
    ) -> None:
        if isinstance(payload, str):
            jws = forge(header(signer.id), payload, signer)
        elif reason is None:
            jws = sign_entry(payload, signer.id, signer.seed).decode()
        else:
            jws = forge(header(signer.id), canonical(payload), signer)  # never validated
        out.append({"name": name, "jws": jws, "accept": reason is None, "reason": reason})

    add("slaughter with a cross-log reference", slaughtered, PLANT, None)
    add("vaccination with two references", vaccinated | {"refs": [ref, second]}, VET, None)
    for name, refs in [
        ("refs an empty list", []),
        ("refs an object, not a list", ref),
        ("refs of 9 references", [ref | {"index": i} for i in range(9)]),
        ("reference about a subject the event does not name", [ref | {"subject": "bird:b9"}]),
        ("reference hash in upper case", [ref | {"hash": "AB" * 32}]),
        ("reference root too short", [ref | {"root": "cd" * 31}]),
        ("reference with an extra member", [ref | {"seen": 9}]),
        ("reference without its root", [{k: v for k, v in ref.items() if k != "root"}]),
        ("reference size 0", [ref | {"size": 0}]),
        ("reference index a string", [ref | {"index": "17"}]),
        ("reference index negative", [ref | {"index": -1}]),
        ("reference index true", [ref | {"index": True}]),
        ("reference index beyond 2**53", [ref | {"index": 2**53}]),
        ("reference origin with a space", [ref | {"log": "farm a/log"}]),
        ("reference origin with a +", [ref | {"log": "farm+a/log"}]),
        ("reference subject without a kind", [ref | {"subject": "b1"}]),
        ("the same reference twice", [ref, dict(ref)]),
    ]:
        add(name, {**slaughtered, "refs": refs}, PLANT, "payload")
    add(
        "reference index written 17.0",
        canonical(slaughtered).replace('"index":17', '"index":17.0'),
        PLANT,
        "payload",
    )
    died = event_payload("died", 6, t, ["bird:b1"], refs=[ref])
    add("refs in a died event (it may not reference)", died, FARM, "payload")
    return out


def log_context(entries: list[str]) -> dict[str, Any]:
    """The log of ``entries`` (one block), signed; and what its read API says about it."""
    signer_key, verifier_key = note.generate_key(ORIGIN, seed=seed("log"))
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(Path(tmp) / "log", origin=ORIGIN) as store,
    ):
        writer = LogWriter(store, signer_key)
        writer.commit_block([parse_entry(e.encode()) for e in entries], T0 - 30 * _MINUTE)
        checkpoint = writer.sign_checkpoint()
        admins = ((ADMIN.id, ADMIN.public_key),)
        app = _api_app(LogInfo(ORIGIN, verifier_key, (), store, admins))
        client = app.test_client()
        api: dict[str, Any] = {}
        for signer in (ADMIN, FARM, VET, PLANT, SENSOR):
            path = f"/signers/{signer.id}?tree_size={store.size}"
            api[path] = client.get(f"/api/v1{path}").json
        for index in range(len(entries)):
            path = f"/entries/{index}/proof?tree_size={store.size}"
            api[path] = client.get(f"/api/v1{path}").json
    return {
        "origin": ORIGIN,
        "log_vkey": verifier_key,
        "admins": {ADMIN.id: b64url(ADMIN.public_key)},
        "checkpoint": checkpoint,
        "api": api,
    }


def _api_app(source: LogInfo) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(create_read_api(source))
    return app


def vectors() -> dict[str, Any]:
    """The whole vectors document."""
    entries = registrations()
    return {
        "about": "Entries every farmtrace verifier must decide alike (design.md section 2). "
        "Generated by tests/vectors/make_entry_vectors.py: do not edit by hand.",
        "reasons": {
            "header": 'the protected header is not exactly {"alg":"EdDSA","kid":"<id>"}',
            "payload": "the payload breaks the rules every payload follows",
            "signature": "the signature does not verify with the kid's registered key",
            "signer": "the kid has no registration in force at the entry's ts",
            "role": "the signer's kind or roles do not allow this entry",
        },
        **log_context(entries),
        "registrations": entries,
        "index": len(entries),
        "vectors": cases(),
    }


def roles_js() -> str:
    """roles.js: who may sign what (chain/registry.py) and reference what (chain/crosslog.py)."""

    def table(roles: Mapping[str, frozenset[str]]) -> str:
        rows = "".join(f"  {name}: {json.dumps(sorted(r))},\n" for name, r in roles.items())
        return "{\n" + rows + "}"

    registrars = {"device": DEVICE_REGISTRAR_ROLES, "operator": OPERATOR_REGISTRAR_ROLES}
    return (
        "// Who may sign what (chain/registry.py) and which events may reference which\n"
        "// (chain/crosslog.py): the tables, for the in-browser verifier.\n"
        "// Generated by tests/vectors/make_entry_vectors.py: do not edit by hand.\n\n"
        "/** The roles, one of which an operator must hold to sign each event. */\n"
        f"export const EVENT_ROLES = Object.freeze({table(EVENT_ROLES)});\n\n"
        "/** The roles, one of which an operator must hold to sign each registration. */\n"
        f"export const REGISTRAR_ROLES = Object.freeze({table(registrars)});\n\n"
        "/** The event kinds that may carry refs, and the kinds each may reference. */\n"
        f"export const REFERABLE = Object.freeze({table(REFERABLE)});\n"
    )


def readings_js() -> str:
    """readings.js: chain/_payloads.py's reading units and value ranges, as a JavaScript module."""
    units = "".join(f"  {k}: {json.dumps(sorted(u))},\n" for k, u in KIND_UNITS.items())
    fields = {kind: [r.low, r.high, r.above_low, r.whole] for kind, r in VALUE_RANGES.items()}
    names = ("low", "high", "aboveLow", "whole")
    ranges = "".join(
        f"  {kind}: {json.dumps(dict(zip(names, values, strict=True)))},\n"
        for kind, values in fields.items()
    )
    return (
        "// What a reading may carry: chain/_payloads.py's tables, for the in-browser verifier.\n"
        "// Generated by tests/vectors/make_entry_vectors.py: do not edit by hand.\n\n"
        "/** The SenML units (RFC 8428) a reading of each known kind may be in. */\n"
        f"export const KIND_UNITS = Object.freeze({{\n{units}}});\n\n"
        "/** The units a reading of any other (extension) kind may be in. */\n"
        f"export const SENML_UNITS = Object.freeze({json.dumps(sorted(SENML_UNITS))});\n\n"
        "/** Each kind's values, in its first unit (a value in g: the bounds times 1000). */\n"
        f"export const VALUE_RANGES = Object.freeze({{\n{ranges}}});\n"
    )


def main(write: Callable[[Path, str], object] = Path.write_text) -> None:
    write(VECTORS, json.dumps(vectors(), indent=1) + "\n")
    write(ROLES_JS, roles_js())
    write(READINGS_JS, readings_js())


if __name__ == "__main__":
    main()
