"""The label's log-key pin survives the click from a pack's page to a bird's (issue 14).

A label's address ends in ``?lk=<log key ID>``; the browser's verifier
refuses a log signed by another key. In a real Chromium, a lot's page opened
with a wrong ``lk`` is refused, and so is the bird page its link leads to;
with the right ``lk`` the bird page's check passes as pinned by the label
(not merely "not pinned").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from witnessed_site import Site, witnessed_site

from chain import note
from chain.witness_policy import WitnessPolicy
from demo.story_farm import StoryFarm

FARM = StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=2, move_every=0)
_DONE = '#badge:is([data-state="ok"], [data-state="fail"], [data-state="unsupported"])'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("label-pin")
    with witnessed_site(root, FARM, WitnessPolicy(0, ()), []) as site:
        yield site


def _key_id(site: Site) -> int:
    return note.parse_verifier_key(site.manifest.trust.log_key).key_id


def _check_badge(page: Page) -> tuple[str, set[str], str]:
    """Tap the badge; its verdict, failed checks, and what the checkpoint check said."""
    page.locator("#badge > summary").click()
    page.wait_for_selector(_DONE)
    failed = set((page.get_attribute("#badge", "data-failed") or "").split())
    said = page.inner_text('#verify-result [data-check="checkpoint"]')
    return page.get_attribute("#badge", "data-state") or "", failed, said


def _to_a_bird(page: Page, site: Site) -> str:
    """On the lot's page, follow its first bird link; the bird page's address."""
    lot = site.manifest.lots[0]
    page.click("#more-birds > summary")
    with page.expect_navigation():
        page.click("#birds a >> nth=0")
    assert page.url.startswith(f"{site.url}/bird/{lot.birds[0]}")
    return page.url


def test_a_wrong_key_is_refused_on_the_pack_page_and_one_click_in(page: Page, site: Site) -> None:
    wrong = f"{_key_id(site) ^ 1:08x}"
    lot = site.manifest.lots[0]
    page.goto(f"{site.url}{lot.link.path}?lk={wrong}")
    state, failed, said = _check_badge(page)
    assert state == "fail" and "checkpoint" in failed, said
    assert "not the one the label names" in said
    address = _to_a_bird(page, site)
    assert address.endswith(f"?lk={wrong}")
    state, failed, said = _check_badge(page)
    assert state == "fail" and "checkpoint" in failed, said
    assert "not the one the label names" in said


def test_the_right_key_pins_the_bird_page_too(page: Page, site: Site) -> None:
    right = f"{_key_id(site):08x}"
    lot = site.manifest.lots[0]
    page.goto(f"{site.url}{lot.link.path}?lk={right}")
    assert _to_a_bird(page, site).endswith(f"?lk={right}")
    state, failed, said = _check_badge(page)
    assert (state, failed) == ("ok", set()), said
    assert f"log key {right}, as the label names" in said
