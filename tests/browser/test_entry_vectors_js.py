"""The in-browser verifier decides every vector of tests/vectors/entries.json as chain/ does.

Each vector goes through the JS modules the consumer site's verify.js uses,
in the order it uses them: jws.js parses the entry, signer.js proves the
signer's registrations (from the read API answers the file holds) and checks
that it may sign the entry, and the signature is checked with its key.
tests/vectors/test_entry_vectors.py runs the same vectors through chain/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import ConsoleWatch, blank_page_with
from browser_site import STATIC
from playwright.sync_api import Page

from chain import checkpoint as cp
from chain import note
from chain.checkpoint import Checkpoint
from chain.crosslog import REFERABLE
from chain.registry import DEVICE_REGISTRAR_ROLES, EVENT_ROLES, OPERATOR_REGISTRAR_ROLES

VECTORS = Path(__file__).parents[1] / "vectors" / "entries.json"
DOCUMENT: dict[str, Any] = json.loads(VECTORS.read_text())

# Runs every vector; answers {name: [stage, message]} (stage "accept" when accepted).
RUN_VECTORS = """async (doc) => {
    const jws = await import("/static/verify/jws.js");
    const signer = await import("/static/verify/signer.js");
    const note = await import("/static/verify/note.js");
    const api = {
        async get(path, { missingOk = false } = {}) {
            if (Object.hasOwn(doc.api, path)) return doc.api[path];
            if (missingOk) return null;
            throw new Error(`no answer for ${path}`);
        },
    };
    const checkpoint = note.parseCheckpoint(note.parseNote(doc.checkpoint).text);
    const ctx = { api, admins: doc.admins, checkpoint, origin: doc.origin };
    const out = {};
    for (const v of doc.vectors) {
        let stage = "parse";
        try {
            const entry = jws.parseCompact(v.jws);
            stage = "signer";
            const key = await signer.signingKey(entry, doc.index, ctx);
            stage = "role";
            signer.checkAllowed(entry, key);
            stage = "signature";
            if (!(await jws.verifyCompact(entry, key.key))) throw new Error("invalid signature");
            out[v.name] = ["accept", ""];
        } catch (error) {
            out[v.name] = [stage, `${error.name}: ${error.message}`];
        }
    }
    return out;
}"""

# The stage at which the JS verifier refuses an entry, for each reason of the file.
STAGES = {
    None: "accept",
    "header": "parse",
    "payload": "parse",
    "signer": "signer",
    "role": "role",
    "signature": "signature",
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with blank_page_with(STATIC) as url:
        yield url


@pytest.fixture(scope="module")
def decisions(browser: Any, site: str) -> dict[str, list[str]]:
    context = browser.new_context()
    try:
        page = context.new_page()
        watch = ConsoleWatch(page)
        page.goto(site)
        found: dict[str, list[str]] = page.evaluate(RUN_VECTORS, DOCUMENT)
        assert watch.messages == []
        return found
    finally:
        context.close()


@pytest.mark.parametrize("case", DOCUMENT["vectors"], ids=[c["name"] for c in DOCUMENT["vectors"]])
def test_the_browser_decides_each_vector_as_chain_does(
    decisions: dict[str, list[str]], case: dict[str, Any]
) -> None:
    stage, message = decisions[case["name"]]
    assert stage == STAGES[case["reason"]], message
    if case["reason"] in ("header", "payload"):
        assert message.startswith(f"VerifyError: entry {case['reason']}"), message


def test_the_browsers_role_tables_are_chain_registrys(page: Page, site: str) -> None:
    page.goto(site)
    tables = page.evaluate(
        """async () => {
            const roles = await import("/static/verify/roles.js");
            return {
                events: roles.EVENT_ROLES,
                registrars: roles.REGISTRAR_ROLES,
                referable: roles.REFERABLE,
            };
        }"""
    )
    assert tables["events"] == {event: sorted(roles) for event, roles in EVENT_ROLES.items()}
    assert tables["registrars"] == {
        "device": sorted(DEVICE_REGISTRAR_ROLES),
        "operator": sorted(OPERATOR_REGISTRAR_ROLES),
    }
    assert tables["referable"] == {event: sorted(kinds) for event, kinds in REFERABLE.items()}


def test_the_browser_counts_one_witness_key_once_whatever_its_names(page: Page, site: str) -> None:
    log_skey, _ = note.generate_key("w.example/log", seed=b"\x01" * 32)
    body = Checkpoint("w.example/log", 3, b"\x02" * 32)
    keys = [cp.generate_cosigner_key(name, seed=b"\x03" * 32) for name in ("w1.example", "alias")]
    signed = cp.sign_checkpoint(body, log_skey) + "".join(
        cp.cosign(body.to_text(), skey, 1_700_000_000) for skey, _ in keys
    )
    page.goto(site)
    found = page.evaluate(
        """async ([signed, vkeys]) => {
            const note = await import("/static/verify/note.js");
            try {
                const results = await note.checkCosignatures(signed, vkeys);
                return results.filter((r) => r.status === "ok").length;
            } catch (error) {
                return error.message;
            }
        }""",
        [signed, [vkey for _, vkey in keys]],
    )
    assert found == "witness keys: one key listed under both w1.example and alias"
