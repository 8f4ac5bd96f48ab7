"""The federated site (one site, many logs) over real stores: resolver, mounts, stitched pages.

The farm is a copy of the story farm's log, the plant a log of its own whose
``slaughtered`` events name the farm's ``placed`` entries by reference
(tests/web/federation_logs.py). Both are served as site data (no network):
the replicas' own syncing is tested elsewhere; here the federation's routing,
its reference checks and the pages they make.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import StoryLog
from federation_chain import DC, SHOP, Holders, build_holders, chain_pins, pack_of
from federation_logs import (
    PLANT,
    PLANT_GTIN,
    PlantLog,
    build_plant_log,
    cosigned_copy,
    pins_document,
    write_policy,
)
from web_site import StaticSiteData
from werkzeug.test import Client

from chain import note
from chain.crosslog import CrossLogReferenceError, LogReference, Referrer
from chain.gs1 import DigitalLink, pack_subject
from chain.json_input import load_json_object
from chain.store import Store
from consumer_web import FederatedSite, FederationSettings, create_app, create_federated_site
from consumer_web._downstream import walk_downstream
from consumer_web._federation import rollback_seen
from consumer_web._replica_state import Conflict, ReplicaStatus, SourceStatus
from farmtrace.cli import main
from readapi.crosslog import Pins, ReferenceUnavailableError, load_pins


@dataclass
class Logs:
    farm: Store
    farm_data: StaticSiteData
    plant: PlantLog
    plant_data: StaticSiteData
    pins: Pins
    good: str  # a bird whose reference holds
    recalled_farm_bird: str  # the bird of the farm's recalled pack
    extra: str  # a bird whose pack the shop's forged reference names (tests of the chain)
    root: Path


@pytest.fixture(scope="module")
def logs(story: StoryLog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    root = tmp_path_factory.mktemp("federation")
    farm = cosigned_copy(story.store, root / "farm")
    recalled_farm_bird = next(p.bird for p in story.manifest.packs if p.recalled)
    good = next(b for b in story.manifest.birds if b != recalled_farm_bird)
    forged = next(b for b in story.manifest.birds if b not in (good, recalled_farm_bird))
    extra = next(b for b in story.manifest.birds if b not in (good, recalled_farm_bird, forged))
    birds = [good, forged, recalled_farm_bird, extra]
    plant = build_plant_log(
        root / "plant", farm, birds, forged_bird=forged, recalled_bird=recalled_farm_bird
    )
    (root / "farm-trust.json").write_text(story.manifest.trust.to_json())
    (root / "plant-trust.json").write_text(plant.trust.to_json())
    policy = write_policy(root / "witnesses.json")
    document = pins_document(
        root / "farm-trust.json",
        root / "plant-trust.json",
        policy,
        farm_url="http://farm.invalid",
        plant_url="http://plant.invalid",
    )
    (root / "pins.json").write_text(json.dumps(document))
    pins = load_pins(root / "pins.json")
    farm_data = StaticSiteData(farm, story.manifest.trust)
    plant_data = StaticSiteData(plant.store, plant.trust)
    yield Logs(farm, farm_data, plant, plant_data, pins, good, recalled_farm_bird, extra, root)
    plant.store.close()
    farm.close()


@pytest.fixture
def site(logs: Logs) -> Iterator[FederatedSite]:
    logs.farm_data.sources = ()
    logs.farm_data.conflicts = ()
    data = {logs.farm_data.trust.origin: logs.farm_data, PLANT: logs.plant_data}
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(logs.pins, None, settings, site_data=data)
    yield federated
    federated.close()


@pytest.fixture
def client(site: FederatedSite) -> Client:
    return Client(site)


def _pack_path(logs: Logs, bird: str) -> str:
    return f"/01/{PLANT_GTIN}/21/{logs.plant.serials[bird]}"


def _parts(html: str) -> list[dict[str, str]]:
    found = []
    for tag in re.findall(r'<article class="xlog-part[^>]*>', html):
        found.append(dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag)))
    return found


def test_the_resolver_sends_a_pack_to_the_packing_party_and_stitches_the_farm_part(
    logs: Logs, client: Client
) -> None:
    response = client.get(_pack_path(logs, logs.good))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    parts = _parts(html)
    assert len(parts) == 1
    part = parts[0]
    assert part["data-verified"] == "true"
    assert part["data-log-origin"] == logs.farm_data.trust.origin
    assert part["data-log-slug"] == "farm"
    assert part["data-api-base"] == "/logs/farm/api/v1"
    assert part["data-referrer-log"] == PLANT
    assert part["data-referrer-event"] == "slaughtered"
    ref = load_json_object(part["data-ref"].replace("&#34;", '"').encode(), "ref")
    assert ref == logs.plant.refs[logs.good].to_json()
    assert "Green Valley Farm&#39;s log (" in html
    assert f"entry {ref['index']}, cosigned by 1 of 1 witnesses" in html
    assert f'href="/logs/farm/bird/{logs.good}"' in html
    # The page is the plant's: its own links and its verifier's API are under its mount.
    assert 'data-api-base="/logs/plant/api/v1"' in html
    assert 'href="/logs/plant/checkpoint"' in html


def test_a_forged_reference_shows_its_part_as_not_verified_and_is_counted(
    logs: Logs, client: Client
) -> None:
    html = client.get(_pack_path(logs, logs.plant.forged_bird)).get_data(as_text=True)
    (part,) = _parts(html)
    assert part["data-verified"] == "false"
    assert part["data-reason"] == "ref_entry_mismatch"
    assert "NOT verified: Green Valley Farm&#39;s log has another entry there." in html
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(
        r'site_crosslog_refs_total\{log="[^"]+",result="ref_entry_mismatch"\} [1-9]', metrics
    )


def test_a_reference_the_farm_rolled_back_shows_as_no_longer_shown(
    logs: Logs, client: Client
) -> None:
    ref = logs.plant.refs[logs.good]
    logs.farm_data.sources = (
        SourceStatus("http://farm.invalid", "behind", tree_size=ref.size - 1),
    )
    html = client.get(_pack_path(logs, logs.good)).get_data(as_text=True)
    (part,) = _parts(html)
    assert (part["data-verified"], part["data-reason"]) == ("false", "ref_rolled_back")
    assert "NOT verified: Green Valley Farm&#39;s log no longer shows this." in html


def test_a_recall_in_the_farm_part_and_one_by_the_plant_show_on_the_pack_page(
    logs: Logs, client: Client
) -> None:
    html = client.get(_pack_path(logs, logs.recalled_farm_bird)).get_data(as_text=True)
    assert 'id="recall"' in html  # the plant's own recall of this pack, as on any site
    assert "Salmonella found at the plant" in html
    assert 'id="recall-upstream"' in html  # the farm's recall of the bird's own pack
    (part,) = _parts(html)
    assert part["data-verified"] == "true"


def test_each_log_is_mounted_with_its_pages_api_and_static_files(
    logs: Logs, client: Client
) -> None:
    bird = client.get(f"/logs/farm/bird/{logs.good}")
    assert bird.status_code == 200
    html = bird.get_data(as_text=True)
    assert 'href="/logs/farm/static/site.css' in html
    assert 'href="/logs/farm/checkpoint"' in html
    css = client.get("/logs/farm/static/site.css")
    assert css.status_code == 200
    css.close()
    log = load_json_object(client.get("/logs/plant/api/v1/log").get_data(), "log")
    assert log["origin"] == PLANT
    assert client.get("/logs/plant/checkpoint").get_data(as_text=True).startswith(PLANT)
    assert client.get("/logs/farm").headers["Location"] == "/logs/farm/"
    assert client.get("/logs/nobody/").status_code == 404


def test_the_index_lists_the_followed_parties(logs: Logs, client: Client) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    assert "Green Valley Farm" in html and "Riverside Processing" in html
    rows = re.findall(r'<tr class="followed-log" data-origin="([^"]+)" data-slug="([^"]+)"', html)
    assert rows == [(logs.farm_data.trust.origin, "farm"), (PLANT, "plant")]
    assert 'href="/logs/plant/"' in html


def test_a_gtin_of_no_pinned_prefix_is_a_counted_404(client: Client) -> None:
    other = "09506000134352"  # the story farm's own plant prefix: pinned by nobody here
    response = client.get(f"/01/{other}/21/A1")
    assert response.status_code == 404
    assert "No party known for this company prefix" in response.get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'site_resolver_not_found_total{reason="no_party"} 1.0' in metrics
    assert client.get("/01/123/21/A1").status_code == 404  # malformed: bad_link


def test_the_label_key_pin_is_the_matched_partys(logs: Logs, client: Client) -> None:
    label = client.get(f"/label/01/{PLANT_GTIN}/21/{logs.plant.serials[logs.good]}")
    html = label.get_data(as_text=True)
    assert label.status_code == 200
    key_id = f"{note.parse_verifier_key(logs.plant.trust.log_key).key_id:08x}"
    assert f"?lk={key_id}" in html


def test_the_replica_status_check_names_both_sizes() -> None:
    ref = LogReference("farm.example/log", 3, "a" * 64, 9, "b" * 64, "bird:0001")
    behind = ReplicaStatus(9, None, None, (SourceStatus("http://f", "behind", tree_size=5),), ())
    error = rollback_seen(ref, behind)
    assert error is not None and error.reason == "ref_rolled_back"
    assert "size 5" in str(error) and ">= 9" in str(error)
    fine = ReplicaStatus(9, None, None, (SourceStatus("http://f", "ok", tree_size=9),), ())
    assert rollback_seen(ref, fine) is None
    down = ReplicaStatus(9, None, None, (SourceStatus("http://f", "unreachable", tree_size=3),), ())
    assert rollback_seen(ref, down) is None


def test_a_conflict_the_replica_recorded_is_a_rollback_of_the_reference(logs: Logs) -> None:
    latest = logs.farm.latest_checkpoint()
    assert latest is not None
    ref = logs.plant.refs[logs.good]
    older = logs.farm.checkpoint(ref.size - 1) if ref.size > 1 else None
    if older is None:
        pytest.skip("the reference saw the farm's first checkpoint")
    went_back = Conflict("http://farm.invalid", latest[1], older, "rollback", "went back", 1)
    source = SourceStatus("http://farm.invalid", "conflict", tree_size=latest[0])
    status = ReplicaStatus(latest[0], latest[1], None, (source,), (went_back,))
    error = rollback_seen(ref, status)
    assert error is not None and error.reason == "ref_rolled_back"
    impostor = Conflict("http://farm.invalid", latest[1], older, "wrong_log", "not ours", 1)
    by_impostor = ReplicaStatus(latest[0], latest[1], None, status.sources, (impostor,))
    assert rollback_seen(ref, by_impostor) is None


def test_federation_check_of_a_log_not_followed_or_not_yet_copied(
    logs: Logs, site: FederatedSite
) -> None:
    referrer = Referrer("slaughtered", ("bird:0001",), 2_000_000_000_000)
    stranger = LogReference("elsewhere.example/log", 0, "a" * 64, 1, "b" * 64, "bird:0001")
    with pytest.raises(CrossLogReferenceError) as caught:
        site.federation.check(stranger, referrer)
    assert caught.value.reason == "ref_unknown_log"
    ref = logs.plant.refs[logs.good]
    beyond = LogReference(ref.log, ref.index, ref.entry_hash, ref.size + 100, ref.root, ref.subject)
    with pytest.raises(ReferenceUnavailableError):
        site.federation.check(beyond, referrer)


def test_a_single_log_site_has_no_stitched_parts(logs: Logs) -> None:
    app = create_app({"TESTING": True, "SITE_DATA": logs.plant_data, "WARM_CACHE": False})
    html = app.test_client().get(_pack_path(logs, logs.good)).get_data(as_text=True)
    assert 'id="stitched"' not in html
    assert 'href="/checkpoint"' in html  # no mount: links as before
    app.extensions["farmtrace_site"].close()


def test_site_run_with_pins_refuses_sources_and_a_bad_pins_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pins = tmp_path / "pins.json"
    pins.write_text('{"logs": []}')
    site = ["site", "run", "--site-dir", str(tmp_path / "site"), "--pins", str(pins)]
    assert main([*site, "--source", "http://127.0.0.1:1"]) == 2
    assert "--pins names each log's sources" in capsys.readouterr().err
    assert main(site) == 2
    assert "at least one log" in capsys.readouterr().err


def test_a_gtin13_link_inside_a_mount_redirects_within_the_mount(
    story: StoryLog, client: Client
) -> None:
    pack = story.manifest.packs[0]
    assert pack.gtin.startswith("0")
    response = client.get(f"/logs/farm/01/{pack.gtin[1:]}/21/{pack.serial}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/logs/farm/01/{pack.gtin}/21/{pack.serial}"


# -- downstream: the plant's pack, at the distributor and the shop ---------------------


@dataclass
class Chain:
    holders: Holders
    pins: Pins
    dc: StaticSiteData
    shop: StaticSiteData


@pytest.fixture(scope="module")
def chain(logs: Logs) -> Iterator[Chain]:
    root = logs.root / "chain"
    root.mkdir()
    serials = (logs.plant.serials[logs.good], logs.plant.serials[logs.extra])
    holders = build_holders(root, logs.plant.store, serials)
    policy = logs.root / "witnesses.json"
    base = pins_document(
        logs.root / "farm-trust.json",
        logs.root / "plant-trust.json",
        policy,
        farm_url="http://farm.invalid",
        plant_url="http://plant.invalid",
    )
    (root / "pins.json").write_text(json.dumps(chain_pins(base, holders, root, policy)))
    pins = load_pins(root / "pins.json")
    dc = StaticSiteData(holders.dc.store, holders.dc.trust)
    shop = StaticSiteData(holders.shop.store, holders.shop.trust)
    yield Chain(holders, pins, dc, shop)
    holders.shop.store.close()
    holders.dc.store.close()


@pytest.fixture
def chain_site(logs: Logs, chain: Chain) -> Iterator[FederatedSite]:
    logs.farm_data.sources = ()
    logs.farm_data.conflicts = ()
    data = {
        logs.farm_data.trust.origin: logs.farm_data,
        PLANT: logs.plant_data,
        DC: chain.dc,
        SHOP: chain.shop,
    }
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    federated = create_federated_site(chain.pins, None, settings, site_data=data)
    yield federated
    federated.close()


def _downstream(html: str) -> list[dict[str, str]]:
    return [p for p in _parts(html) if "data-referrer-api-base" in p]


def _steps(html: str) -> list[tuple[str, str, str]]:
    pattern = r'<li class="xlog-step[^"]*" data-origin="([^"]+)" data-place="([a-z]+)" '
    pattern += r'data-verified="([a-z]+)"'
    return re.findall(pattern, html)


def test_a_pack_page_shows_its_way_from_the_farm_to_the_shop_each_part_vouched(
    logs: Logs, chain: Chain, chain_site: FederatedSite
) -> None:
    serial = chain.holders.serials[0]
    response = Client(chain_site).get(f"/01/{PLANT_GTIN}/21/{serial}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    farm = logs.farm_data.trust.origin
    assert _steps(html) == [
        (farm, "upstream", "true"),
        (PLANT, "here", "true"),
        (DC, "downstream", "true"),
        (SHOP, "downstream", "true"),
    ]
    assert "Processing plant" in html and "Distributor" in html  # roles in words
    dc_part, shop_part = _downstream(html)
    received, shipped, _ = chain.holders.dc.indexes
    assert (dc_part["data-referrer-log"], dc_part["data-referrer-index"]) == (DC, str(received))
    assert dc_part["data-log-origin"] == PLANT  # the entry it names is the plant's
    assert dc_part["data-api-base"] == "/logs/plant/api/v1"
    assert dc_part["data-referrer-api-base"] == "/logs/dc/api/v1"
    assert (shop_part["data-referrer-log"], shop_part["data-log-origin"]) == (SHOP, DC)
    assert shop_part["data-referrer-api-base"] == "/logs/shop/api/v1"
    assert all(p["data-verified"] == "true" for p in (dc_part, shop_part))
    ref = load_json_object(shop_part["data-ref"].replace("&#34;", '"').encode(), "ref")
    assert (ref["index"], ref["subject"]) == (shipped, pack_of(serial))
    assert f"ColdChain DC&#39;s log (dc.example/log), entry {received}, cosigned by 1 of 1" in html
    shop_received = chain.holders.shop.indexes[0]
    assert f"Corner Shop&#39;s log (shop.example/log), entry {shop_received}, cosigned" in html
    start = html.index('id="downstream"')
    section = html[start : html.index("</section>", start)]
    dc_rows = re.findall(r'<tr class="entry event-([a-z]+)" data-entry="(\d+)"', section)
    assert dc_rows == [("received", str(received)), ("shipped", str(shipped)),
                       ("received", str(shop_received))]  # fmt: skip
    assert f'href="/logs/dc/api/v1/entries/{shipped}/proof"' in section


def test_a_forged_downstream_reference_shows_not_verified_and_ends_the_walk(
    chain: Chain, chain_site: FederatedSite
) -> None:
    client = Client(chain_site)
    html = client.get(f"/01/{PLANT_GTIN}/21/{chain.holders.forged_serial}").get_data(as_text=True)
    dc_part, shop_part = _downstream(html)
    assert dc_part["data-verified"] == "true"
    assert (shop_part["data-verified"], shop_part["data-reason"]) == ("false", "ref_entry_mismatch")
    assert "NOT verified: Corner Shop names an entry of ColdChain DC&#39;s log" in html
    assert 'id="recall-upstream"' in html  # the distributor's recall of the pack
    assert "in ColdChain DC&#39;s log: Cold chain broken at the DC" in html
    assert _steps(html)[-1] == (SHOP, "downstream", "false")
    section = html[html.index('id="xlog-down-2"') :]
    assert "event-received" not in section  # the shop's own story is not shown as verified
    metrics = client.get("/metrics").get_data(as_text=True)
    assert re.search(
        rf'site_crosslog_refs_total\{{log="{DC}",result="ref_entry_mismatch"\}} 1', metrics
    )


def _cache(client: Client) -> dict[str, float]:
    metrics = client.get("/metrics").get_data(as_text=True)
    found = re.findall(r'site_crosslog_ref_cache_total\{result="([a-z]+)"\} ([0-9.]+)', metrics)
    return {result: float(count) for result, count in found}


def test_reference_checks_are_cached_per_replica_head_yet_a_rollback_shows_at_once(
    logs: Logs, chain: Chain, chain_site: FederatedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(chain_site)
    page = f"/01/{PLANT_GTIN}/21/{chain.holders.serials[0]}"
    assert client.get(page).status_code == 200
    first = _cache(client)
    assert first == {"hit": 0.0, "miss": 3.0}  # the farm's, the distributor's, the shop's
    read: list[str] = []  # the later logs' reference indexes are not built again either
    for data in (chain.dc, chain.shop):
        original = data.store.event_indexes
        monkeypatch.setattr(data.store, "event_indexes", lambda o=original: read.append("!") or o())
    html = client.get(page).get_data(as_text=True)
    assert _cache(client) == {"hit": 3.0, "miss": 3.0}
    assert read == []
    assert [p["data-verified"] for p in _parts(html)] == ["true", "true", "true"]
    ref = logs.plant.refs[logs.good]  # cached as verified, but the farm now shows less
    logs.farm_data.sources = (
        SourceStatus("http://farm.invalid", "behind", tree_size=ref.size - 1),
    )
    html = client.get(page).get_data(as_text=True)
    assert [p["data-reason"] for p in _parts(html)] == ["ref_rolled_back", "", ""]


def test_the_downstream_walk_stops_at_its_limit_and_says_so(
    chain: Chain, chain_site: FederatedSite
) -> None:
    link = DigitalLink(PLANT_GTIN, serial=chain.holders.serials[0])
    pack = chain_site.federation.logs[PLANT].site.lifecycle.pack(link)
    assert pack is not None
    subject = pack_subject(link)
    parts, cut = walk_downstream(chain_site.federation, PLANT, pack.timeline, subject, limit=1)
    assert [p.referrer_log for p in parts] == [DC] and cut
    parts, cut = walk_downstream(chain_site.federation, PLANT, pack.timeline, subject, limit=64)
    assert [p.referrer_log for p in parts] == [DC, SHOP] and not cut


def test_a_gtin13_link_at_the_root_redirects_to_the_root_gtin14_address(
    chain: Chain, chain_site: FederatedSite
) -> None:
    serial = chain.holders.serials[0]
    response = Client(chain_site).get(f"/01/{PLANT_GTIN[1:]}/21/{serial}?lk=0a0b0c0d")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/01/{PLANT_GTIN}/21/{serial}?lk=0a0b0c0d"


def test_roles_are_words_in_the_readers_language(chain_site: FederatedSite) -> None:
    client = Client(chain_site)
    html = client.get("/").get_data(as_text=True)
    roles = re.findall(r'<td class="role">([^<]+)</td>', html)
    assert roles == ["Farm", "Processing plant", "Distributor", "Shop"]
    html = client.get("/?lang=zh-CN").get_data(as_text=True)
    roles = re.findall(r'<td class="role">([^<]+)</td>', html)
    assert roles == ["养殖场", "加工厂", "经销商", "商店"]
