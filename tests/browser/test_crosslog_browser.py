"""The browser checks cross-log references as chain/ does, in a real Chromium.

static/verify/merkle.js verifyConsistency runs RFC 9162 consistency proofs:
the known answers and transparency-dev's happy paths chain/merkle is tested
with (tests/unit/chain/data), and corruptions of them, each with chain's
verdict. static/verify/crosslog.js checkReference runs every case of
tests/vectors/crosslog.json (and checkHeadCovers every head), which
tests/unit/chain/test_crosslog_vectors.py runs through chain.crosslog: the
same verdicts, reason by reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from browser_harness import ConsoleWatch, blank_page_with
from browser_site import STATIC
from merkle_consistency_cases import Consistency, known_roots, valid_consistencies
from playwright.sync_api import Browser, Page

from chain.errors import ProofError
from chain.merkle import EMPTY_ROOT

TESTS = Path(__file__).resolve().parents[1]
CROSSLOG: dict[str, Any] = json.loads((TESTS / "vectors" / "crosslog.json").read_text())
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _chain_verdict(case: Consistency) -> bool:
    """Whether chain/merkle accepts the proof."""
    try:
        case.verify()
    except ProofError:
        return False
    return True


def _to_json(case: Consistency) -> dict[str, Any]:
    return {
        "size1": case.size1,
        "size2": case.size2,
        "proof": [h.hex() for h in case.proof],
        "root1": case.root1.hex(),
        "root2": case.root2.hex(),
    }


def _known_proofs() -> list[Consistency]:
    roots = known_roots()
    trivial = [Consistency(f"same-{n}", n, n, (), roots[n], roots[n]) for n in range(1, len(roots))]
    return [
        *valid_consistencies(),
        *trivial,
        Consistency("from-empty", 0, 8, (), EMPTY_ROOT, roots[8]),
    ]


def _mutations(c: Consistency) -> Iterator[Consistency]:
    """transparency-dev's mutations (proof/verify_test.go), one bit flip per proof hash."""
    yield replace(c, name=f"{c.name}: size1 - 1", size1=c.size1 - 1)
    yield replace(c, name=f"{c.name}: size1 + 1", size1=c.size1 + 1)
    yield replace(c, name=f"{c.name}: size1 ^ 2", size1=c.size1 ^ 2)
    yield replace(c, name=f"{c.name}: size2 * 2", size2=c.size2 * 2)
    yield replace(c, name=f"{c.name}: size2 // 2", size2=c.size2 // 2)
    yield replace(c, name=f"{c.name}: wrong root1", root1=b"WrongRoot")
    yield replace(c, name=f"{c.name}: random root1", root1=SOME_HASH)
    yield replace(c, name=f"{c.name}: random root2", root2=SOME_HASH)
    yield replace(c, name=f"{c.name}: swapped roots", root1=c.root2, root2=c.root1)
    yield replace(c, name=f"{c.name}: empty proof", proof=())
    yield replace(c, name=f"{c.name}: trailing garbage", proof=(*c.proof, b""))
    yield replace(c, name=f"{c.name}: trailing root2", proof=(*c.proof, c.root2))
    yield replace(c, name=f"{c.name}: preceding root1", proof=(c.root1, *c.proof))
    yield replace(c, name=f"{c.name}: truncated proof", proof=c.proof[:-1])
    for position, hashed in enumerate(c.proof):
        flipped = bytes([hashed[0] ^ 0x80]) + hashed[1:]
        proof = (*c.proof[:position], flipped, *c.proof[position + 1 :])
        yield replace(c, name=f"{c.name}: proof[{position}] bit 0", proof=proof)


KNOWN = _known_proofs()
MUTANTS = [m for c in KNOWN if c.proof for m in _mutations(c)]

RUN_CONSISTENCY = """async (cases) => {
    const { verifyConsistency } = await import("/static/verify/merkle.js");
    const bytes = (h) => Uint8Array.from(h.match(/../g) ?? [], (p) => parseInt(p, 16));
    const out = [];
    for (const c of cases) {
        try {
            await verifyConsistency(
                c.size1, c.size2, c.proof.map(bytes), bytes(c.root1), bytes(c.root2));
            out.push([true, ""]);
        } catch (error) {
            out.push([false, `${error.name}: ${error.message}`]);
        }
    }
    return out;
}"""

RUN_REFERENCES = """async (doc) => {
    const { checkReference } = await import("/static/verify/crosslog.js");
    const out = {};
    for (const c of doc.cases) {
        try {
            const checked = await checkReference(c.ref, c.evidence, doc.pins, c.referrer);
            out[c.name] = {
                reason: null,
                event: checked.entry.payload.event,
                size: checked.checkpoint.size,
                cosigners: checked.cosigners,
            };
        } catch (error) {
            const message = `${error.name}: ${error.message}`;
            out[c.name] = { reason: error.reason ?? null, message };
        }
    }
    return out;
}"""


RUN_HEADS = """async (doc) => {
    const { checkHeadCovers } = await import("/static/verify/crosslog.js");
    const out = {};
    for (const c of doc.heads) {
        try {
            const { checkpoint, cosigners } = await checkHeadCovers(c.ref, c.checkpoint, doc.pins);
            out[c.name] = { reason: null, checked: { size: checkpoint.size, cosigners } };
        } catch (error) {
            out[c.name] = { reason: error.reason ?? null, message: error.message };
        }
    }
    return out;
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with blank_page_with(STATIC) as url:
        yield url


def _run(browser: Browser, site: str, script: str, argument: object) -> Any:
    context = browser.new_context()
    try:
        page = context.new_page()
        watch = ConsoleWatch(page)
        page.goto(site)
        found = page.evaluate(script, argument)
        assert watch.messages == []
        return found
    finally:
        context.close()


@pytest.fixture(scope="module")
def consistency_verdicts(browser: Browser, site: str) -> list[list[Any]]:
    cases = [_to_json(c) for c in [*KNOWN, *MUTANTS]]
    found: list[list[Any]] = _run(browser, site, RUN_CONSISTENCY, cases)
    return found


@pytest.fixture(scope="module")
def reference_verdicts(browser: Browser, site: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = _run(browser, site, RUN_REFERENCES, CROSSLOG)
    return found


@pytest.fixture(scope="module")
def head_verdicts(browser: Browser, site: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = _run(browser, site, RUN_HEADS, CROSSLOG)
    return found


def test_the_browser_accepts_every_known_consistency_proof(
    consistency_verdicts: list[list[Any]],
) -> None:
    assert all(_chain_verdict(c) for c in KNOWN)
    refused = {c.name: v[1] for c, v in zip(KNOWN, consistency_verdicts, strict=False) if not v[0]}
    assert refused == {}


def test_the_browser_refuses_every_corrupted_consistency_proof_chain_refuses(
    consistency_verdicts: list[list[Any]],
) -> None:
    verdicts = consistency_verdicts[len(KNOWN) :]
    assert len(verdicts) == len(MUTANTS) > 100
    differ = {
        m.name: v for m, v in zip(MUTANTS, verdicts, strict=True) if v[0] != _chain_verdict(m)
    }
    assert differ == {}
    assert not any(v[0] for v in verdicts)  # every mutation is a corruption
    assert all(v[1].startswith("VerifyError: ") for v in verdicts)


@pytest.mark.parametrize("case", CROSSLOG["cases"], ids=[c["name"] for c in CROSSLOG["cases"]])
def test_the_browser_decides_each_reference_as_chain_does(
    reference_verdicts: dict[str, dict[str, Any]], case: dict[str, Any]
) -> None:
    found = reference_verdicts[case["name"]]
    assert found["reason"] == case["reason"], found.get("message")
    if case["reason"] is None:
        assert {k: found[k] for k in ("event", "size", "cosigners")} == case["checked"]
    else:
        assert found["message"].startswith("CrossLogError: reference to "), found["message"]


@pytest.mark.parametrize("case", CROSSLOG["heads"], ids=[c["name"] for c in CROSSLOG["heads"]])
def test_the_browser_decides_each_head_as_chain_does(
    head_verdicts: dict[str, dict[str, Any]], case: dict[str, Any]
) -> None:
    found = head_verdicts[case["name"]]
    assert found["reason"] == case["reason"], found.get("message")
    if case["reason"] is None:
        assert found["checked"] == case["checked"]


def test_evidence_that_is_no_proof_bundle_leaves_the_reference_unavailable(
    page: Page, site: str
) -> None:
    case = CROSSLOG["cases"][0]
    broken = [
        {"proof": None, "consistency": None},
        {"proof": {**case["evidence"]["proof"], "entry_path": {}}, "consistency": None},
        {"proof": case["evidence"]["proof"], "consistency": {"hashes": ["not base64!"]}},
    ]
    malformed_ref = {**case["ref"], "hash": "AB" * 32}
    page.goto(site)
    found = page.evaluate(
        """async ([doc, c, broken, badRef]) => {
            const { checkReference } = await import("/static/verify/crosslog.js");
            const reasons = [];
            const attempts = [
                ...broken.map((evidence) => [c.ref, evidence]),
                [badRef, c.evidence],
            ];
            for (const [ref, evidence] of attempts) {
                try {
                    await checkReference(ref, evidence, doc.pins, c.referrer);
                    reasons.push("accepted");
                } catch (error) {
                    reasons.push(error.reason);
                }
            }
            return reasons;
        }""",
        [CROSSLOG, case, broken, malformed_ref],
    )
    assert found == ["ref_unavailable"] * 3 + ["malformed_reference"]
