# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""The witnesses panel and the in-browser quorum check, in a real Chromium.

The consumer site serves a small story farm whose latest checkpoint two of
three witnesses cosigned, under a 2-of-3 policy. A reading is tapped and
verified by verify.js; the proof's checkpoint is tampered with in transit
(Playwright request interception) to make the witnesses check fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from browser_harness import ConsoleWatch, screenshot
from playwright.sync_api import Page, Route
from witnessed_site import NAMES, Site, two_of_three, witness_keys, witnessed_site

from demo.story_farm import StoryFarm

KEYS = witness_keys(1)
POLICY = two_of_three(KEYS)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    farm = StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=2, move_every=0)
    cosigners = [(KEYS[0][0], 120), (KEYS[1][0], 7200)]
    with witnessed_site(tmp_path_factory.mktemp("witnessed"), farm, POLICY, cosigners) as site:
        yield site


@dataclass
class Verdict:
    state: str
    failed: str
    witnesses: dict[str, str | None]


def tap(page: Page) -> Verdict:
    """Tap the first timeline row; wait for the verdict; return it and the witnesses check."""
    row = page.locator("#timeline [data-entry]").first
    entry = row.get_attribute("data-entry")
    page.locator("#more-timeline > summary").click()  # the timeline is a disclosure
    row.click()
    done = '[data-state="ok"], [data-state="fail"], [data-state="unsupported"]'
    page.wait_for_selector(f'#verify-result[data-entry="{entry}"]:is({done})')
    result = page.locator("#verify-result")
    check = page.eval_on_selector(
        '#verify-result li[data-check="witnesses"]',
        """li => ({ok: li.dataset.ok, text: li.textContent,
                  expected: li.querySelectorAll("code")[0]?.textContent ?? null,
                  calculated: li.querySelectorAll("code")[1]?.textContent ?? null})""",
    )
    return Verdict(
        result.get_attribute("data-state") or "", result.get_attribute("data-failed") or "", check
    )


def _tamper_checkpoint(page: Page, site: Site, change: Callable[[list[str]], list[str]]) -> None:
    """Rewrite the signature lines of the checkpoint in every entry proof the page fetches."""

    def handle(route: Route) -> None:
        response = route.fetch()
        proof = response.json()
        body, _, sigs = proof["checkpoint"].rpartition("\n\n")
        proof["checkpoint"] = body + "\n\n" + "".join(change(sigs.splitlines(keepends=True)))
        route.fulfill(response=response, body=json.dumps(proof))

    page.route(f"{site.url}/api/v1/entries/*/proof", handle)


def test_the_panel_lists_the_witnesses_and_the_quorum_verifies(
    page: Page, console: ConsoleWatch, site: Site
) -> None:
    page.goto(site.pack_url)
    page.locator("#badge").evaluate("badge => { badge.open = true; }")  # the proof panel
    panel = page.locator("#witnesses")
    assert panel.get_attribute("data-quorum") == "2"
    policy = page.inner_text("#witness-policy")
    assert policy.startswith("2 of 3 independent witnesses vouch for this record")
    rows = page.locator("#witnesses li[data-witness]")
    assert [rows.nth(i).get_attribute("data-witness") for i in range(3)] == list(NAMES)
    assert page.locator("#witnesses li.cosigned").count() == 2
    assert "(2 minutes ago)" in page.inner_text(f'li[data-witness="{NAMES[0]}"]')
    assert "(2 hours ago)" in page.inner_text(f'li[data-witness="{NAMES[1]}"]')
    missing = page.inner_text(f'li.missing[data-witness="{NAMES[2]}"]')
    assert "has not cosigned this checkpoint" in missing
    verdict = tap(page)
    assert (verdict.state, verdict.witnesses["ok"]) == ("ok", "true"), verdict
    assert f"2 of 3 witnesses cosigned (2 required): {NAMES[0]}, {NAMES[1]}" in (
        verdict.witnesses["text"] or ""
    )
    screenshot(page, "consumer-witnesses-en")
    page.goto(site.pack_url + "?lang=zh-CN")
    page.locator("#badge").evaluate("badge => { badge.open = true; }")
    assert "3 个独立见证方中有 2 个为此记录作证" in page.inner_text("#witness-policy")
    verdict = tap(page)
    assert verdict.state == "ok"
    assert "3 个见证方中有 2 个联署（要求 2 个）" in (verdict.witnesses["text"] or "")
    assert console.messages == []


def test_one_tampered_cosignature_fails_the_witnesses_check_by_name(
    page: Page, console: ConsoleWatch, site: Site
) -> None:
    def flip(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            if line.startswith(f"\u2014 {NAMES[1]} "):
                i = len(line) - 20
                line = line[:i] + ("A" if line[i] != "A" else "B") + line[i + 1 :]
            out.append(line)
        return out

    _tamper_checkpoint(page, site, flip)
    page.goto(site.pack_url)
    verdict = tap(page)
    assert (verdict.state, verdict.failed) == ("fail", "witnesses"), verdict
    assert f"the cosignature of witness {NAMES[1]} is invalid" in (verdict.witnesses["text"] or "")
    key_id = KEYS[1][1].split("+")[1]
    assert verdict.witnesses["expected"] == (
        f"a valid cosignature/v1 signature by {NAMES[1]}+{key_id}"
    )
    assert verdict.witnesses["calculated"] == "an invalid signature"
    screenshot(page, "consumer-witnesses-tampered")
    assert console.messages == []


def test_too_few_cosignatures_fail_the_quorum_with_expected_and_found(
    page: Page, site: Site
) -> None:
    _tamper_checkpoint(page, site, lambda lines: [x for x in lines if NAMES[1] not in x])
    page.goto(site.pack_url)
    verdict = tap(page)
    assert (verdict.state, verdict.failed) == ("fail", "witnesses"), verdict
    assert f"only 1 of 3 witnesses cosigned, 2 required: {NAMES[0]}" in (
        verdict.witnesses["text"] or ""
    )
    assert verdict.witnesses["expected"] == "at least 2 of 3 cosignatures"
    assert verdict.witnesses["calculated"] == f"1 ({NAMES[0]})"
