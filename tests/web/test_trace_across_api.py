"""``GET /api/v1/trace`` on a federated site: trace and recall across five followed logs.

The logs are tests/supply_chain_logs.py's (two farms, a plant, a distributor,
a shop; real stores), served as site data; references are checked by the
site's :class:`consumer_web._federation.Federation`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from supply_chain_logs import (
    FARM_A,
    FARM_B,
    FORGED,
    GTIN,
    LOT,
    PLANT,
    SHOP,
    SupplyChain,
    build_supply_chain,
)
from web_site import StaticSiteData
from werkzeug.test import Client

from chain.store import Store
from chain.trust import TrustRoot
from consumer_web import FederatedSite, FederationSettings, create_federated_site
from readapi.crosslog import load_pins


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SupplyChain:
    return build_supply_chain(tmp_path_factory.mktemp("federated-trace"))


@pytest.fixture
def client(built: SupplyChain) -> Iterator[Client]:
    with ExitStack() as stack:
        data = {}
        for origin, data_dir in built.dirs.items():
            store = stack.enter_context(Store.open(data_dir.log))
            data[origin] = StaticSiteData(store, TrustRoot.from_json(data_dir.trust.read_text()))
        settings = FederationSettings(warm_cache=False, sync_in_background=False)
        site: FederatedSite = create_federated_site(
            load_pins(built.pins_file), None, settings, site_data=data
        )
        stack.callback(site.close)
        yield Client(site)


def _get(client: Client, **query: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/api/v1/trace", query_string=query)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_data(as_text=True))


def test_a_lot_recalled_at_the_plant_reaches_the_shop(built: SupplyChain, client: Client) -> None:
    status, body = _get(client, subject=f"https://id.example/01/{GTIN}/10/L1")
    assert status == 200, body
    assert body["start"] == LOT
    assert [(r["log"], r["index"]) for r in body["recalls"]] == [(PLANT, built.at["recall"])]
    shop = [(d["log"], d["event"]) for d in body["downstream"] if d["log"] == SHOP]
    assert shop == [(SHOP, "received")]
    assert body["birds"] == [f"{FARM_A}|bird:0001", f"{FARM_B}|bird:0001"]
    assert body["references"] and all(c["status"] is None for c in body["references"])


def test_a_farm_barn_downstream_flags_the_forged_reference(
    built: SupplyChain, client: Client
) -> None:
    status, body = _get(client, subject="barn:b1", log=FARM_A, **{"from": "2026-05-28"})
    assert status == 200, body
    failing = [(c["log"], c["index"], c["status"]) for c in body["references"] if c["status"]]
    assert failing == [(PLANT, built.at["slaughter_f9"], "ref_entry_mismatch")]
    flagged = [d for d in body["downstream"] if d["flags"]]
    assert {d["index"] for d in flagged} == {built.at["slaughter_f9"]}
    assert {d["subject"] for d in body["downstream"] if d["log"] == SHOP} == {
        LOT,
        f"pack:{GTIN}.S1",
    }
    _status, forged = _get(client, subject=FORGED)
    assert {d["log"] for d in forged["upstream"]} == {PLANT}


def test_bad_queries_are_400_and_an_unknown_start_404(client: Client) -> None:
    assert _get(client, subject="cow:1")[0] == 400
    status, body = _get(client, subject="bird:0001")
    assert status == 400 and "the log of the bird" in body["error"]
    assert _get(client, subject="bird:0001", log="nowhere.example/log")[0] == 400
    assert _get(client, subject="barn:b1", log=FARM_A, **{"from": "yesterday"})[0] == 400
    status, body = _get(client, subject="bird:0042", log=FARM_B)
    assert status == 404 and body["reason"] == "unknown_trace"
