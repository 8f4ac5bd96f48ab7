"""The federated site in a real Chromium: mounted logs' pages, assets and in-browser checks.

A small story farm's log and a plant's log that names its birds
(tests/web/federation_logs.py) are served by :func:`consumer_web.create_federated_site`
over real stores. The resolver's pack page (the plant's, stitched with the
farm's part) and a page of the farm's log mounted under ``/logs/farm/`` load
their stylesheet and scripts under the mount, break no Content Security
Policy, and the verifier checks an entry in the browser against that log's
own read API under its mount.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from browser_harness import ConsoleWatch, serve
from playwright.sync_api import Page
from web.federation_logs import (
    PLANT,
    PLANT_GTIN,
    PlantLog,
    build_plant_log,
    cosigned_copy,
    pins_document,
    write_policy,
)
from web.web_site import StaticSiteData

from chain.store import Store
from consumer_web import FederationSettings, create_federated_site
from demo.story_farm import StoryFarm, build_story_log
from gateway.datadir import DataDir
from readapi.crosslog import load_pins


@dataclass
class Federated:
    url: str
    plant: PlantLog
    bird: str


@pytest.fixture(scope="module")
def federated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federated]:
    root = tmp_path_factory.mktemp("federated")
    manifest = build_story_log(
        DataDir(root / "story"), StoryFarm(days=2, birds=6, shelf_birds=4, lot_birds=2)
    )
    with Store.open(DataDir(root / "story").log) as story:
        farm = cosigned_copy(story, root / "farm")
    bird = manifest.birds[0]
    plant = build_plant_log(
        root / "plant", farm, [bird, manifest.birds[1]], forged_bird=manifest.birds[1],
        recalled_bird=manifest.birds[1],
    )  # fmt: skip
    (root / "farm-trust.json").write_text(manifest.trust.to_json())
    (root / "plant-trust.json").write_text(plant.trust.to_json())
    pins = root / "pins.json"
    document = pins_document(
        root / "farm-trust.json",
        root / "plant-trust.json",
        write_policy(root / "witnesses.json"),
        farm_url="http://farm.invalid",
        plant_url="http://plant.invalid",
    )
    pins.write_text(json.dumps(document))
    data = {
        manifest.trust.origin: StaticSiteData(farm, manifest.trust),
        PLANT: StaticSiteData(plant.store, plant.trust),
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    site = create_federated_site(load_pins(pins), None, settings, site_data=data)
    try:
        with serve(site) as url:  # a WSGI app like any Flask app
            yield Federated(url, plant, bird)
    finally:
        site.close()
        plant.store.close()
        farm.close()


def _verify_first_row(page: Page) -> str:
    row = page.locator("#timeline tr[data-entry]").first
    entry = row.get_attribute("data-entry")
    row.evaluate("el => { const d = el.closest('details'); if (d) d.open = true; }")
    row.click()
    done = '[data-state="ok"], [data-state="fail"], [data-state="unsupported"]'
    page.wait_for_selector(f'#verify-result[data-entry="{entry}"]:is({done})')
    return page.get_attribute("#verify-result", "data-state") or ""


def test_the_stitched_pack_page_loads_its_assets_and_verifies_under_the_plants_mount(
    page: Page, console: ConsoleWatch, federated: Federated
) -> None:
    served: dict[str, int] = {}
    page.on("response", lambda r: served.__setitem__(r.url, r.status))
    page.goto(f"{federated.url}/01/{PLANT_GTIN}/21/{federated.plant.serials[federated.bird]}")
    css = f"{federated.url}/logs/plant/static/site.css"
    assert served.get(css) == 200, served
    part = page.locator("article.xlog-part").first
    assert part.get_attribute("data-verified") == "true"
    assert part.get_attribute("data-api-base") == "/logs/farm/api/v1"
    assert _verify_first_row(page) == "ok", page.inner_text("#verify-result")
    assert any("/logs/plant/api/v1/entries/" in url for url in served)
    assert console.csp_violations == []
    assert console.messages == []


def test_a_mounted_logs_page_verifies_against_its_own_api(
    page: Page, console: ConsoleWatch, federated: Federated
) -> None:
    page.goto(f"{federated.url}/logs/farm/bird/{federated.bird}")
    assert (
        page.locator("link[rel=stylesheet]")
        .get_attribute("href", timeout=5000)
        .startswith("/logs/farm/static/")
    )
    assert _verify_first_row(page) == "ok", page.inner_text("#verify-result")
    page.click('a.lang[hreflang="zh-CN"]')
    assert page.url.startswith(f"{federated.url}/logs/farm/bird/{federated.bird}?")
    assert console.csp_violations == []
    assert console.messages == []


def test_the_federation_index_links_to_each_mount(page: Page, federated: Federated) -> None:
    page.goto(federated.url + "/")
    page.click('tr[data-slug="farm"] a')
    page.wait_for_url(f"{federated.url}/logs/farm/")
    assert page.locator("form[role=search]").count() == 1
