"""verify.js in a real Chromium: it checks entries itself, and names what is wrong.

The log (browser_log.py) holds good entries and entries a gateway would
refuse; tampering in transit is done with Playwright's request interception.
The JS Merkle and note code is cross-checked against chain/ on known vectors.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_harness import ConsoleWatch, screenshot, serve
from browser_log import ORIGIN, BrowserLog, build_browser_log
from browser_site import verify_app
from merkle_reference import ref_inclusion, ref_root
from playwright.sync_api import Page, Route

from chain import merkle, note
from chain._encoding import b64_decode, b64_encode, b64url_decode, b64url_encode
from chain.checkpoint import Checkpoint
from chain.keyfile import SignerKey
from gateway.init import read_log_signer

KNOWN_ANSWERS = Path(__file__).parents[1] / "unit/chain/data/merkle_rfc6962_known_answers.json"


@dataclass
class Site:
    url: str
    log: BrowserLog


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    log = build_browser_log(tmp_path_factory.mktemp("browser") / "log")
    try:
        with serve(verify_app(log.source)) as url:
            yield Site(url, log)
    finally:
        log.close()


@dataclass
class Outcome:
    state: str
    failed: set[str]
    message: str
    checks: dict[str, dict[str, str | None]]


def verify(page: Page, site: Site, index: int) -> Outcome:
    """Open the test page, tap entry ``index``, wait for the verdict."""
    page.goto(f"{site.url}/page?entry={index}")
    page.click(f'[data-entry="{index}"]')
    done = f'#verify-result[data-entry="{index}"]:is([data-state="ok"], [data-state="fail"])'
    page.wait_for_selector(done)
    checks = page.eval_on_selector_all(
        "#verify-result li[data-check]",
        """items => Object.fromEntries(items.map(li => [li.dataset.check, {
            ok: li.dataset.ok, text: li.textContent,
            expected: li.querySelectorAll("code")[0]?.textContent ?? null,
            calculated: li.querySelectorAll("code")[1]?.textContent ?? null}]))""",
    )
    result = page.locator("#verify-result")
    failed = result.get_attribute("data-failed") or ""
    return Outcome(
        state=result.get_attribute("data-state") or "",
        failed=set(failed.split()),
        message=page.locator("[data-verify-message]").inner_text(),
        checks=checks,
    )


# verify.js's English check names, in the order it runs the checks.
LABELS = {
    "checkpoint": "Checkpoint signed by the log key",
    "witnesses": "Witness cosignatures",
    "block-header": "Block header",
    "block-inclusion": "Block included in the log",
    "entry-inclusion": "Entry included in its block",
    "signer": "Signer registered and authorised",
    "entry-signature": "Entry signature",
}
ALL_CHECKS = set(LABELS)

GOOD = [
    "genesis",
    "farm_op_registered",
    "device_registered",
    "reading0",
    "event",
    "rotation",
    "buffered_old_key",
    "new_key",
    "revocation",
]


@pytest.mark.parametrize("name", GOOD)
def test_a_good_entry_verifies(page: Page, console: ConsoleWatch, site: Site, name: str) -> None:
    index = site.log.entries[name]
    outcome = verify(page, site, index)
    assert (outcome.state, outcome.failed) == ("ok", set())
    assert set(outcome.checks) == ALL_CHECKS
    assert all(c["ok"] == "true" for c in outcome.checks.values())
    block = site.log.store.block_of_entry(index)
    size = site.log.store.size
    assert outcome.message == (
        f"Entry {index} verified: block {block}, checkpoint of {size}, 1 witness"
    )
    assert "1 of 2 witnesses cosigned witness1.example" in outcome.checks["witnesses"]["text"]
    assert console.messages == []


def test_the_signer_chain_leads_to_the_genesis_admin(page: Page, site: Site) -> None:
    outcome = verify(page, site, site.log.entries["new_key"])
    signer = outcome.checks["signer"]["text"] or ""
    assert "barn1-temp: registered by farm-op in entry 11" in signer
    assert "farm-op: registered by farm-admin in entry 1" in signer
    assert "farm-admin: registered by farm-admin in entry 0" in signer
    assert signer.endswith("farm-admin: genesis administrator")
    screenshot(page, "verify-js-ok")


BAD = [
    ("forged", {"entry-signature"}),
    ("old_key_after_rotation", {"entry-signature"}),
    ("after_revocation", {"signer", "entry-signature"}),
    ("rogue_registered", {"signer"}),
    ("rogue_reading", {"signer", "entry-signature"}),
]


@pytest.mark.parametrize(("name", "failed"), BAD)
def test_an_entry_the_log_should_not_hold_fails(
    page: Page, site: Site, name: str, failed: set[str]
) -> None:
    index = site.log.entries[name]
    outcome = verify(page, site, index)
    assert (outcome.state, outcome.failed) == ("fail", failed)
    labels = ", ".join(label for check, label in LABELS.items() if check in failed)
    assert outcome.message == f"Entry {index} FAILED: {labels}"


def test_a_revoked_signer_is_named(page: Page, site: Site) -> None:
    outcome = verify(page, site, site.log.entries["after_revocation"])
    assert "barn1-temp was revoked at ts" in (outcome.checks["signer"]["text"] or "")
    screenshot(page, "verify-js-fail")


def test_a_registrar_without_the_role_is_named(page: Page, site: Site) -> None:
    outcome = verify(page, site, site.log.entries["rogue_registered"])
    signer = outcome.checks["signer"]
    assert "a device entry must be signed by a operator with a role in admin,farm" in (
        signer["text"] or ""
    )
    assert signer["calculated"] == "vet: a operator with roles vet"


# --- Tampering in transit: the same good reading, one defect at a time ---

Tamper = Callable[[dict[str, Any], Site], dict[str, Any]]


def _flip(b64: str, decode: Callable[[str], bytes], encode: Callable[[bytes], str]) -> str:
    data = bytearray(decode(b64))
    data[len(data) // 2] ^= 0x01
    return encode(bytes(data))


def flip_entry_signature(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    head, payload, signature = proof["entry"].split(".")
    proof["entry"] = f"{head}.{payload}.{_flip(signature, b64url_decode, b64url_encode)}"
    return proof


def change_entry_payload(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    head, payload, signature = proof["entry"].split(".")
    data = b64url_decode(payload)
    assert b'"value":21.5' in data
    changed = b64url_encode(data.replace(b'"value":21.5', b'"value":31.5'))
    proof["entry"] = f"{head}.{changed}.{signature}"
    return proof


def flip_entry_path_hash(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    hashes = proof["entry_path"]["hashes"]
    hashes[-1] = _flip(hashes[-1], b64_decode, b64_encode)
    return proof


def flip_block_path_hash(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    hashes = proof["block_path"]["hashes"]
    hashes[0] = _flip(hashes[0], b64_decode, b64_encode)
    return proof


def change_block_header(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    header = b64_decode(proof["block"]["header_b64"])
    closed_at = b'"closed_at":1767225600000'
    assert closed_at in header
    proof["block"]["header_b64"] = b64_encode(header.replace(closed_at, closed_at[:-1] + b"1"))
    return proof


def resign_checkpoint(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    other_signer, _ = note.generate_key(ORIGIN)
    proof["checkpoint"] = note.sign(note.parse(proof["checkpoint"]).text, other_signer)
    return proof


def _flip_note_signature(proof: dict[str, Any], which: int) -> dict[str, Any]:
    parsed = note.parse(proof["checkpoint"])
    lines = list(parsed.signatures)
    forged = bytearray(lines[which].signature)
    forged[-20] ^= 0x01
    lines[which] = note.NoteSignature(lines[which].name, lines[which].key_id, bytes(forged))
    proof["checkpoint"] = note.Note(parsed.text, tuple(lines)).to_text()
    return proof


def flip_log_signature(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    return _flip_note_signature(proof, 0)


def flip_witness_cosignature(proof: dict[str, Any], site: Site) -> dict[str, Any]:
    return _flip_note_signature(proof, 1)


TAMPERED_PROOFS = [
    pytest.param(tamper, failed, id=tamper.__name__)
    for tamper, failed in [
        (flip_entry_signature, {"entry-inclusion", "entry-signature"}),
        (change_entry_payload, {"entry-inclusion", "entry-signature"}),
        (flip_entry_path_hash, {"entry-inclusion"}),
        (flip_block_path_hash, {"block-inclusion"}),
        (change_block_header, {"block-header", "block-inclusion"}),
        (resign_checkpoint, {"checkpoint"}),
        (flip_log_signature, {"checkpoint"}),
        (flip_witness_cosignature, {"witnesses"}),
    ]
]


def _signer_url(site: Site, signer: str) -> re.Pattern[str]:
    """``/api/v1/signers/<signer>``, with or without a query (verify.js asks ``?tree_size=``)."""
    return re.compile(re.escape(f"{site.url}/api/v1/signers/{signer}") + r"(\?.*)?$")


def _tamper_json(
    page: Page, url: str | re.Pattern[str], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    def handle(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=json.dumps(change(response.json())))

    page.route(url, handle)


@pytest.mark.parametrize(("tamper", "failed"), TAMPERED_PROOFS)
def test_a_tampered_proof_fails_the_right_check(
    page: Page, console: ConsoleWatch, site: Site, tamper: Tamper, failed: set[str]
) -> None:
    index = site.log.entries["reading1"]
    _tamper_json(page, f"{site.url}/api/v1/entries/{index}/proof", lambda p: tamper(p, site))
    outcome = verify(page, site, index)
    assert (outcome.state, outcome.failed) == ("fail", failed)
    assert set(outcome.checks) == ALL_CHECKS
    assert console.messages == []


def test_a_wrong_path_hash_shows_expected_and_calculated_roots(page: Page, site: Site) -> None:
    index = site.log.entries["reading1"]
    seen: dict[str, Any] = {}

    def tamper(proof: dict[str, Any]) -> dict[str, Any]:
        seen.update(flip_entry_path_hash(proof, site))
        return proof

    _tamper_json(page, f"{site.url}/api/v1/entries/{index}/proof", tamper)
    check = verify(page, site, index).checks["entry-inclusion"]
    header = json.loads(b64_decode(seen["block"]["header_b64"]))
    path = seen["entry_path"]
    calculated = merkle.root_from_inclusion_proof(
        path["leaf_index"],
        path["count"],
        merkle.leaf_hash(seen["entry"].encode()),
        [b64_decode(h) for h in path["hashes"]],
    )
    assert (check["expected"], check["calculated"]) == (header["entries_root"], calculated.hex())
    screenshot(page, "verify-js-tampered-path")


def test_a_wrong_registered_key_fails_the_signer_and_the_signature(page: Page, site: Site) -> None:
    other = SignerKey.generate("barn1-temp", seed=bytes(range(32)))

    def tamper(signer: dict[str, Any]) -> dict[str, Any]:
        for grant in signer["grants"]:
            if grant["pubkey"]:
                grant["pubkey"] = b64url_encode(other.public_key)
        return signer

    _tamper_json(page, _signer_url(site, "barn1-temp"), tamper)
    outcome = verify(page, site, site.log.entries["reading1"])
    assert (outcome.state, outcome.failed) == ("fail", {"signer", "entry-signature"})
    assert "entry 3 is not the registration listed for barn1-temp" in (
        outcome.checks["signer"]["text"] or ""
    )


def test_admins_other_than_the_trust_root_fail_every_signer(page: Page, site: Site) -> None:
    other = SignerKey.generate("farm-admin", seed=bytes(range(32)))

    def tamper(log: dict[str, Any]) -> dict[str, Any]:
        log["admins"] = {"farm-admin": b64url_encode(other.public_key)}
        return log

    _tamper_json(page, f"{site.url}/api/v1/log", tamper)
    outcome = verify(page, site, site.log.entries["reading1"])
    assert (outcome.state, outcome.failed) == ("fail", {"signer", "entry-signature"})
    assert "farm-admin registered itself but is not a genesis administrator" in (
        outcome.checks["signer"]["text"] or ""
    )


def test_an_unreachable_proof_fails_without_a_crash(page: Page, site: Site) -> None:
    page.route("**/api/v1/entries/*/proof", lambda route: route.abort())
    outcome = verify(page, site, site.log.entries["reading1"])
    assert (outcome.state, outcome.failed) == ("fail", {"proof"})
    assert "unreachable" in (outcome.checks["proof"]["text"] or "")


def test_an_entry_beyond_the_log_fails_with_the_api_error(page: Page, site: Site) -> None:
    outcome = verify(page, site, 999)
    assert (outcome.state, outcome.failed) == ("fail", {"proof"})
    assert "HTTP 404" in (outcome.checks["proof"]["text"] or "")


def test_the_keyboard_verifies_too(page: Page, site: Site) -> None:
    index = site.log.entries["reading2"]
    page.goto(f"{site.url}/page?entry={index}")
    page.focus(f'[data-entry="{index}"]')
    page.keyboard.press("Enter")
    page.wait_for_selector('#verify-result[data-state="ok"]')
    assert page.get_attribute(f'[data-entry="{index}"]', "data-verify-state") == "ok"


def test_without_webcrypto_it_says_so_instead_of_failing(page: Page, site: Site) -> None:
    # As on a page served over plain HTTP from another host: no crypto.subtle.
    page.add_init_script(
        'Object.defineProperty(Crypto.prototype, "subtle", {get: () => undefined});'
    )
    index = site.log.entries["reading2"]
    page.goto(f"{site.url}/page?entry={index}")
    page.click(f'[data-entry="{index}"]')
    page.wait_for_selector('#verify-result[data-state="unsupported"]')
    assert "cannot verify here" in page.inner_text("[data-verify-message]")


# --- The JS primitives against chain/ ---


def _js(page: Page, site: Site, script: str, arg: Any) -> Any:
    page.goto(f"{site.url}/page")
    return page.evaluate(script, arg)


def test_js_merkle_matches_the_rfc6962_known_answers(page: Page, site: Site) -> None:
    kat = json.loads(KNOWN_ANSWERS.read_text())
    leaves = [bytes.fromhex(h) for h in kat["leaf_inputs"]]
    cases = [
        {
            "index": i,
            "size": size,
            "leaf": leaves[i].hex(),
            "proof": [h.hex() for h in merkle.inclusion_proof(leaves[:size], i)],
        }
        for size in range(1, len(leaves) + 1)
        for i in range(size)
    ]
    hashes = _js(
        page,
        site,
        """async (cases) => {
            const m = await import("/static/verify/merkle.js");
            const b = await import("/static/verify/bytes.js");
            const u = (s) => new TextEncoder().encode(s);
            const roots = [];
            for (const c of cases) {
                const leaf = await m.leafHash(b.fromHex(c.leaf));
                const proof = c.proof.map(b.fromHex);
                roots.push(b.hex(await m.rootFromInclusion(c.index, c.size, leaf, proof)));
            }
            return {
                leafEmpty: b.hex(await m.leafHash(new Uint8Array())),
                leaf: b.hex(await m.leafHash(u("L123456"))),
                node: b.hex(await m.nodeHash(u("N123"), u("N456"))),
                roots,
            };
        }""",
        cases,
    )
    hasher = kat["hasher"]
    assert hashes["leafEmpty"] == hasher["leaf_empty"]
    assert hashes["leaf"] == hasher["leaf_L123456"]
    assert hashes["node"] == hasher["node_N123_N456"]
    assert hashes["roots"] == [kat["roots_by_size"][c["size"]] for c in cases]


def test_js_merkle_matches_the_reference_tree_and_rejects_bad_paths(page: Page, site: Site) -> None:
    rng = random.Random(6962)
    cases = []
    for size in (*range(1, 34), 64, 65, 100, 257):
        leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(size)]
        index = rng.randrange(size)
        proof = [h.hex() for h in ref_inclusion(leaves, index)]
        root = ref_root(leaves).hex()
        cases.append(
            {
                "index": index,
                "size": size,
                "data": leaves[index].hex(),
                "proof": proof,
                "root": root,
            }
        )
    results = _js(
        page,
        site,
        """async (cases) => {
            const m = await import("/static/verify/merkle.js");
            const b = await import("/static/verify/bytes.js");
            const attempt = async (c, proof) => {
                try {
                    const leaf = await m.leafHash(b.fromHex(c.data));
                    const hashes = proof.map(b.fromHex);
                    await m.verifyInclusion(c.index, c.size, leaf, hashes, b.fromHex(c.root));
                    return "ok";
                } catch (e) { return e.name; }
            };
            const out = [];
            for (const c of cases) {
                out.push([
                    await attempt(c, c.proof),
                    await attempt(c, [...c.proof, c.root]),
                    await attempt(c, c.proof.slice(1)),
                    await attempt({...c, index: c.size}, c.proof),
                ]);
            }
            return out;
        }""",
        cases,
    )
    for case, (good, longer, shorter, outside) in zip(cases, results, strict=True):
        assert good == "ok", case
        assert longer == outside == "VerifyError", case
        assert shorter == ("VerifyError" if case["proof"] else "ok"), case


def test_js_note_keys_and_checkpoints_match_chain(page: Page, site: Site) -> None:
    vkeys = [note.generate_key(f"log{n}.example/x", seed=bytes([n]) * 32)[1] for n in range(4)]
    bad_id = vkeys[0].split("+")
    bad_id[1] = f"{(int(bad_id[1], 16) ^ 1):08x}"
    checkpoint = site.log.store.latest_checkpoint()
    assert checkpoint is not None
    parsed = _js(
        page,
        site,
        """async ([vkeys, badKey, signed]) => {
            const n = await import("/static/verify/note.js");
            const b = await import("/static/verify/bytes.js");
            const ids = [];
            for (const k of vkeys) ids.push(n.hex8((await n.parseVerifierKey(k)).keyId));
            let bad = "accepted";
            try { await n.parseVerifierKey(badKey); } catch (e) { bad = e.message; }
            const body = n.parseCheckpoint(n.parseNote(signed).text);
            return {ids, bad, origin: body.origin, size: body.size, root: b.hex(body.root)};
        }""",
        [vkeys, "+".join(bad_id), checkpoint[1]],
    )
    assert parsed["ids"] == [k.split("+")[1] for k in vkeys]
    assert "the key ID is not the key's" in parsed["bad"]
    expected = Checkpoint.from_text(note.parse(checkpoint[1]).text)
    assert (parsed["origin"], parsed["size"], parsed["root"]) == (
        expected.origin,
        expected.size,
        expected.root_hash.hex(),
    )


# --- Issue 14: a signer's registration history, proven complete ---


def test_an_honest_site_proves_the_history_of_a_rotated_key(page: Page, site: Site) -> None:
    outcome = verify(page, site, site.log.entries["new_key"])
    assert (outcome.state, outcome.failed) == ("ok", set())
    assert "barn1-temp: registered by farm-op" in (outcome.checks["signer"]["text"] or "")


def test_a_site_hiding_a_revocation_turns_the_badge_red(page: Page, site: Site) -> None:
    index = site.log.entries["after_revocation"]
    honest = verify(page, site, index)
    assert honest.failed == {"signer", "entry-signature"}
    assert "barn1-temp was revoked at ts" in (honest.checks["signer"]["text"] or "")

    def hide(signer: dict[str, Any]) -> dict[str, Any]:
        signer["grants"] = [g for g in signer["grants"] if g["action"] != "revoke"]
        return signer

    _tamper_json(page, _signer_url(site, "barn1-temp"), hide)
    outcome = verify(page, site, index)
    assert (outcome.state, outcome.failed) == ("fail", {"signer", "entry-signature"})
    text = outcome.checks["signer"]["text"] or ""
    assert "registration history not proven complete" in text
    assert "the 2 registrations listed for barn1-temp" in text
    screenshot(page, "verify-js-hidden-revocation")


def test_a_forged_registry_proof_fails_the_signer_check(page: Page, site: Site) -> None:
    def forge(signer: dict[str, Any]) -> dict[str, Any]:
        path = signer["registry_proof"]["path"]
        path[0] = b64_encode(bytes(32))
        return signer

    _tamper_json(page, _signer_url(site, "barn1-temp"), forge)
    outcome = verify(page, site, site.log.entries["new_key"])
    assert (outcome.state, outcome.failed) == ("fail", {"signer", "entry-signature"})
    assert "registration history not proven complete" in (outcome.checks["signer"]["text"] or "")


def test_a_checkpoint_without_the_registry_line_fails_the_signer_check(
    page: Page, site: Site
) -> None:
    """Re-signed by the log key, as an old gateway (or one hiding its registry) would sign it."""
    index = site.log.entries["reading1"]

    def strip(proof: dict[str, Any]) -> dict[str, Any]:
        text = note.parse(proof["checkpoint"]).text
        body = Checkpoint.from_text(text)
        plain = Checkpoint(body.origin, body.size, body.root_hash)
        proof["checkpoint"] = note.sign(plain.to_text(), read_log_signer(site.log.data_dir))
        return proof

    _tamper_json(page, f"{site.url}/api/v1/entries/{index}/proof", strip)
    outcome = verify(page, site, index)
    assert "signer" in outcome.failed
    assert "the checkpoint carries no registry commitment" in (
        outcome.checks["signer"]["text"] or ""
    )
