"""Every case of tests/vectors/crosslog.json through chain.crosslog (check_reference, and
check_head_covers for the file's ``heads``).

The browser's port (consumer_web/static/verify/crosslog.js) runs the same file
(tests/browser/test_crosslog_browser.py): the site, the audit, the gateway and
a shopper's phone give each reference the same verdict.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from vectors.make_crosslog_vectors import VECTORS, vectors

from chain.crosslog import (
    FAILURE_REASONS,
    CrossLogReferenceError,
    LogReference,
    PinnedLog,
    ReferenceEvidence,
    Referrer,
    check_head_covers,
    check_reference,
)
from chain.proof_bundle import EntryProof
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy

DOCUMENT: dict[str, Any] = json.loads(VECTORS.read_text())
CASES: list[dict[str, Any]] = DOCUMENT["cases"]
HEADS: list[dict[str, Any]] = DOCUMENT["heads"]


def pins() -> dict[str, PinnedLog]:
    """The file's pins as chain/ takes them (the genesis administrator plays no part here)."""
    admins = (("admin", b"\x00" * 32),)
    return {
        origin: PinnedLog(
            TrustRoot(origin, pin["vkey"], admins),
            WitnessPolicy(pin["quorum"], tuple(Witness(vkey) for vkey in pin["witnesses"])),
        )
        for origin, pin in DOCUMENT["pins"].items()
    }


def evidence(case: dict[str, Any]) -> ReferenceEvidence:
    """The two read API bodies, decoded as readapi.client decodes them."""
    body = case["evidence"]
    hashes = (body["consistency"] or {"hashes": []})["hashes"]
    return ReferenceEvidence(
        EntryProof.from_json(json.dumps(body["proof"])),
        tuple(base64.b64decode(h, validate=True) for h in hashes),
    )


def verdict(case: dict[str, Any]) -> str | None:
    """None when the reference holds, else the reason chain/ refuses it."""
    ref = LogReference.from_json(case["ref"])
    referrer = case["referrer"]
    try:
        checked = check_reference(
            ref,
            evidence(case),
            pins(),
            Referrer(referrer["event"], tuple(referrer["subjects"]), referrer["ts"]),
        )
    except CrossLogReferenceError as error:
        return error.reason
    expected = case["checked"]
    assert checked.entry.payload["event"] == expected["event"]
    assert checked.checkpoint.size == expected["size"]
    assert list(checked.cosigners) == expected["cosigners"]
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_chain_decides_each_case_as_the_file_says(case: dict[str, Any]) -> None:
    assert verdict(case) == case["reason"]


@pytest.mark.parametrize("case", HEADS, ids=[c["name"] for c in HEADS])
def test_chain_decides_each_head_as_the_file_says(case: dict[str, Any]) -> None:
    ref = LogReference.from_json(case["ref"])
    try:
        checkpoint, cosigners = check_head_covers(ref, case["checkpoint"], pins())
    except CrossLogReferenceError as error:
        assert error.reason == case["reason"]
        return
    assert case["reason"] is None
    assert {"size": checkpoint.size, "cosigners": list(cosigners)} == case["checked"]


def test_the_cases_cover_every_reason_and_references_that_hold() -> None:
    reasons = [c["reason"] for c in CASES]
    assert set(reasons) == {None, *FAILURE_REASONS}
    assert reasons.count(None) >= 3


def test_the_checked_in_file_is_what_the_generator_makes() -> None:
    assert json.loads(json.dumps(vectors())) == DOCUMENT  # regenerate: see make_crosslog_vectors.py
