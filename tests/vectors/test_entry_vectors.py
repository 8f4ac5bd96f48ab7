"""Every vector of entries.json through chain/'s verifier: the decision and reason it expects.

The browser's verifier runs the same file (tests/browser/test_entry_vectors_js.py),
so the gateway, the audit and a consumer's phone accept exactly the same entries.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from make_entry_vectors import READINGS_JS, ROLES_JS, VECTORS, main, readings_js, roles_js, vectors

from chain.entries import parse_entry, verify_entry
from chain.errors import (
    AuthorizationError,
    FarmtraceError,
    MalformedEntryError,
    SignatureError,
    UnknownSignerError,
)
from chain.registry import GENESIS_INDEX, Grant, Registry

DOCUMENT: dict[str, Any] = json.loads(VECTORS.read_text())
CASES = DOCUMENT["vectors"]


def replayed_registry() -> Registry:
    """The genesis administrators, then each registration verified and applied in log order."""
    admins = [
        Grant(admin, "operator", _b64url(key), frozenset({"admin"}), 0, GENESIS_INDEX)
        for admin, key in DOCUMENT["admins"].items()
    ]
    registry = Registry.from_grants(admins)
    for index, jws in enumerate(DOCUMENT["registrations"]):
        entry = parse_entry(jws.encode())
        verify_entry(entry, registry.authorize(entry, index))
        registry.apply(entry, index)
    return registry


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reason_of(error: FarmtraceError) -> str:
    """The vector reason that ``error`` (raised by chain/) stands for."""
    if isinstance(error, MalformedEntryError):
        return "header" if str(error).startswith("header") else "payload"
    if isinstance(error, SignatureError):
        return "signature"
    if isinstance(error, AuthorizationError) and "must be signed by" in str(error):
        return "role"
    if isinstance(error, UnknownSignerError | AuthorizationError):
        return "signer"
    return f"unexpected {type(error).__name__}"


def decide(jws: str, registry: Registry, index: int) -> str | None:
    """None if chain/ accepts ``jws`` as log entry ``index``, else the reason it refuses it."""
    try:
        entry = parse_entry(jws.encode())
        verify_entry(entry, registry.authorize(entry, index))
    except FarmtraceError as error:
        return reason_of(error)
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_chain_decides_each_vector_as_it_expects(case: dict[str, Any]) -> None:
    assert decide(case["jws"], replayed_registry(), DOCUMENT["index"]) == case["reason"]
    assert case["accept"] == (case["reason"] is None)


def test_the_vectors_cover_every_reason_and_both_decisions() -> None:
    reasons = {c["reason"] for c in CASES}
    assert reasons == {None, *DOCUMENT["reasons"]}
    assert sum(c["accept"] for c in CASES) >= 3


def test_the_checked_in_files_are_what_the_generator_makes() -> None:
    assert json.loads(json.dumps(vectors())) == DOCUMENT  # regenerate: see make_entry_vectors.py
    assert ROLES_JS.read_text() == roles_js()
    assert READINGS_JS.read_text() == readings_js()


def test_the_generated_roles_js_is_chain_registrys_table() -> None:
    written: dict[str, str] = {}
    main(lambda path, text: written.setdefault(path.name, text))
    assert written["roles.js"] == roles_js()
    assert '  slaughtered: ["plant"],\n' in written["roles.js"]
