"""The site's EPCIS API: the same documents as the export, as JSON-LD, with JSON errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import StoryLog
from epcis_reference import schema_errors
from flask import Flask
from flask.testing import FlaskClient
from web_site import StaticSiteData

from chain.epcis import export_bird, export_pack
from chain.store import Store
from consumer_web import create_app
from consumer_web._epcis_api import MEDIA_TYPE


def _with_epcis(app: Flask) -> FlaskClient:
    assert "epcis" in app.blueprints, "create_app registers the EPCIS API"
    return app.test_client()


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return _with_epcis(app)


def _document(api: FlaskClient, path: str) -> dict[str, Any]:
    """The document at ``path`` (the export tests validate the same documents in full)."""
    response = api.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == MEDIA_TYPE == "application/ld+json"
    document: dict[str, Any] = response.get_json(force=True)
    return document


def _same_but_created(served: dict[str, Any], exported: dict[str, Any]) -> None:
    served, exported = dict(served), dict(exported)
    served.pop("creationDate")
    exported.pop("creationDate")
    assert served == exported


def test_bird_pack_and_lot_documents_are_the_exports(api: FlaskClient, story: StoryLog) -> None:
    m = story.manifest
    base = "http://localhost"
    bird = m.packs[0].bird
    served = _document(api, f"/api/v1/epcis/birds/{bird}")
    assert schema_errors(served) == []
    _same_but_created(served, export_bird(story.store, bird, base_url=base, created_ms=0))
    for link in (m.packs[-1].link, m.lots[0].link):
        served = _document(api, f"/api/v1/epcis{link.path}")
        _same_but_created(served, export_pack(story.store, link, base_url=base, created_ms=0))


def test_identifiers_use_the_public_url_and_the_gtin_14(app: Flask, story: StoryLog) -> None:
    app.config["PUBLIC_URL"] = "https://trace.example.com/"
    api = _with_epcis(app)
    pack = story.manifest.packs[0]
    short = pack.gtin.lstrip("0")  # a GTIN-13 in the path names the same pack
    document = _document(api, f"/api/v1/epcis/01/{short}/21/{pack.serial}")
    parents = [e["parentID"] for e in document["epcisBody"]["eventList"] if "parentID" in e]
    assert parents == [f"https://trace.example.com/01/{pack.gtin}/21/{pack.serial}"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/v1/epcis/birds/9999", 404, "bird '9999': not in the log"),
        ("/api/v1/epcis/birds/bad!id", 400, "bird id: expected an id"),
        ("/api/v1/epcis/01/09506000134353/21/S0001", 400, "wrong check digit"),
        ("/api/v1/epcis/01/095060/21/S0001", 400, "GTIN: expected 8, 12, 13 or 14"),
        ("/api/v1/epcis/01/09506000134352/21/" + "S" * 21, 400, "serial: expected 1 to 20"),
        ("/api/v1/epcis/01/09506000134352/21/NOPE", 404, "never packed"),
        ("/api/v1/epcis/01/09506000134352/10/NOPE", 404, "lot /01/09506000134352/10/NOPE"),
        ("/api/v1/epcis/01/09506000134352/22/S0001", 404, "not found"),
        ("/api/v1/epcis/birds", 404, "not found"),
    ],
)
def test_errors_are_json(api: FlaskClient, path: str, status: int, message: str) -> None:
    response = api.get(path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert message in response.get_json()["error"]


def test_identifiers_never_follow_the_host_header(app: Flask, story: StoryLog) -> None:
    app.config["PUBLIC_URL"] = "https://trace.example.com"
    api = _with_epcis(app)
    pack = story.manifest.packs[0]
    for path in (f"/api/v1/epcis/birds/{pack.bird}", f"/api/v1/epcis{pack.link.path}"):
        honest = _document(api, path)
        for host in ("evil.example", "a_b", "trace.example.com:81"):
            forged = api.get(path, headers={"Host": host})
            assert forged.status_code == 200, host
            document = forged.get_json(force=True)
            _same_but_created(document, honest)
        assert b"evil.example" not in api.get(path, headers={"Host": "evil.example"}).data


def test_without_public_url_identifiers_use_the_fixed_default(app: Flask, story: StoryLog) -> None:
    app.config["PUBLIC_URL"] = None
    bird = story.manifest.packs[0].bird
    response = _with_epcis(app).get(f"/api/v1/epcis/birds/{bird}", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert b"evil.example" not in response.data
    expected = export_bird(story.store, bird, base_url="http://localhost", created_ms=0)
    _same_but_created(response.get_json(force=True), expected)


def test_event_ids_do_not_depend_on_the_origin(story: StoryLog) -> None:
    bird = story.manifest.packs[0].bird
    ids = []
    for base in ("https://trace.example.com", "http://127.0.0.1:8000"):
        document = export_bird(story.store, bird, base_url=base, created_ms=0)
        ids.append([event["eventID"] for event in document["epcisBody"]["eventList"]])
    assert ids[0] == ids[1] and len(set(ids[0])) == len(ids[0]) > 3


def test_identifiers_need_a_sound_public_url(app: Flask, story: StoryLog) -> None:
    bird = story.manifest.birds[0]
    app.config["PUBLIC_URL"] = "trace.example.com"  # the operator forgot the scheme
    response = _with_epcis(app).get(f"/api/v1/epcis/birds/{bird}")
    assert response.status_code == 500
    assert "identifiers: base URL: expected" in response.get_json()["error"]


def test_wrong_method_is_a_json_405(api: FlaskClient, story: StoryLog) -> None:
    response = api.post(f"/api/v1/epcis/birds/{story.manifest.birds[0]}")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert "GET" in response.headers["Allow"]


def test_before_the_first_checkpoint_nothing_is_exported(tmp_path: Path, story: StoryLog) -> None:
    with Store.open(tmp_path / "empty", origin=story.manifest.origin) as empty:
        data = StaticSiteData(empty, story.manifest.trust)
        app = create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})
        response = _with_epcis(app).get(f"/api/v1/epcis/birds/{story.manifest.birds[0]}")
        assert response.status_code == 404
        assert response.get_json() == {"error": "the log has no checkpoint yet"}
        app.extensions["farmtrace_site"].close()
