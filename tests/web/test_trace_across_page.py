"""The federated site's trace page (``/trace`` at its root): trace and recall across five logs.

The logs are tests/supply_chain_logs.py's (two farms, a plant, a distributor,
a shop; real stores), served as site data; references are checked by the
site's :class:`consumer_web._federation.Federation`. The page's links are
followed through the same site.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlencode

import pytest
from supply_chain_logs import FARM_A, GTIN, LOT, PLANT, SHOP, SupplyChain, build_supply_chain
from web_site import StaticSiteData
from werkzeug.test import Client

from chain.store import Store
from chain.trust import TrustRoot
from consumer_web import CSP, FederatedSite, FederationSettings, create_federated_site
from consumer_web._i18n import translate
from readapi.crosslog import Pins, load_pins


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SupplyChain:
    return build_supply_chain(tmp_path_factory.mktemp("federated-trace-page"))


@pytest.fixture(scope="module")
def pins(built: SupplyChain) -> Pins:
    return load_pins(built.pins_file)


@pytest.fixture
def client(built: SupplyChain, pins: Pins) -> Iterator[Client]:
    with ExitStack() as stack:
        data = {}
        for origin, data_dir in built.dirs.items():
            store = stack.enter_context(Store.open(data_dir.log))
            data[origin] = StaticSiteData(store, TrustRoot.from_json(data_dir.trust.read_text()))
        settings = FederationSettings(warm_cache=False, sync_in_background=False)
        site: FederatedSite = create_federated_site(pins, None, settings, site_data=data)
        stack.callback(site.close)
        yield Client(site)


def _page(client: Client, lang: str = "en", **query: str) -> tuple[int, str]:
    response = client.get("/trace?" + urlencode(query | {"lang": lang}))
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.mimetype == "text/html"
    return response.status_code, response.get_data(as_text=True)


def _slug(pins: Pins, origin: str) -> str:
    party = pins.party(origin)
    assert party is not None
    return party.slug


def test_a_recalled_lot_lists_the_recall_first_and_links_into_each_log(
    built: SupplyChain, pins: Pins, client: Client
) -> None:
    status, html = _page(client, subject=f"https://id.example/01/{GTIN}/10/L1")
    assert status == 200, html
    assert html.index('id="recall"') < html.index('id="trace-form"') < html.index('id="downstream"')
    assert "label error" in html and "(plant)" in html
    assert 'id="failing-references"' not in html
    shop, farm_a = _slug(pins, SHOP), _slug(pins, FARM_A)
    received = built.at[f"shop_received_{LOT}"]
    row = re.search(
        rf'<tr class="entry [^"]*" data-log="{SHOP}" data-entry="{received}">.*?</tr>', html, re.S
    )
    assert row is not None
    links = re.findall(r'href="([^"]+)"', row[0])
    assert f"/logs/{shop}/api/v1/entries/{received}/proof" in links
    block = next(link for link in links if link.startswith(f"/logs/{shop}/batch/"))
    bird = f"/logs/{farm_a}/bird/0001"
    assert f'href="{bird}"' in html  # in the birds concerned, of farm A
    assert f"/logs/{_slug(pins, PLANT)}/" in html
    for link in (f"/logs/{shop}/api/v1/entries/{received}/proof", block, bird):
        assert client.get(link).status_code == 200, link


def test_a_forged_reference_is_listed_first_with_its_reason_in_words(
    built: SupplyChain, pins: Pins, client: Client
) -> None:
    status, html = _page(
        client, subject="barn:b1", log=_slug(pins, FARM_A), **{"from": "2026-05-28"}
    )
    assert status == 200, html
    failing = html.index('id="failing-references"')
    assert failing < html.index('id="downstream"')
    forged = built.at["slaughter_f9"]
    item = re.search(
        rf'<li class="failing reason-ref_entry_mismatch" data-log="{PLANT}" '
        rf'data-entry="{forged}">.*?</li>',
        html,
        re.S,
    )
    assert item is not None
    words = translate(
        "en",
        "NOT verified: {party}'s log has another entry there. The reference is forged or mistaken.",
        party="farm-a",
    )
    assert words.replace("'", "&#39;") in item[0]
    assert (
        'class="entry relation-' in html
        and f' flagged" data-log="{PLANT}" data-entry="{forged}"' in html
    )
    _status, zh = _page(client, "zh-CN", subject="barn:b1", log=FARM_A)
    assert translate("zh-CN", "Trace and recall across logs") in zh
    assert translate("zh-CN", "Trace and recall across logs") != "Trace and recall across logs"


def test_bad_queries_are_400_an_unknown_start_404_and_both_counted(
    pins: Pins, client: Client
) -> None:
    status, html = _page(client, subject="bird:0001")
    assert status == 400 and 'id="trace-message"' in html and "bird:0001" in html
    assert _page(client, subject="<script>cow:1")[0] == 400
    assert "<script>cow" not in _page(client, subject="<script>cow:1")[1]
    assert _page(client, subject="barn:b1", log=FARM_A, **{"from": "yesterday"})[0] == 400
    status, html = _page(client, subject="bird:0042", log=_slug(pins, FARM_A))
    assert status == 404 and "bird:0042" in html
    assert _page(client)[0] == 200  # the form alone
    assert 'href="/trace"' in client.get("/").get_data(as_text=True)  # from the index of logs
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'site_trace_refused_total{reason="bad_trace_query"} 4.0' in metrics
    assert 'site_trace_refused_total{reason="unknown_trace"} 1.0' in metrics
