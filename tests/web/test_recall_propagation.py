"""A recall of a barn, a bird, a carcass or a lot reaches the consumer pages of what it concerns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from trace_farm import TraceFarm, build_trace_farm
from web_site import StaticSiteData

from chain.store import Store
from consumer_web import create_app
from gateway.datadir import DataDir

REASONS = ("Salmonella found in barn", "drug residue", "bone fragments", "label error")
REASONS += ("foreign body",)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> TraceFarm:
    return build_trace_farm(DataDir(tmp_path_factory.mktemp("recalls") / "farm"))


@pytest.fixture(scope="module")
def rclient(farm: TraceFarm) -> Iterator[FlaskClient]:
    with Store.open(farm.data_dir.log) as store:
        data = StaticSiteData(store, farm.manifest.trust)
        app = create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})
        yield app.test_client()


def _banner(client: FlaskClient, path: str) -> str | None:
    """The recall banner of the page at ``path``, or None; it must come before the title."""
    with client.get(path) as response:
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
    main = html[html.index("<main>") :]
    if 'id="recall"' not in main:
        return None
    assert main.index('id="recall"') < main.index("<h1>"), path
    return main[main.index('id="recall"') : main.index("</section>")]


def test_each_pack_warns_exactly_when_a_recall_concerns_it(
    rclient: FlaskClient, farm: TraceFarm
) -> None:
    m = farm.manifest
    assert farm.affected and farm.unaffected  # both kinds are on the shelf
    for pack in m.packs:
        banner = _banner(rclient, pack.link.path)
        assert (banner is not None) == (pack.subject in farm.affected), pack.subject
        if pack.bird in farm.barn_birds:
            assert banner is not None and f"barn:{farm.recall_barn}" in banner
            assert "Salmonella found in barn" in banner
            assert "Signed by Riverside Processing Plant." in banner
        if banner is not None and pack.bird not in farm.barn_birds:
            assert "old scare" not in banner  # a barn recall before the bird was there
        if pack.bird == farm.recalled_bird:
            assert banner is not None and "drug residue" in banner
        if pack.bird == farm.carcass_bird:
            assert banner is not None and "bone fragments" in banner
        if banner is not None:  # no recall of another pack leaks in
            assert not any(
                p.recalled and p.subject in banner for p in m.packs if p.subject != pack.subject
            )
    lot = m.lots[0]
    banner = _banner(rclient, lot.link.path)
    assert banner is not None and "label error" in banner
    barn_lot_birds = set(lot.birds) & farm.barn_birds
    assert ("Salmonella found in barn" in banner) == bool(barn_lot_birds)


def test_bird_pages_warn_for_their_recalls(rclient: FlaskClient, farm: TraceFarm) -> None:
    m = farm.manifest
    packed = {p.bird: p for p in m.packs}
    lot_birds = set(m.lots[0].birds)
    for bird in m.birds:
        banner = _banner(rclient, f"/bird/{bird}")
        expected = bird in farm.barn_birds or bird in lot_birds or bird == farm.cut_bird
        expected |= bird in packed and packed[bird].subject in farm.affected
        assert (banner is not None) == expected, bird
        if bird in farm.barn_birds:
            assert banner is not None and "Salmonella found in barn" in banner
        body = rclient.get(f"/api/v1/birds/{bird}/lifecycle").get_json()
        assert body["recalled"] is expected, bird


def test_pages_without_a_recall_stay_calm(rclient: FlaskClient, farm: TraceFarm) -> None:
    calm = sorted(farm.unaffected)
    assert calm
    pack = next(p for p in farm.manifest.packs if p.subject == calm[0])
    html = rclient.get(pack.link.path).get_data(as_text=True)
    assert 'id="recall"' not in html
    assert not any(reason in html for reason in REASONS)


def test_a_recall_of_one_cut_stays_with_its_pack(rclient: FlaskClient, farm: TraceFarm) -> None:
    recalled, sibling = farm.cut_packs
    banner = _banner(rclient, recalled.path)
    assert banner is not None and "foreign body" in banner
    assert _banner(rclient, sibling.path) is None  # the same bird's other cut
    banner = _banner(rclient, f"/bird/{farm.cut_bird}")  # the bird's story tells of both
    assert banner is not None and "foreign body" in banner
