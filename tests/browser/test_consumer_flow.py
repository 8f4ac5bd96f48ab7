"""The consumer's path in a real Chromium: scan a pack, read its story, check a reading.

consumer_web serves the story farm's log (demo.story_farm) from a
SITE_DATA object over the real store; each page is checked for console
errors and Content Security Policy violations, and screenshots are saved
under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from browser_harness import MOBILE, ConsoleWatch, screenshot, serve
from playwright.sync_api import Browser, Locator, Page

from chain.store import Store
from chain.trust import TrustRoot
from consumer_web import create_app
from consumer_web._replica_state import ReplicaStatus
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir

CJK = re.compile(r"[\u4e00-\u9fff]")


def verdict(entry: str | None) -> str:
    """The selector of #verify-result once it holds the verdict on ``entry``."""
    done = '[data-state="ok"], [data-state="fail"], [data-state="unsupported"]'
    return f'#verify-result[data-entry="{entry}"]:is({done})'


@dataclass
class StoryData:
    """The site's data as consumer_web.SiteData: the story log, in sync with nobody."""

    store: Store
    trust: TrustRoot
    witnesses: tuple[str, ...] = field(default=())

    def status(self) -> ReplicaStatus:
        size, signed = self.store.latest_checkpoint() or (0, None)
        return ReplicaStatus(size, signed, None, (), ())


@dataclass
class Story:
    url: str
    manifest: StoryManifest

    def pack_url(self, n: int = 0) -> str:
        pack = self.manifest.packs[n]
        return f"{self.url}/01/{pack.gtin}/21/{pack.serial}"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    data_dir = DataDir(tmp_path_factory.mktemp("story") / "farm")
    manifest = build_story_log(data_dir, StoryFarm())
    with Store.open(data_dir.log) as store:
        app = create_app({"TESTING": True, "SITE_DATA": StoryData(store, manifest.trust)})
        try:
            with serve(app) as url:
                yield Story(url, manifest)
        finally:
            app.extensions["farmtrace_site"].close()


def reveal(row: Locator) -> None:
    """Open the disclosure (``<details>``) that hides ``row``, as a reader would."""
    row.evaluate("el => { const d = el.closest('details'); if (d) d.open = true; }")


def tap_and_verify(page: Page, selector: str) -> tuple[str, str, str]:
    """Tap the first element matching ``selector``; return (entry, state, message)."""
    row = page.locator(selector).first
    entry = row.get_attribute("data-entry") or ""
    reveal(row)
    row.click()
    page.wait_for_selector(verdict(entry))
    result = page.locator("#verify-result")
    return entry, result.get_attribute("data-state") or "", result.inner_text()


def assert_clean(console: ConsoleWatch) -> None:
    assert console.csp_violations == []
    assert console.messages == []


def test_a_scanned_pack_tells_its_story_and_a_reading_verifies(
    page: Page, console: ConsoleWatch, story: Story
) -> None:
    page.goto(story.pack_url())
    assert page.get_attribute("html", "lang") == "en"
    assert story.manifest.packs[0].serial in page.inner_text("#fact-pack")
    assert page.locator("#timeline [data-entry]").count() >= 5
    charts = page.locator("#charts svg.plot")
    assert charts.count() >= 2
    assert page.locator("#charts svg.plot polyline.mean").count() >= 1
    entry, state, message = tap_and_verify(page, "#charts li[data-entry]")
    assert state == "ok", page.inner_text("#verify-result")
    assert entry in message
    assert page.locator('#verify-result li[data-check][data-ok="true"]').count() == 7
    screenshot(page, "consumer-pack-en")
    assert_clean(console)


def test_events_of_the_timeline_verify(page: Page, console: ConsoleWatch, story: Story) -> None:
    page.goto(story.pack_url())
    rows = page.locator("#timeline tr[data-entry]")
    for n in range(rows.count()):
        entry = rows.nth(n).get_attribute("data-entry")
        reveal(rows.nth(n))
        rows.nth(n).click()
        page.wait_for_selector(verdict(entry))
        assert page.get_attribute("#verify-result", "data-state") == "ok", entry
    assert_clean(console)


def test_switching_language_switches_the_verdict_too(
    page: Page, console: ConsoleWatch, story: Story
) -> None:
    page.goto(story.pack_url())
    page.click('a.lang[hreflang="zh-CN"]')
    page.wait_for_selector('html[lang="zh-CN"]')
    assert CJK.search(page.inner_text("h1, #timeline h2"))
    _, state, message = tap_and_verify(page, "#timeline tr[data-entry]")
    assert state == "ok"
    assert CJK.search(message), message
    screenshot(page, "consumer-pack-zh")
    page.goto(story.pack_url())  # the choice is remembered
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.click('a.lang[hreflang="en"]')
    page.wait_for_selector('html[lang="en"]')
    _, state, message = tap_and_verify(page, "#timeline tr[data-entry]")
    assert state == "ok"
    assert not CJK.search(message), message
    assert_clean(console)


def test_a_chinese_browser_gets_chinese(browser: Browser, story: Story) -> None:
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    try:
        page = context.new_page()
        page.goto(story.pack_url())
        assert page.get_attribute("html", "lang") == "zh-CN"
    finally:
        context.close()


def test_a_lot_page_lists_its_birds_and_verifies(
    page: Page, console: ConsoleWatch, story: Story
) -> None:
    lot = story.manifest.lots[0]
    page.goto(f"{story.url}/01/{lot.gtin}/10/{lot.lot}")
    page.click("#more-birds > summary")
    text = page.inner_text("main")
    assert all(bird in text for bird in lot.birds)
    _, state, _ = tap_and_verify(page, "[data-entry]")
    assert state == "ok"
    assert_clean(console)


def test_on_a_phone(browser: Browser, story: Story) -> None:
    context = browser.new_context(
        viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    try:
        page = context.new_page()
        console = ConsoleWatch(page)
        page.goto(story.pack_url())
        assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
        row = page.locator("#timeline tr[data-entry]").first
        entry = row.get_attribute("data-entry")
        reveal(row)
        row.tap()
        page.wait_for_selector(f'#verify-result[data-entry="{entry}"][data-state="ok"]')
        # The verdict's hashes and key ids must wrap, not widen the page.
        assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
        screenshot(page, "consumer-pack-mobile")
        assert_clean(console)
    finally:
        context.close()
