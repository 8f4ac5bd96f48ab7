"""Pack pages link to each witness's verifier page with the label's address (lk kept)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import StoryLog
from flask.testing import FlaskClient
from web_site import StaticSiteData

from chain.checkpoint import generate_cosigner_key
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web import create_app

_, COOP = generate_cosigner_key("coop.example/witness", seed=bytes([7]) * 32)
_, NGO = generate_cosigner_key("ngo.example/witness", seed=bytes([8]) * 32)
POLICY = WitnessPolicy(0, (Witness(COOP, "https://w.coop.example/"), Witness(NGO)))
LINK = re.compile(r'<a class="verify-with" data-verify-with="([^"]+)" href="([^"]+)">')


@pytest.fixture
def client(story: StoryLog) -> FlaskClient:
    data = StaticSiteData(story.store, story.manifest.trust, witness_policy=POLICY)
    config = {"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False}
    return create_app(config | {"PUBLIC_URL": "https://trace.example"}).test_client()


def _links(client: FlaskClient, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    return {name: unescape(href) for name, href in LINK.findall(response.get_data(as_text=True))}


def _pack_param(href: str) -> str:
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://w.coop.example/verify"
    (pack,) = parse_qs(parts.query)["pack"]
    return pack


def test_a_witness_with_a_url_is_linked_with_the_labels_address(
    client: FlaskClient, story: StoryLog
) -> None:
    path = story.manifest.packs[0].link.path
    links = _links(client, f"{path}?lk=1a2b3c4d")
    assert set(links) == {"coop.example/witness"}  # the NGO's witness has no url
    assert _pack_param(links["coop.example/witness"]) == f"https://trace.example{path}?lk=1a2b3c4d"


def test_without_a_well_formed_lk_the_address_has_none(
    client: FlaskClient, story: StoryLog
) -> None:
    path = story.manifest.packs[0].link.path
    for query in ("", "?lk=NOTHEX", "?lk=1a2b3c4d5"):
        links = _links(client, path + query)
        assert _pack_param(links["coop.example/witness"]) == f"https://trace.example{path}"


def test_a_page_that_is_no_pack_has_no_verifier_link(client: FlaskClient, story: StoryLog) -> None:
    assert _links(client, f"/bird/{story.manifest.packs[0].bird}") == {}


def test_the_redirect_to_the_gtin_14_form_keeps_the_labels_lk(
    client: FlaskClient, story: StoryLog
) -> None:
    pack = story.manifest.packs[0]
    assert pack.gtin.startswith("0")
    short = f"/01/{pack.gtin[1:]}/21/{pack.serial}"
    response = client.get(f"{short}?lk=1a2b3c4d&utm=x")
    assert response.status_code == 301
    assert response.headers["Location"] == f"{pack.link.path}?lk=1a2b3c4d"
    assert client.get(short).headers["Location"] == pack.link.path
