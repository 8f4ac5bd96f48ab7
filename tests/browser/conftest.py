"""Real-browser fixtures: Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_harness import CHROMIUM, ConsoleWatch
from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (``--no-sandbox``: the tests may run as root)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context (desktop viewport, English)."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def console(page: Page) -> ConsoleWatch:
    """The console errors, warnings and uncaught exceptions of ``page``."""
    return ConsoleWatch(page)
