"""The stitched pack page's farm facts, checked in a real Chromium: a tapped stay is the farm's.

A farm's log hatches, places and moves a bird; a plant's log slaughters it,
naming the farm's ``placed`` by reference, and packs it (real stores,
tests/browser/crosslog_logs.py). On the pack's page at the federated site
the summary and the bird's stays come from the farm's log, so tapping a stay
must verify that entry from the farm's read API (under its mount), not the
plant's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_harness import ConsoleWatch, serve
from crosslog_logs import FARM, PLANT, POLICY, T0, PartyLog
from playwright.sync_api import Page
from web.web_site import StaticSiteData

from chain.gs1 import gtin_check_digit
from consumer_web import FederationSettings, create_federated_site
from readapi.crosslog import load_pins

PREFIX = "950600014"
GTIN = "0" + PREFIX + "435" + str(gtin_check_digit("0" + PREFIX + "435"))


@dataclass(frozen=True)
class Site:
    url: str
    placed: int


def _pins(root: Path, farm: PartyLog, plant: PartyLog) -> Path:
    (root / "witnesses.json").write_text(POLICY.to_json())
    logs = []
    for log, name, role, prefixes in (
        (farm, "Green Valley Farm", "farm", []),
        (plant, "Riverside Processing", "plant", [PREFIX]),
    ):
        (root / f"{role}-trust.json").write_text(log.trust.to_json())
        logs.append(
            {
                "origin": log.trust.origin,
                "name": name,
                "role": role,
                "trust": f"{role}-trust.json",
                "witnesses": "witnesses.json",
                "sources": [f"http://{role}.invalid"],
                "gs1_prefixes": prefixes,
            }
        )
    (root / "pins.json").write_text(json.dumps({"logs": logs}))
    return root / "pins.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("farm-facts-site")
    farm, plant = PartyLog(root / "farm", FARM, "farm"), PartyLog(root / "plant", PLANT, "plant")
    farm.commit(farm.event("hatched", T0, ["bird:0001"], breed="Ross 308"))
    (placed,) = farm.commit(farm.event("placed", T0 + 1000, ["bird:0001"], barn="b1"))
    farm.commit(farm.event("moved", T0 + 2000, ["bird:0001"], barn="b2"))
    ref = farm.ref(placed, "bird:0001")
    fields = {"plant": "plant-1", "outputs": ["carcass:1"], "refs": [ref.to_json()]}
    plant.commit(
        plant.event("slaughtered", T0 + 10_000, ["bird:0001"], **fields),
        plant.event("packed", T0 + 11_000, ["carcass:1"], gtin=GTIN, serial="S1"),
    )
    pins = load_pins(_pins(root, farm, plant))
    data = {
        log.trust.origin: StaticSiteData(log.store, log.trust, witness_policy=POLICY)
        for log in (farm, plant)
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(pins, None, settings, site_data=data)
    try:
        with serve(federated) as url:  # type: ignore[arg-type]
            yield Site(url, placed)
    finally:
        federated.close()
        farm.close()
        plant.close()


def test_a_tapped_stay_on_the_pack_page_is_verified_from_the_farms_log(
    page: Page, site: Site
) -> None:
    watch = ConsoleWatch(page)
    page.goto(f"{site.url}/01/{GTIN}/21/S1")
    farm = page.locator("#fact-farm").inner_text()
    assert farm.startswith("Green Valley Farm, barn b1, b2"), farm
    assert "from Green Valley Farm's log" in farm
    assert page.locator("h1").inner_text().startswith("Ross 308 chicken")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.click("#more-stays summary")
    page.click(f"#stays [data-entry='{site.placed}']")
    page.wait_for_function(
        "() => ['ok', 'fail'].includes(document.getElementById('verify-result').dataset.state)"
    )
    panel = page.locator("#verify-result")
    assert panel.get_attribute("data-state") == "ok", panel.inner_text()
    assert panel.get_attribute("data-entry") == str(site.placed)
    assert any(f"/logs/farm-a-example/api/v1/entries/{site.placed}/proof" in u for u in fetched)
    assert not any("/logs/plant-example/api/v1/entries/" in url for url in fetched)
    assert watch.csp_violations == []
