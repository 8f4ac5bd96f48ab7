"""The resolver site's stitched pack page, checked again in a real Chromium.

A farm's log and a plant's log (real stores, tests/browser/crosslog_logs.py)
are followed by the federated site (consumer_web.create_federated_site, the
app ``farmtrace site run --pins`` serves). A pack's page, reached by its
Digital Link, shows the farm's part of the story; static/verify/stitched.js
checks each part from the farm's own read API under the site's mount and
must reach the server's verdict: the bird the farm placed is verified, the
one the plant claims but the farm never placed is not (ref_entry_mismatch).
The page keeps the site's Content Security Policy (no violation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_harness import ConsoleWatch, serve
from crosslog_logs import FARM, OPERATOR, PLANT, POLICY, T0, PartyLog
from playwright.sync_api import Page
from web.web_site import StaticSiteData

from chain.crosslog import LogReference
from chain.entries import sign_entry
from chain.gs1 import gtin_check_digit
from consumer_web import FederationSettings, create_federated_site
from readapi.crosslog import load_pins

PREFIX = "950600013"
GTIN = "0" + PREFIX + "435" + str(gtin_check_digit("0" + PREFIX + "435"))


@dataclass(frozen=True)
class Site:
    url: str
    placed: int
    recalled: int


def _logs(root: Path) -> tuple[PartyLog, PartyLog, int, int]:
    farm, plant = PartyLog(root / "farm", FARM, "farm"), PartyLog(root / "plant", PLANT, "plant")
    farm.commit(farm.event("hatched", T0, ["bird:0001"], breed="Ross 308"))
    (placed,) = farm.commit(farm.event("placed", T0 + 1000, ["bird:0001"], barn="b1"))
    held = farm.ref(placed, "bird:0001")
    farm.commit(farm.event("moved", T0 + 2000, ["bird:0001"], barn="b2"))  # the farm grows on
    recalled = farm.recall(T0 + 3000, ["bird:0001"], "feed contaminated")
    never = farm.event("placed", T0 + 1000, ["bird:0009"], barn="b1")
    forged = LogReference(
        FARM,
        placed,
        hashlib.sha256(sign_entry(never, "op", OPERATOR.seed)).hexdigest(),
        held.size,
        held.root,
        "bird:0009",
    )
    for n, ref in ((1, held), (2, forged)):
        carcass = f"carcass:{n}"
        fields = {"plant": "plant-1", "outputs": [carcass], "refs": [ref.to_json()]}
        plant.commit(
            plant.event("slaughtered", T0 + 10_000 + n, [ref.subject], **fields),
            plant.event("packed", T0 + 11_000 + n, [carcass], gtin=GTIN, serial=f"S{n}"),
        )
    return farm, plant, placed, recalled


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
    root = tmp_path_factory.mktemp("stitched-site")
    farm, plant, placed, recalled = _logs(root)
    pins = load_pins(_pins(root, farm, plant))
    data = {
        log.trust.origin: StaticSiteData(log.store, log.trust, witness_policy=POLICY)
        for log in (farm, plant)
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(pins, None, settings, site_data=data)
    try:
        with serve(federated) as url:  # type: ignore[arg-type]
            yield Site(url, placed, recalled)
    finally:
        federated.close()
        farm.close()
        plant.close()


def _parts(page: Page, site: Site, serial: str) -> list[list[str | None]]:
    page.goto(f"{site.url}/01/{GTIN}/21/{serial}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-ref]')].length > 0 && "
        "[...document.querySelectorAll('[data-ref]')].every("
        "(p) => ['ok', 'fail'].includes(p.dataset.refState))"
    )
    found: list[list[str | None]] = page.evaluate(
        """() => [...document.querySelectorAll('[data-ref]')].map((p) => [
            p.dataset.verified, p.dataset.reason || null, p.dataset.refState,
            p.dataset.refReason ?? null, p.querySelector('[data-ref-message]').textContent,
        ])"""
    )
    return found


def test_the_browser_verifies_the_farm_part_the_site_verified(page: Page, site: Site) -> None:
    watch = ConsoleWatch(page)
    [part] = _parts(page, site, "S1")
    assert part[:4] == ["true", None, "ok", None]
    assert f"{FARM} entry {site.placed}" in str(part[4])
    assert "w1.example/witness, w2.example/witness" in str(part[4])
    assert watch.messages == []


def test_the_browser_refuses_the_bird_the_farm_never_placed(page: Page, site: Site) -> None:
    watch = ConsoleWatch(page)
    [part] = _parts(page, site, "S2")
    assert part[:4] == ["false", "ref_entry_mismatch", "fail", "ref_entry_mismatch"]
    assert part[4] == "Your browser could NOT verify this part (ref_entry_mismatch)."
    assert watch.csp_violations == []


@pytest.mark.parametrize(
    "row", ["#stitched [data-entry='{placed}']", "#recall-upstream [data-entry]"]
)
def test_a_tapped_row_of_the_farms_story_is_verified_from_the_farms_log(
    page: Page, site: Site, row: str
) -> None:
    _parts(page, site, "S1")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.click(row.format(placed=site.placed))
    page.wait_for_function(
        "() => ['ok', 'fail'].includes(document.getElementById('verify-result').dataset.state)"
    )
    panel = page.locator("#verify-result")
    assert panel.get_attribute("data-state") == "ok", panel.inner_text()
    index = panel.get_attribute("data-entry")
    assert index in (str(site.placed), str(site.recalled))
    assert any(f"/logs/farm-a-example/api/v1/entries/{index}/proof" in url for url in fetched)
    assert not any("/logs/plant-example/api/v1/entries/" in url for url in fetched)
