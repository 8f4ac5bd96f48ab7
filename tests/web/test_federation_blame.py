"""The federated site says who is to blame for a part NOT verified (consumer_web._blame).

The farm and the plant of tests/web/federation_logs.py, as site data; the
plant's kept notes are read from the plant's read API over real HTTP (a
copy of its store served by the real read API): one copy that kept the
farm's cosigned checkpoint the references were made at (as the plant's
gateway does when it checks them), one that kept nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import StoryLog
from federation_logs import (
    PLANT,
    PLANT_GTIN,
    WITNESS_VKEY,
    PlantLog,
    build_plant_log,
    cosigned_copy,
    pins_document,
    write_policy,
)
from server_thread import ServerThread
from web_site import StaticSiteData
from werkzeug.serving import make_server
from werkzeug.test import Client

from chain.store import Store
from consumer_web import FederationSettings, create_federated_site
from consumer_web._replica_state import SourceStatus
from readapi import LogInfo, create_app
from readapi.crosslog import load_pins


@dataclass
class Logs:
    farm_data: StaticSiteData
    plant: PlantLog
    plant_data: StaticSiteData
    good: str
    root: Path
    urls: dict[
        str, str
    ]  # the plant's read API: "kept" (the farm's note), "none", "down", "replica"


def _serve(store: Store, plant: PlantLog, *, gateway: bool = True) -> ServerThread:
    """The plant's read API over ``store``: as its gateway serves it, or as a replica does."""
    info = LogInfo(
        PLANT, plant.trust.log_key, (WITNESS_VKEY,), store, keeps_ref_checkpoints=gateway
    )
    return ServerThread(make_server("127.0.0.1", 0, create_app(info), threaded=True))


@pytest.fixture(scope="module")
def logs(story: StoryLog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    root = tmp_path_factory.mktemp("federation-blame")
    farm = cosigned_copy(story.store, root / "farm")
    recalled = next(p.bird for p in story.manifest.packs if p.recalled)
    good, forged = [b for b in story.manifest.birds if b != recalled][:2]
    plant = build_plant_log(root / "plant", farm, [good, forged, recalled], forged_bird=forged,
                            recalled_bird=recalled)  # fmt: skip
    (root / "farm-trust.json").write_text(story.manifest.trust.to_json())
    (root / "plant-trust.json").write_text(plant.trust.to_json())
    write_policy(root / "witnesses.json")
    size = plant.refs[good].size
    copies, servers = [], []
    try:
        for name in ("kept", "none"):
            plant.store.copy_to(root / f"plant-{name}")
            copies.append(Store.open(root / f"plant-{name}"))
            servers.append(_serve(copies[-1], plant))
        copies[0].put_ref_checkpoint(story.manifest.trust.origin, size, farm.checkpoint(size))
        servers.append(_serve(copies[1], plant, gateway=False))  # a replica: keeps no notes
        down = _serve(copies[1], plant)
        down.stop()  # its port now refuses
        urls = {
            "kept": f"http://127.0.0.1:{servers[0].port}",
            "none": f"http://127.0.0.1:{servers[1].port}",
            "down": f"http://127.0.0.1:{down.port}",
            "replica": f"http://127.0.0.1:{servers[2].port}",
        }
        farm_data = StaticSiteData(farm, story.manifest.trust)
        yield Logs(farm_data, plant, StaticSiteData(plant.store, plant.trust), good, root, urls)
    finally:
        for server in servers:
            server.stop()
        for copy in copies:
            copy.close()
        plant.store.close()
        farm.close()


def _page(logs: Logs, plant_source: str, bird: str) -> str:
    """The plant's page of ``bird``'s pack on a site whose pins name ``plant_source``."""
    document = pins_document(
        logs.root / "farm-trust.json",
        logs.root / "plant-trust.json",
        logs.root / "witnesses.json",
        farm_url="http://farm.invalid",
        plant_url=logs.urls[plant_source],
    )
    path = logs.root / f"pins-{plant_source}.json"
    path.write_text(json.dumps(document))
    data = {logs.farm_data.trust.origin: logs.farm_data, PLANT: logs.plant_data}
    settings = FederationSettings(warm_cache=False, sync_in_background=False)
    site = create_federated_site(load_pins(path), None, settings, site_data=data)
    try:
        response = Client(site).get(f"/01/{PLANT_GTIN}/21/{logs.plant.serials[bird]}")
        assert response.status_code == 200
        return response.get_data(as_text=True)
    finally:
        site.close()


def _blame(html: str) -> str:
    (found,) = re.findall(r'<p class="blame" data-blame="([a-z_]+)">', html)
    return found


@pytest.fixture
def farm_rolled_back(logs: Logs) -> Iterator[None]:
    ref = logs.plant.refs[logs.good]
    logs.farm_data.sources = (
        SourceStatus("http://farm.invalid", "behind", tree_size=ref.size - 1),
    )
    yield
    logs.farm_data.sources = ()


@pytest.mark.usefixtures("farm_rolled_back")
def test_a_farm_that_rolled_back_what_the_plant_kept_is_to_blame(logs: Logs) -> None:
    html = _page(logs, "kept", logs.good)
    assert _blame(html) == "referenced_log"
    assert "Who is to blame: Green Valley Farm. Its own witnesses cosigned" in html
    assert "(Riverside Processing kept their signed copy)" in html


@pytest.mark.usefixtures("farm_rolled_back")
def test_a_plant_that_kept_no_cosigned_note_is_to_blame(logs: Logs) -> None:
    html = _page(logs, "none", logs.good)
    assert _blame(html) == "referencing_log"
    assert "Who is to blame: Riverside Processing. It cannot show" in html
    assert "(it kept none)" in html


def test_a_forged_entry_in_a_tree_the_farm_still_shows_is_the_plants(logs: Logs) -> None:
    html = _page(logs, "kept", logs.plant.forged_bird)  # the note is genuine; the hash is not
    assert _blame(html) == "referencing_log"
    assert "misstated the entry" in html


def test_a_plant_that_cannot_be_asked_leaves_the_site_unable_to_tell(logs: Logs) -> None:
    html = _page(logs, "down", logs.plant.forged_bird)
    assert _blame(html) == "undetermined"
    assert "Who is to blame: this site could not tell." in html
    assert 'class="blame"' not in _page(logs, "down", logs.good)  # a part that holds: none


@pytest.mark.usefixtures("farm_rolled_back")
def test_a_replica_of_the_plant_is_no_witness_to_what_the_plant_kept(logs: Logs) -> None:
    # A replica answers that it keeps no notes (501), not that the plant kept
    # none (404): the site cannot tell, rather than blaming the plant.
    html = _page(logs, "replica", logs.good)
    assert _blame(html) == "undetermined"
    farm_hash = hashlib.sha256(logs.farm_data.trust.origin.encode()).hexdigest()
    size = logs.plant.refs[logs.good].size
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(
            f"{logs.urls['replica']}/api/v1/refs/{farm_hash}/checkpoints/{size}", timeout=10
        )
    assert caught.value.code == 501
    caught.value.close()
