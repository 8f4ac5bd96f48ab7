"""The witness's verifier page (/verify) in a real Chromium, against a farm on another origin.

A real ``farmtrace witness serve`` process serves the page, its script, the
in-browser verifier's modules and its own /anchors.json; the farm's read API
runs on another port (another origin: the page reads it through CORS). The
page must verify a good pack, and refuse a label naming another log key, a
site that swaps the log key (and re-signs its checkpoints with it), and an
event signed by an operator without the role for it. The farm's own page
(verify.js) must refuse a swapped key when the address carries the label's key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from browser_harness import ConsoleWatch, screenshot, serve
from browser_site import verify_app
from coop_log import GOOD, INTRUDED, INTRUDER, NO_ROLE, REVOKED, CoopLog, build_coop_log
from playwright.sync_api import Page, Route
from witness_harness import WitnessProcess, make_witness_dir

from chain import note
from chain._encoding import b64url_encode
from chain.gs1 import labelled_uri
from farmtrace.cli import main as farmtrace_main


@dataclass
class Setup:
    site: str
    witness: WitnessProcess
    log: CoopLog
    key_id: int

    def pack_url(self, link: Any, key_id: int | None = -1) -> str:
        return labelled_uri(self.site, link, self.key_id if key_id == -1 else key_id)

    def coop(self, pack_url: str) -> str:
        return f"{self.witness.url}/verify?pack={quote(pack_url, safe='')}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("coop")
    wdir = make_witness_dir(root / "witness", "coop.example/witness")
    config = json.loads((wdir / "witness.json").read_text())
    skey = (wdir / "witness.key").read_text().strip()
    log = build_coop_log(root / "farm", skey, config["vkey"])
    added = ["witness", "add-log", "--dir", str(wdir), "--origin", log.trust.origin]
    assert farmtrace_main([*added, "--log-key", log.trust.log_key]) == 0
    key_id = note.parse_verifier_key(log.trust.log_key).key_id
    try:
        with WitnessProcess(wdir) as witness, serve(verify_app(log.source)) as site:
            yield Setup(site, witness, log, key_id)
    finally:
        log.close()


@dataclass
class Outcome:
    state: str
    entries: dict[str, dict[str, str]]
    message: str
    anchors: str


def open_coop(page: Page, url: str) -> Outcome:
    page.goto(url)
    page.wait_for_selector('#coop-result:is([data-state="ok"], [data-state="fail"])')
    entries = page.eval_on_selector_all(
        "#coop-result > ul > li[data-entry]",
        """items => Object.fromEntries(items.map(li => [li.dataset.entry, {
            ok: li.dataset.ok, failed: li.dataset.failed, text: li.textContent}]))""",
    )
    return Outcome(
        state=page.locator("#coop-result").get_attribute("data-state") or "",
        entries=entries,
        message=page.locator("#coop-result > p").inner_text(),
        anchors=page.locator("#coop-anchors").inner_text(),
    )


def swap_log_key(page: Page, site: str) -> None:
    """A man in the middle (or the farm's site) serves its own log key and re-signs with it."""
    signer, verifier = note.generate_key("coop-test.example/log")

    def log(route: Route) -> None:
        response = route.fetch()
        body = response.json() | {"vkey": verifier}
        route.fulfill(response=response, body=json.dumps(body))

    def proof(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["checkpoint"] = note.sign(note.parse(body["checkpoint"]).text, signer)
        route.fulfill(response=response, body=json.dumps(body))

    page.route(f"{site}/api/v1/log", log)
    page.route(f"{site}/api/v1/entries/*/proof*", proof)


def test_the_coop_page_verifies_a_pack_on_another_origin(
    page: Page, console: ConsoleWatch, setup: Setup
) -> None:
    outcome = open_coop(page, setup.coop(setup.pack_url(GOOD)))
    assert outcome.state == "ok", outcome
    assert set(outcome.entries) == {str(setup.log.entries["good_event"])}
    assert all(e["ok"] == "true" and e["failed"] == "" for e in outcome.entries.values())
    assert f"from coop.example/witness ({setup.witness.url}/anchors.json)" in outcome.anchors
    assert f"label names log key {setup.key_id:08x}" in outcome.anchors
    text = next(iter(outcome.entries.values()))["text"]
    assert f"log key {setup.key_id:08x}, as the label names" in text
    assert "1 of 1 witnesses cosigned coop.example/witness" in text
    assert console.messages == [] and console.csp_violations == []
    screenshot(page, "coop-verify-ok")


def test_the_anchors_are_the_witnesses_own(page: Page, setup: Setup) -> None:
    page.goto(f"{setup.witness.url}/anchors.json")
    anchors = json.loads(page.locator("body").inner_text())
    assert anchors["witness"]["vkey"] == setup.witness.vkey
    assert anchors["logs"] == [
        {
            "origin": setup.log.trust.origin,
            "log_keys": [setup.log.trust.log_key],
            "key_ids": [f"{setup.key_id:08x}"],
        }
    ]


def test_a_label_naming_another_log_key_is_refused(page: Page, setup: Setup) -> None:
    other = (setup.key_id + 1) % (1 << 32)
    outcome = open_coop(page, setup.coop(setup.pack_url(GOOD, other)))
    assert outcome.state == "fail"
    (entry,) = outcome.entries.values()
    assert entry["failed"] == "checkpoint"
    assert "the log key is not the one the label names" in entry["text"]
    assert f"log key {other:08x} (printed on the label)" in entry["text"]


def test_a_pack_address_without_the_key_says_it_is_not_pinned(page: Page, setup: Setup) -> None:
    outcome = open_coop(page, setup.coop(setup.pack_url(GOOD, None)))
    assert outcome.state == "ok"  # the witness's anchors still pin the log key
    assert "names no log key: the label does not pin the log" in outcome.anchors


def test_a_site_that_swaps_the_log_key_is_refused_by_the_coop(page: Page, setup: Setup) -> None:
    swap_log_key(page, setup.site)
    outcome = open_coop(page, setup.coop(setup.pack_url(GOOD)))
    assert outcome.state == "fail"
    (entry,) = outcome.entries.values()
    assert entry["failed"] == "proof"
    assert "the site's log vkey is not the one coop.example/witness" in entry["text"]


def test_an_event_signed_without_its_role_is_refused(page: Page, setup: Setup) -> None:
    outcome = open_coop(page, setup.coop(setup.pack_url(NO_ROLE)))
    assert outcome.state == "fail"
    (entry,) = outcome.entries.values()
    assert entry["failed"] == "signer"
    assert "a shipped event must be signed by a operator with a role in" in entry["text"]
    screenshot(page, "coop-verify-no-role")


def test_an_administrator_the_log_never_registered_is_refused(page: Page, setup: Setup) -> None:
    def claim_admin(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["admins"] |= {"intruder": b64url_encode(INTRUDER.public_key)}
        route.fulfill(response=response, body=json.dumps(body))

    page.route(f"{setup.site}/api/v1/log", claim_admin)
    outcome = open_coop(page, setup.coop(setup.pack_url(INTRUDED)))
    assert outcome.state == "fail"
    (entry,) = outcome.entries.values()
    assert entry["failed"] == "signer entry-signature"
    assert (
        "intruder is named a genesis administrator, but the log never registered it"
        in entry["text"]
    )


def test_a_pack_url_that_is_no_pack_is_refused(page: Page, setup: Setup) -> None:
    outcome = open_coop(page, setup.coop(f"{setup.site}/not/a/pack"))
    assert outcome.state == "fail" and outcome.entries == {}
    assert "expected /01/<GTIN>/21/<serial>" in outcome.message


def _farm_page(page: Page, setup: Setup, query: str) -> tuple[str, str, str]:
    index = setup.log.entries["good_event"]
    page.goto(f"{setup.site}/page?entry={index}{query}")
    page.click(f'[data-entry="{index}"]')
    page.wait_for_selector('#verify-result:is([data-state="ok"], [data-state="fail"])')
    result = page.locator("#verify-result")
    check = page.locator('#verify-result li[data-check="checkpoint"]').inner_text()
    return (
        result.get_attribute("data-state") or "",
        result.get_attribute("data-failed") or "",
        check,
    )


def test_the_farm_page_refuses_a_swapped_key_the_label_pins(page: Page, setup: Setup) -> None:
    swap_log_key(page, setup.site)
    state, failed, check = _farm_page(page, setup, f"&lk={setup.key_id:08x}")
    assert (state, failed) == ("fail", "checkpoint")
    assert "the log key is not the one the label names" in check


def test_the_farm_page_says_when_the_label_does_not_pin_the_key(page: Page, setup: Setup) -> None:
    state, _, check = _farm_page(page, setup, "")
    assert state == "ok" and "not pinned by the label" in check
    state, _, check = _farm_page(page, setup, f"&lk={setup.key_id:08x}")
    assert state == "ok" and f"log key {setup.key_id:08x}, as the label names" in check


def test_the_verifier_page_has_a_strict_policy(page: Page, setup: Setup) -> None:
    response = page.goto(f"{setup.witness.url}/verify")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    module = page.request.get(f"{setup.witness.url}/verify/lib/entry.js")
    assert module.ok and "javascript" in module.headers["content-type"]
    assert page.request.get(f"{setup.witness.url}/verify/lib/..%2fnote.js").status == 404


def test_a_revoked_signer_is_refused_and_hiding_its_revocation_does_not_help(
    page: Page, setup: Setup
) -> None:
    """Issue 14: the site's list of a signer's registrations is proven complete."""
    honest = open_coop(page, setup.coop(setup.pack_url(REVOKED)))
    assert honest.state == "fail"
    (entry,) = honest.entries.values()
    assert "dist-op was revoked at ts" in entry["text"]

    def hide(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["grants"] = [g for g in body["grants"] if g["action"] != "revoke"]
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(re.escape(f"{setup.site}/api/v1/signers/dist-op") + r"(\?.*)?$"), hide)
    outcome = open_coop(page, setup.coop(setup.pack_url(REVOKED)))
    assert outcome.state == "fail"
    (entry,) = outcome.entries.values()
    assert entry["failed"] == "signer entry-signature"
    assert "registration history not proven complete" in entry["text"]
    screenshot(page, "coop-verify-hidden-revocation")
