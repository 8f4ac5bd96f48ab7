"""QR codes: a scanner (Debian's zbarimg) reads the GS1 Digital Link, which leads to the bird."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import StoryLog
from flask.testing import FlaskClient
from web_site import StaticSiteData

from chain import note
from consumer_web import create_app

ZBARIMG = shutil.which("zbarimg") or "/usr/bin/zbarimg"


def _lk(story: StoryLog) -> str:
    """The query a label carries: the log's key ID (chain.gs1.labelled_uri)."""
    return f"?lk={note.parse_verifier_key(story.manifest.trust.log_key).key_id:08x}"


def _scan(png: bytes, tmp_path: Path) -> str:
    if not Path(ZBARIMG).exists():
        pytest.skip("zbarimg is not installed (apt-get install zbar-tools)")
    image = tmp_path / "code.png"
    image.write_bytes(png)
    done = subprocess.run(
        [ZBARIMG, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_the_png_scans_to_the_default_origin_and_leads_to_the_bird(
    client: FlaskClient, story: StoryLog, tmp_path: Path
) -> None:
    pack = story.manifest.packs[0]
    response = client.get(f"/qr/{pack.gtin}/21/{pack.serial}.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    url = _scan(response.data, tmp_path)
    assert url == f"http://localhost{pack.link.path}{_lk(story)}"
    page = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert page.status_code == 200
    assert f'href="/bird/{pack.bird}{_lk(story)}"' in page.get_data(as_text=True)  # pin kept


def test_public_url_is_what_labels_carry(
    site_data: StaticSiteData, story: StoryLog, tmp_path: Path
) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SITE_DATA": site_data,
            "PUBLIC_URL": "https://trace.example/",
            "WARM_CACHE": False,
        }
    )
    client = app.test_client()
    lot = story.manifest.lots[0]
    url = _scan(client.get(f"/qr/{lot.gtin}/10/{lot.lot}.png").data, tmp_path)
    assert url == f"https://trace.example{lot.link.path}{_lk(story)}"
    assert client.get(urlsplit(url).path).status_code == 200
    pack = story.manifest.packs[0]
    label = client.get(f"/label{pack.link.path}").get_data(as_text=True)
    assert f'src="/qr/{pack.gtin}/21/{pack.serial}.svg"' in label
    assert f"https://trace.example{pack.link.path}{_lk(story)}" in label
    assert f"(01)</span> {pack.gtin}" in label and f"(21)</span> {pack.serial}" in label
    assert f"Log key {_lk(story)[4:]}" in label


def test_the_svg_is_a_standalone_svg_image(client: FlaskClient, story: StoryLog) -> None:
    pack = story.manifest.packs[0]
    response = client.get(f"/qr/{pack.gtin}/21/{pack.serial}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<script" not in response.data and b"style=" not in response.data
    assert response.headers["Cache-Control"].startswith("public")


def test_a_qr_for_a_malformed_link_is_refused(client: FlaskClient) -> None:
    assert client.get("/qr/09506000134353/21/S1.png").status_code == 404  # check digit
    assert client.get("/qr/09506000134352/21/bad%20serial.png").status_code == 404
    assert client.get("/qr/09506000134352/21/S1").status_code == 404  # no format


def test_a_forged_host_header_does_not_change_the_code(
    site_data: StaticSiteData, story: StoryLog, tmp_path: Path
) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SITE_DATA": site_data,
            "PUBLIC_URL": "https://trace.example",
            "WARM_CACHE": False,
        }
    )
    client = app.test_client()
    pack = story.manifest.packs[0]
    path = f"/qr/{pack.gtin}/21/{pack.serial}.png"
    honest = client.get(path)
    forged = client.get(path, headers={"Host": "evil.example"})
    assert forged.status_code == 200 and forged.data == honest.data
    assert "Host" not in forged.headers.get("Vary", "")
    assert _scan(forged.data, tmp_path) == f"https://trace.example{pack.link.path}{_lk(story)}"
    label = client.get(f"/label{pack.link.path}", headers={"Host": "evil.example"})
    assert label.status_code == 200 and b"evil.example" not in label.data
    assert f"https://trace.example{pack.link.path}".encode() in label.data


def test_without_public_url_the_code_names_the_default_origin_not_the_host(
    client: FlaskClient, story: StoryLog, tmp_path: Path
) -> None:
    pack = story.manifest.packs[0]
    forged = client.get(f"/qr/{pack.gtin}/21/{pack.serial}.png", headers={"Host": "evil.example"})
    assert forged.status_code == 200
    assert _scan(forged.data, tmp_path) == f"http://localhost{pack.link.path}{_lk(story)}"
