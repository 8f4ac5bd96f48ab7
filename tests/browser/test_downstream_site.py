"""A pack's way downstream (distributor, shop) on the resolver site, checked in a real Chromium.

Four real logs (tests/web/federation_logs.py, tests/web/federation_chain.py):
a small story farm's, a plant's naming its birds, a distributor's naming the
plant's packs, a shop's naming the distributor's shipment (for one pack by a
forged reference). static/verify/stitched.js checks each downstream part
from the named log's own read API, reading the referring event from the
later holder's API (``data-referrer-api-base``), and must reach the server's
verdict: the whole way verified for one pack, the shop's forged reference
refused (``ref_entry_mismatch``) for the other. No CSP violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from browser_harness import ConsoleWatch, serve
from playwright.sync_api import Page
from web.federation_chain import DC, SHOP, Holders, build_holders, chain_pins
from web.federation_logs import (
    PLANT_GTIN,
    POLICY,
    build_plant_log,
    cosigned_copy,
    pins_document,
    write_policy,
)
from web.web_site import StaticSiteData

from chain.store import Store
from chain.trust import TrustRoot
from consumer_web import FederationSettings, create_federated_site
from demo.story_farm import StoryFarm, build_story_log
from gateway.datadir import DataDir
from readapi.crosslog import load_pins


@dataclass(frozen=True)
class StoredLog:
    store: Store
    trust: TrustRoot


@dataclass
class Chain:
    url: str
    holders: Holders


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    root = tmp_path_factory.mktemp("downstream")
    manifest = build_story_log(
        DataDir(root / "story"), StoryFarm(days=2, birds=6, shelf_birds=4, lot_birds=2)
    )
    with Store.open(DataDir(root / "story").log) as story:
        farm = cosigned_copy(story, root / "farm")
    birds = list(manifest.birds[:3])
    plant = build_plant_log(
        root / "plant", farm, birds, forged_bird=birds[2], recalled_bird=birds[2]
    )
    holders = build_holders(root, plant.store, (plant.serials[birds[0]], plant.serials[birds[1]]))
    (root / "farm-trust.json").write_text(manifest.trust.to_json())
    (root / "plant-trust.json").write_text(plant.trust.to_json())
    policy = write_policy(root / "witnesses.json")
    base = pins_document(
        root / "farm-trust.json",
        root / "plant-trust.json",
        policy,
        farm_url="http://farm.invalid",
        plant_url="http://plant.invalid",
    )
    (root / "pins.json").write_text(json.dumps(chain_pins(base, holders, root, policy)))
    data = {  # each log's read API serves its pinned witnesses, as a replica's does
        log.trust.origin: StaticSiteData(log.store, log.trust, witness_policy=POLICY)
        for log in (
            StoredLog(farm, manifest.trust),
            StoredLog(plant.store, plant.trust),
            StoredLog(holders.dc.store, holders.dc.trust),
            StoredLog(holders.shop.store, holders.shop.trust),
        )
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    site = create_federated_site(load_pins(root / "pins.json"), None, settings, site_data=data)
    try:
        with serve(site) as url:  # type: ignore[arg-type]
            yield Chain(url, holders)
    finally:
        site.close()
        for store in (holders.shop.store, holders.dc.store, plant.store, farm):
            store.close()


def _downstream(page: Page, url: str) -> list[list[str | None]]:
    page.goto(url)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-ref]')].length > 0 && "
        "[...document.querySelectorAll('[data-ref]')].every("
        "(p) => ['ok', 'fail'].includes(p.dataset.refState))"
    )
    found: list[list[str | None]] = page.evaluate(  # the last: why a check failed
        """() => [...document.querySelectorAll('#downstream [data-ref]')].map((p) => [
            p.dataset.referrerLog, p.dataset.verified, p.dataset.refState,
            p.dataset.refReason ?? null, p.querySelector('[data-ref-message]').title,
        ])"""
    )
    return found


def test_the_browser_verifies_the_way_to_the_shop_and_refuses_the_forged_receipt(
    page: Page, chain: Chain
) -> None:
    watch = ConsoleWatch(page)
    good, forged = chain.holders.serials
    parts = _downstream(page, f"{chain.url}/01/{PLANT_GTIN}/21/{good}")
    assert [p[:4] for p in parts] == [[DC, "true", "ok", None], [SHOP, "true", "ok", None]], parts
    parts = _downstream(page, f"{chain.url}/01/{PLANT_GTIN}/21/{forged}")
    expected = [[DC, "true", "ok", None], [SHOP, "false", "fail", "ref_entry_mismatch"]]
    assert [p[:4] for p in parts] == expected, parts
    assert watch.csp_violations == []
    assert watch.messages == []
