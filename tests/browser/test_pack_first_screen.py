# ruff: noqa: RUF001  (Chinese text: full-width punctuation is meant)
"""A pack's page on a 390 x 844 phone: the answers on the first screen, proof on demand.

A twelve-day story farm (two of three witnesses cosigned its checkpoint, a
2-of-3 policy; farm time zone Europe/Amsterdam) is served by consumer_web in
a real Chromium. The first screen must show the product, farm, days raised,
welfare share, vaccinations, medicine, slaughter and pack dates and the badge, in
English and in Chinese; the badge says "Checked on your phone" only once the
browser verified one entry of every signing party, and turns red, naming the
check, when a proof is tampered with in transit. The scanned pack's bird had
an antibiotic course early in life: the first screen names the medicine and
says that its withdrawal period ended before slaughter, and the pack's product
name and best-before date stand next to its weight and packing date.
Screenshots of the first screens go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from browser_harness import MOBILE, SCREENSHOTS, ConsoleWatch
from playwright.sync_api import Browser, BrowserContext, Page, Route
from witnessed_site import NAMES, Site, two_of_three, witness_keys, witnessed_site

from demo.story_farm import StoryFarm

CJK = re.compile(r"[\u4e00-\u9fff]")
KEYS = witness_keys(7)
POLICY = two_of_three(KEYS)
FARM = StoryFarm(days=12, birds=6, shelf_birds=4, lot_birds=1, move_every=0)
FIRST_SCREEN = (
    "#facts h1",
    "#fact-pack",
    "#fact-farm",
    "#fact-days",
    "#fact-welfare",
    "#fact-vaccines",
    "#fact-treatments",
    "#fact-slaughter",
    "#fact-packed",
    "#badge > summary",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    cosigners = [(KEYS[0][0], 60), (KEYS[1][0], 60)]
    config = {"FARM_TZ": "Europe/Amsterdam"}
    root = tmp_path_factory.mktemp("first-screen")
    with witnessed_site(root, FARM, POLICY, cosigners, config) as site:
        yield site


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.set_default_timeout(20_000)
    yield context
    context.close()


def first_screen(page: Page, name: str) -> None:
    """Save what a phone shows before any scrolling as ``<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_first_screen_answers_the_shopper(phone: BrowserContext, site: Site, lang: str) -> None:
    page = phone.new_page()
    console = ConsoleWatch(page)
    page.goto(f"{site.pack_url}?lang={lang}")
    for selector in FIRST_SCREEN:
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] + box["height"] <= MOBILE["height"], (selector, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    facts = {s: page.inner_text(s) for s in FIRST_SCREEN}
    assert "Green Valley Farm" in facts["#fact-farm"]
    assert "Marek" in facts["#fact-vaccines"] and "Newcastle" in facts["#fact-vaccines"]
    assert "Whole chicken" in facts["#fact-pack"]
    assert "Amoxicillin" in facts["#fact-treatments"]
    assert "Riverside Processing Plant" in facts["#fact-slaughter"]
    assert "(UTC+1)" in facts["#fact-slaughter"] and "(UTC+1)" in facts["#fact-packed"]
    assert re.search(r"\b1[01]\b", facts["#fact-days"]), facts["#fact-days"]
    assert re.search(r"\d+\s?%", facts["#fact-welfare"]), facts["#fact-welfare"]
    if lang == "en":
        assert facts["#facts h1"].startswith("Ross 308 chicken")
        assert "days" in facts["#fact-days"]
        assert "recommended temperature for its age" in facts["#fact-welfare"]
        assert "best before Jan 19, 2026" in facts["#fact-pack"]
        assert facts["#fact-treatments"] == (
            "Amoxicillin on Jan 3, 2026 (1-day withdrawal period, ended before slaughter)"
        )
        assert facts["#badge > summary"].startswith("Tap to check on your phone")
        assert "signed by 6 parties" in facts["#badge > summary"]
        assert "vouched for by 2 independent witnesses" in facts["#badge > summary"]
    else:
        assert page.get_attribute("html", "lang") == "zh-CN"
        for selector in ("#facts h1", "#fact-days", "#fact-welfare", "#badge > summary"):
            assert CJK.search(facts[selector]), (selector, facts[selector])
        assert "保质期至 2026年1月19日" in facts["#fact-pack"]
        medicine = "2026年1月3日 使用Amoxicillin（休药期 1 天，屠宰前已结束）"
        assert facts["#fact-treatments"] == medicine
    # Details on demand: no raw subject, no entry number, until opened.
    shown = page.inner_text("main")
    assert not re.search(r"\b(bird|pack|lot|carcass|barn):", shown), shown
    assert "entry " not in shown and "条目" not in shown
    first_screen(page, f"pack-first-screen-{lang}")
    assert console.csp_violations == [] and console.messages == []


def test_the_badge_says_checked_only_after_the_phone_checked(
    phone: BrowserContext, site: Site
) -> None:
    page = phone.new_page()
    console = ConsoleWatch(page)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(site.pack_url, wait_until="networkidle")
    # The verification modules are most of the page's weight: they load on the tap.
    assert not [url for url in fetched if "/static/verify" in url], fetched
    badge = page.locator("#badge")
    assert badge.get_attribute("data-state") == "idle"
    assert not page.locator("#verify-result").is_visible()
    entries = (badge.get_attribute("data-entries") or "").split()
    assert len(entries) == 6  # one entry of each signing party
    page.locator("#badge > summary").tap()
    page.wait_for_selector('#badge:is([data-state="ok"], [data-state="fail"])')
    assert badge.get_attribute("data-state") == "ok", page.inner_text("#badge")
    summary = page.inner_text("#badge > summary")
    assert summary.startswith("Checked on your phone")
    assert "vouched for by 2 independent witnesses" in summary
    assert page.get_attribute("#verify-result", "data-state") == "ok"
    assert page.get_attribute("#verify-result", "data-entry") == entries[0]
    assert [url for url in fetched if url.endswith("/static/verify.js")]
    first_screen(page, "pack-badge-checked-en")
    assert console.csp_violations == [] and console.messages == []


def test_a_tampered_proof_turns_the_badge_red_and_names_the_check(
    phone: BrowserContext, site: Site
) -> None:
    page = phone.new_page()
    page.goto(f"{site.pack_url}?lang=zh-CN")
    last = (page.get_attribute("#badge", "data-entries") or "").split()[-1]

    def drop_a_cosignature(route: Route) -> None:
        response = route.fetch()
        proof = response.json()
        proof["checkpoint"] = "".join(
            line for line in proof["checkpoint"].splitlines(keepends=True) if NAMES[1] not in line
        )
        route.fulfill(response=response, body=json.dumps(proof))

    page.route(f"{site.url}/api/v1/entries/{last}/proof", drop_a_cosignature)
    page.locator("#badge > summary").tap()
    page.wait_for_selector('#badge:is([data-state="ok"], [data-state="fail"])')
    assert page.get_attribute("#badge", "data-state") == "fail"
    assert page.get_attribute("#badge", "data-failed") == "witnesses"
    summary = page.inner_text("#badge > summary")
    assert "见证" in summary, summary  # names the witnesses check, in the page's language
    assert "已在您的手机上核验" not in summary
    first_screen(page, "pack-badge-failed-zh")


def test_a_timeline_row_opens_the_proof_panel_without_claiming_the_badge(
    phone: BrowserContext, site: Site
) -> None:
    page = phone.new_page()
    page.goto(site.pack_url)
    page.locator("#more-timeline > summary").tap()
    row = page.locator("#timeline tr[data-entry]").nth(2)
    entry = row.get_attribute("data-entry")
    assert "bird:" not in row.inner_text()  # the other birds are a count until opened
    row.tap()
    page.wait_for_selector(f'#verify-result[data-entry="{entry}"][data-state="ok"]')
    assert page.locator("#badge").get_attribute("open") is not None
    assert page.get_attribute("#badge", "data-state") == "idle"
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
