"""The stitched pack page's summary: where the bird was raised, from the farm's own log.

The plant's log (tests/web/federation_logs.py) slaughters and packs the story
farm's birds, each ``slaughtered`` naming the farm's ``placed`` entry; one
reference is forged. The pack's page at the resolver must take the farm,
the barn's climate, feed, medicines and charts from the farm's log, exactly
as the farm's own page computes them, and say which log each fact comes
from; a forged farm part contributes nothing but the reason it failed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import StoryLog
from federation_chain import build_holder_log
from federation_logs import (
    DAY,
    PLANT,
    PLANT_GTIN,
    PlantLog,
    build_plant_log,
    cosigned_copy,
    pins_document,
    placed_index,
    write_policy,
)
from web_site import StaticSiteData
from werkzeug.test import Client

import consumer_web._farm_facts as farm_facts_module
from chain.crosslog import LogReference, reference_from_proof, refs_to_json
from chain.entries import parse_entry
from chain.gs1 import gtin_check_digit
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from consumer_web import FederatedSite, FederationSettings, create_app, create_federated_site
from consumer_web._charts import ChartView
from consumer_web._story import Chart
from readapi.crosslog import Pins, load_pins

FARM_NAME = "Green Valley Farm"


@dataclass
class Logs:
    farm: Store
    farm_data: StaticSiteData
    plant: PlantLog
    plant_data: StaticSiteData
    pins: Pins
    good: str
    other: str  # another bird whose reference holds
    root: Path
    document: dict[str, object]  # the pins file's content


@pytest.fixture(scope="module")
def logs(story: StoryLog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    root = tmp_path_factory.mktemp("federation-facts")
    farm = cosigned_copy(story.store, root / "farm")
    recalled = next(p.bird for p in story.manifest.packs if p.recalled)
    good = next(b for b in story.manifest.birds if b != recalled)
    forged = next(b for b in story.manifest.birds if b not in (good, recalled))
    plant = build_plant_log(
        root / "plant", farm, [good, forged, recalled], forged_bird=forged, recalled_bird=recalled
    )
    (root / "farm-trust.json").write_text(story.manifest.trust.to_json())
    (root / "plant-trust.json").write_text(plant.trust.to_json())
    document = pins_document(
        root / "farm-trust.json",
        root / "plant-trust.json",
        write_policy(root / "witnesses.json"),
        farm_url="http://farm.invalid",
        plant_url="http://plant.invalid",
    )
    (root / "pins.json").write_text(json.dumps(document))
    farm_data = StaticSiteData(farm, story.manifest.trust)
    plant_data = StaticSiteData(plant.store, plant.trust)
    pins = load_pins(root / "pins.json")
    yield Logs(farm, farm_data, plant, plant_data, pins, good, recalled, root, document)
    plant.store.close()
    farm.close()


@pytest.fixture
def site(logs: Logs) -> Iterator[FederatedSite]:
    data = {logs.farm_data.trust.origin: logs.farm_data, PLANT: logs.plant_data}
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(logs.pins, None, settings, site_data=data)
    yield federated
    federated.close()


def _pack_page(logs: Logs, client: Client, bird: str) -> str:
    response = client.get(f"/01/{PLANT_GTIN}/21/{logs.plant.serials[bird]}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    return html


def _fact(html: str, name: str) -> str:
    """The text of fact ``name`` (its <dd id="fact-NAME">), tags removed."""
    found = re.search(rf'<dd id="fact-{name}"[^>]*>(.*?)</dd>', html, re.S)
    assert found is not None, f"no fact {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[1])).strip()


def _source_free(text: str) -> str:
    return text.replace(f"from {FARM_NAME}&#39;s log", "").strip()


def test_the_pack_summary_names_the_farm_and_its_barn_readings_from_the_farms_log(
    logs: Logs, site: FederatedSite
) -> None:
    client = Client(site)
    html = _pack_page(logs, client, logs.good)
    farm_origin = logs.farm_data.trust.origin
    own = Client(site).get(f"/logs/farm/bird/{logs.good}").get_data(as_text=True)
    assert '<h1>Ross 308 chicken <span class="from">from Green Valley Farm</span></h1>' in html
    # The farm: the pinned party's name, the barn from the farm's log, said to come from it.
    farm = _fact(html, "farm")
    assert farm.startswith(FARM_NAME + ", barn "), farm
    assert f"from {FARM_NAME}&#39;s log" in farm
    assert _source_free(farm) == FARM_NAME + "," + _fact(own, "farm").partition(",")[2]
    assert re.search(rf'<dd id="fact-farm" data-log-origin="{re.escape(farm_origin)}"', html)
    # The barn's climate, days and feed: the farm's own page's numbers, from its log.
    welfare = _fact(html, "welfare")
    assert "% of hours within the recommended temperature" in welfare, welfare
    for name in ("welfare", "days", "feed", "vaccines", "vet"):
        assert _source_free(_fact(html, name)) == _fact(own, name), name
        assert f"from {FARM_NAME}&#39;s log" in _fact(html, name), name
    # Slaughter and packing stay the plant's, and say so.
    assert "from Riverside Processing&#39;s log" in _fact(html, "slaughter")
    assert "from Riverside Processing&#39;s log" in _fact(html, "packed")
    # The hatchery, as the farm's log names it.
    assert f"from {FARM_NAME}&#39;s log" in _fact(html, "hatchery")
    # The charts are the farm's: its temperature chart, rows checked against the farm's log.
    charts = html[html.index('id="charts"') : html.index('id="excursions"')]
    assert 'class="chart chart-temperature' in charts
    assert f'data-log-origin="{farm_origin}"' in charts
    assert 'href="/logs/farm/api/v1/entries/' in charts
    assert "From Green Valley Farm&#39;s own log" in charts
    assert 'id="stays"' in html and "Barn " in html[html.index('id="stays"') :]
    # The journey strip starts on the farm.
    assert "stop-farm" in html and "stop-plant" in html


def test_a_forged_farm_part_says_could_not_be_verified_and_gives_no_farm_facts(
    logs: Logs, site: FederatedSite
) -> None:
    html = _pack_page(logs, Client(site), logs.plant.forged_bird)
    assert _fact(html, "farm") == "not verified"
    failed = re.search(r'<dd class="alert-text fact-farm-failed"[^>]*>(.*?)</dd>', html, re.S)
    assert failed is not None
    assert (
        f"{FARM_NAME}&#39;s record of bird {logs.plant.forged_bird} could not be verified"
        in (failed[1])
    )
    assert "ref_entry_mismatch" in failed[1]
    assert f"from {FARM_NAME}&#39;s log" not in html
    assert _fact(html, "welfare") == "no temperature readings"
    assert 'id="fact-hatchery"' not in html
    charts = html[html.index('id="charts"') : html.index('id="excursions"')]
    assert "chart-temperature" not in charts and "No readings." in charts


def test_the_farms_charts_are_drawn_once_per_farm_head_shared_with_its_own_page(
    logs: Logs, site: FederatedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    real = farm_facts_module.chart_view

    def counting(chart: Chart) -> ChartView:
        drawn.append(chart.kind)
        return real(chart)

    monkeypatch.setattr(farm_facts_module, "chart_view", counting)
    client = Client(site)
    first = _pack_page(logs, client, logs.good)
    assert drawn, "the farm's charts were not drawn"
    count = len(drawn)
    assert _pack_page(logs, client, logs.good) == first
    assert len(drawn) == count  # the second view drew nothing again
    # The farm's own bird page fills the same memo: the pack page then draws nothing.
    assert client.get(f"/logs/farm/bird/{logs.other}").status_code == 200
    assert "chart-temperature" in _pack_page(logs, client, logs.other)
    assert len(drawn) == count


def test_a_single_log_site_page_says_nothing_of_other_logs(logs: Logs) -> None:
    app = create_app({"SITE_DATA": logs.plant_data, "WARM_CACHE": False})
    try:
        response = Client(app).get(f"/01/{PLANT_GTIN}/21/{logs.plant.serials[logs.good]}")
        html = response.get_data(as_text=True)
    finally:
        app.extensions["farmtrace_site"].close()
    assert _fact(html, "farm") == "not stated"
    assert "fact-source" not in html
    assert 'id="fact-hatchery"' not in html


FARM_B = "farm-b.example/log"
HATCHERY = "hatch.example/log"
LOT_PLANT = "lots.example/log"
LOT_PREFIX = "950600077"
LOT_GTIN = "0" + LOT_PREFIX + "002" + str(gtin_check_digit("0" + LOT_PREFIX + "002"))


def _ref_to(store: Store, index: int, subject: str) -> LogReference:
    latest = store.latest_checkpoint()
    assert latest is not None
    return reference_from_proof(build_entry_proof(store, index, latest[0]), subject)


@pytest.fixture(scope="module")
def lot_site(logs: Logs) -> Iterator[FederatedSite]:
    """A plant that packs one lot of three birds: one of the story farm's, two of Hillside
    Farm's (a second farm log), the reference to the last one forged; and a pack (serial
    ``SH3``) of Hillside's bird H3, which Hillside placed naming a hatchery log's
    ``hatched`` (that hatchery also vaccinated it)."""
    root = logs.root / "lot"
    start = parse_entry(logs.farm.entry(logs.farm.entry_count - 1)).ts + DAY
    hatching = [
        ("hatched", ["bird:H3"], {"breed": "Cobb 500"}),
        ("vaccinated", ["bird:H3"], {"vaccine": "Newcastle disease"}),
    ]
    hatch = build_holder_log(root / "hatch", HATCHERY, "Sunny", "hatchery", 0x79, start, hatching)
    hatched_ref = _ref_to(hatch.store, hatch.indexes[0], "bird:H3")
    placed = [("placed", [f"bird:H{n}"], {"barn": "h1"}) for n in (1, 2)]
    placed.append(("placed", ["bird:H3"], {"barn": "h2", "refs": refs_to_json([hatched_ref])}))
    placed.append(("placed", [f"bird:{logs.good}"], {"barn": "h1"}))  # the story farm's id too
    start += DAY
    hill = build_holder_log(root / "farm-b", FARM_B, "Hillside Farm", "farm", 0x71, start, placed)
    refs = [
        _ref_to(logs.farm, placed_index(logs.farm, logs.good), f"bird:{logs.good}"),
        _ref_to(hill.store, hill.indexes[0], "bird:H1"),
        _ref_to(hill.store, hill.indexes[1], "bird:H2"),
    ]
    forged = refs[2]
    refs[2] = LogReference(
        forged.log, forged.index, hashlib.sha256(b"never placed").hexdigest(), forged.size,
        forged.root, forged.subject,
    )  # fmt: skip
    birds = [logs.good, "H1", "H2"]
    refs.append(_ref_to(hill.store, hill.indexes[2], "bird:H3"))
    twin = _ref_to(hill.store, hill.indexes[3], f"bird:{logs.good}")
    plan = [
        (
            "slaughtered",
            [f"bird:{bird}"],
            {"plant": "Lots", "outputs": [f"carcass:L{bird}"], "refs": [ref]},
        )
        for bird, ref in zip([*birds, "H3"], refs_to_json(refs), strict=True)
    ]
    plan.append(("packed", ["carcass:LH3"], {"gtin": LOT_GTIN, "serial": "SH3", "plant": "Lots"}))
    outputs = {"plant": "Lots", "outputs": ["carcass:T1"], "refs": refs_to_json([twin])}
    plan.append(("slaughtered", [f"bird:{logs.good}"], outputs))
    plan.append(
        (
            "packed",
            [f"carcass:L{b}" for b in birds],
            {"gtin": LOT_GTIN, "lot": "L1", "plant": "Lots"},
        )
    )
    lots = build_holder_log(root / "plant", LOT_PLANT, "Lot Packers", "plant", 0x75, start, plan)
    document = json.loads(json.dumps(logs.document))
    for origin, name, slug, role, log, prefixes in (
        (HATCHERY, "Sunny Hatchery", "hatch", "hatchery", hatch, []),
        (FARM_B, "Hillside Farm", "farm-b", "farm", hill, []),
        (LOT_PLANT, "Lot Packers", "lots", "plant", lots, [LOT_PREFIX]),
    ):
        (root / f"{slug}-trust.json").write_text(log.trust.to_json())
        document["logs"].append(  # type: ignore[attr-defined]
            {
                "origin": origin,
                "name": name,
                "role": role,
                "slug": slug,
                "trust": str(root / f"{slug}-trust.json"),
                "witnesses": str(logs.root / "witnesses.json"),
                "sources": ["http://other.invalid"],
                "gs1_prefixes": prefixes,
            }
        )
    (root / "pins.json").write_text(json.dumps(document))
    data = {
        logs.farm_data.trust.origin: logs.farm_data,
        PLANT: logs.plant_data,
        FARM_B: StaticSiteData(hill.store, hill.trust),
        LOT_PLANT: StaticSiteData(lots.store, lots.trust),
        HATCHERY: StaticSiteData(hatch.store, hatch.trust),
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(load_pins(root / "pins.json"), None, settings, site_data=data)
    yield federated
    federated.close()
    for log in (hatch, hill, lots):
        log.store.close()


def test_a_lot_from_two_farms_shows_each_farms_part_and_the_one_that_failed(
    logs: Logs, lot_site: FederatedSite
) -> None:
    response = Client(lot_site).get(f"/01/{LOT_GTIN}/10/L1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    section = html[html.index('id="farms"') : html.index("</section>", html.index('id="farms"'))]
    farms = re.findall(r'<article class="farm ([a-z]+)" data-log-origin="([^"]+)">', section)
    assert farms == [("verified", logs.farm_data.trust.origin), ("unverified", FARM_B)]
    green, hill = section.split('<article class="farm ')[1:]
    assert f"<h3>{FARM_NAME}</h3>" in green and f"bird {logs.good}, barn b1" in green
    assert "% of hours within the recommended temperature" in green
    assert f"from {FARM_NAME}&#39;s log" in green
    assert "<h3>Hillside Farm</h3>" in hill and "bird H1, barn h1" in hill
    assert "no temperature readings" in hill  # Hillside's log holds no readings
    assert "Hillside Farm&#39;s record of bird H2 could not be verified" in hill
    assert 'data-reason="ref_entry_mismatch"' in hill
    birds = re.search(r'<dd class="farm-birds">(.*?)</dd>', hill)
    assert birds is not None and birds[1] == "bird H1, barn h1"  # not the bird that failed


def test_the_hatchery_its_breed_and_vaccination_come_from_the_hatcherys_log(
    lot_site: FederatedSite,
) -> None:
    response = Client(lot_site).get(f"/01/{LOT_GTIN}/21/SH3")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert '<h1>Cobb 500 chicken <span class="from">from Hillside Farm</span></h1>' in html
    assert _fact(html, "farm") == "Hillside Farm, barn h2 from Hillside Farm&#39;s log"
    hatchery = _fact(html, "hatchery")
    assert hatchery.startswith("Sunny Hatchery, hatched ")
    assert hatchery.endswith("from Sunny Hatchery&#39;s log")
    assert _fact(html, "vaccines") == "Newcastle disease from Sunny Hatchery&#39;s log"
    stops = re.findall(r'<circle class="stop stop-([a-z]+)"', html)
    assert stops == ["hatchery", "farm", "plant"]


def test_a_plant_bird_page_of_two_farms_birds_of_one_id_takes_neither_farms_facts(
    logs: Logs, lot_site: FederatedSite
) -> None:
    response = Client(lot_site).get(f"/logs/lots/bird/{logs.good}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    origins = re.findall(r'class="xlog-part verified"[^>]*\s+data-log-origin="([^"]+)"', html)
    assert {logs.farm_data.trust.origin, FARM_B} <= set(origins)
    assert _fact(html, "farm") == "not stated"
    assert "fact-source" not in html
