"""The in-browser verifier decides every case of tests/vectors/registry.json as chain/ does.

verify/registry.js recomputes a signer's history head and leaf from the
registrations a site lists and checks them against the checkpoint's registry
line; tests/vectors/test_registry_vectors.py runs the same file through chain/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import ConsoleWatch, blank_page_with
from browser_site import STATIC

VECTORS = Path(__file__).parents[1] / "vectors" / "registry.json"
DOCUMENT: dict[str, Any] = json.loads(VECTORS.read_text())

# Answers {cases: {name: [accepted, message]}, known: {signer: [head hex, leaf hex]}}.
RUN_CASES = """async (doc) => {
    const registry = await import("/static/verify/registry.js");
    const bytes = await import("/static/verify/bytes.js");
    const jws = await import("/static/verify/jws.js");
    const cases = {};
    for (const c of doc.cases) {
        try {
            await registry.verifyRegistryHistory(c.signer, c.entries, c.proof, c.checkpoint);
            cases[c.name] = [true, ""];
        } catch (error) {
            cases[c.name] = [false, `${error.name}: ${error.message}`];
        }
    }
    const known = {};
    for (const signer of Object.keys(doc.known.signers)) {
        const records = [];
        for (const e of doc.known.entries) {
            const p = jws.parseCompact(e.jws).payload;
            if ((p.type === "device" ? p.dev : p.op) !== signer) continue;
            records.push({ index: e.index, entryHash: await bytes.sha256(bytes.utf8(e.jws)) });
        }
        const head = await registry.historyHead(records);
        const leaf = registry.leafInput(signer, records.length, head);
        known[signer] = [bytes.hex(head), bytes.hex(leaf)];
    }
    return { cases, known };
}"""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with blank_page_with(STATIC) as url:
        yield url


@pytest.fixture(scope="module")
def decided(browser: Any, site: str) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        watch = ConsoleWatch(page)
        page.goto(site)
        found: dict[str, Any] = page.evaluate(RUN_CASES, DOCUMENT)
        assert watch.messages == []
        return found
    finally:
        context.close()


@pytest.mark.parametrize("case", DOCUMENT["cases"], ids=[c["name"] for c in DOCUMENT["cases"]])
def test_the_browser_decides_each_case_as_chain_does(
    decided: dict[str, Any], case: dict[str, Any]
) -> None:
    accepted, message = decided["cases"][case["name"]]
    assert accepted is case["accept"], message
    if not accepted:
        assert "registration history not proven complete" in message


def test_the_browser_computes_the_known_heads_and_leaves(decided: dict[str, Any]) -> None:
    expected = {s: [a["head"], a["leaf"]] for s, a in DOCUMENT["known"]["signers"].items()}
    assert decided["known"] == expected
