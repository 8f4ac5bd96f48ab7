"""Hostile text in the log and in URLs is shown as text, never run; unverified entries stay out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hostile_log import (
    GAP,
    GTIN,
    HOSTILE,
    LAST_SPIKE,
    SERIAL,
    START,
    HostileLog,
    build_hostile_log,
)
from story_reference import FOREVER, Reference
from web_site import StaticSiteData

from consumer_web import create_app


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileLog]:
    log = build_hostile_log(tmp_path_factory.mktemp("hostile") / "log")
    yield log
    log.store.close()


@pytest.fixture
def hostile_app(hostile: HostileLog) -> Flask:
    data = StaticSiteData(hostile.store, hostile.trust, witnesses=(hostile.witness,))
    return create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})


@pytest.fixture
def hclient(hostile_app: Flask) -> FlaskClient:
    return hostile_app.test_client()


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def assert_inert(html: str) -> None:
    """Nothing in ``html`` runs or loads but our own script and QR images."""
    page = _parse(html)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    ours = ("/static/verify.js", "/static/badge.js")
    assert all(attrs.get("src") in ours for attrs in scripts)
    assert not [tag for tag, _ in page.tags if tag in ("iframe", "style", "object", "embed")]
    assert not [a for _, a in page.tags if any(k.startswith("on") or k == "style" for k in a)]
    images = [a.get("src") for tag, a in page.tags if tag == "img"]
    assert all(src and src.startswith("/qr/") for src in images)
    links = [a.get("href") or "" for tag, a in page.tags if tag == "a"]
    assert not [href for href in links if href.lower().startswith(("javascript:", "data:"))]
    assert "<script>alert" not in html and "<iframe" not in html and "<img src=x" not in html


PAGES = ["/bird/x1", f"/01/{GTIN}/21/{SERIAL}", f"/label/01/{GTIN}/21/{SERIAL}"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_hostile_fields_are_text_not_markup(hclient: FlaskClient, path: str, lang: str) -> None:
    response = hclient.get(f"{path}?lang={lang}")
    assert response.status_code == 200
    assert_inert(response.get_data(as_text=True))


def test_the_bird_page_shows_the_hostile_text_verbatim(hclient: FlaskClient) -> None:
    page = _parse(hclient.get("/bird/x1").get_data(as_text=True))
    text = "".join(page.text)
    for name in ("breed", "hatchery", "vet_name", "note", "plant", "reason"):
        assert HOSTILE[name] in text, name


@pytest.mark.parametrize(
    "path",
    [
        "/bird/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/bird/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/01/%3Cscript%3E/21/x",
        f"/01/{GTIN}/21/%3Cscript%3E",
        "/batch/%3Cscript%3E",
        "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/qr/%3Cb%3E/21/x.svg",
        "/bird/\u9e21\u2028%27%22",
    ],
)
def test_hostile_urls_get_friendly_escaped_404s(hclient: FlaskClient, path: str) -> None:
    response = hclient.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert_inert(html)
    assert "Traceback" not in html
    assert 'id="error"' in html or 'id="search-message"' in html


def test_entries_after_the_checkpoint_are_not_shown(
    hclient: FlaskClient, hostile: HostileLog
) -> None:
    body = hclient.get("/api/v1/birds/x1/lifecycle").get_json()
    assert hostile.shipped_index not in {row["index"] for row in body["timeline"]}
    assert "shipped" not in {row["event"] for row in body["timeline"]}
    assert body["checkpoint"]["entry_count"] == hostile.shipped_index
    assert body["checkpoint"]["size"] == hostile.store.size - 1


def test_cosigned_checkpoint_and_seq_gap(hclient: FlaskClient, hostile: HostileLog) -> None:
    body = hclient.get("/api/v1/birds/x1/lifecycle").get_json()
    assert body["verification"]["witnesses"] == ["witness.example/w1"]
    assert body["verification"]["other_signatures"] == 0
    temp = next(c for c in body["completeness"] if c["dev"] == "b1-temp")
    assert temp["gaps"] == [list(GAP)]
    assert temp["missing"] == GAP[1] - GAP[0] + 1
    assert temp["missing"] == len(
        Reference(hostile.store).missing_seqs(
            "b1-temp", set(range(temp["first_seq"], temp["last_seq"] + 1))
        )
    )
    html = hclient.get("/bird/x1").get_data(as_text=True)
    assert f"{GAP[0]}\u2013{GAP[1]}" in html
    assert "cosigned by 1 witnesses" in html


def test_an_excursion_that_outlasts_the_stay_ends_with_it(
    hclient: FlaskClient, hostile: HostileLog
) -> None:
    body = hclient.get("/api/v1/birds/x1/lifecycle").get_json()
    stay = body["stays"][0]
    last = max(body["excursions"], key=lambda e: e["start_ms"])
    assert LAST_SPIKE[0] <= last["start_ms"] < stay["end_ms"]
    assert last["end_ms"] == stay["end_ms"]
    reference = Reference(hostile.store)
    want = reference.excursions(
        "barn:b1",
        "temperature",
        [(stay["start_ms"], stay["end_ms"] or FOREVER)],
        START - 86_400_000,
    )
    got = [
        (e["dev"], e["direction"], e["start_ms"], e["end_ms"], e["duration_ms"])
        for e in body["excursions"]
        if e["kind"] == "temperature"
    ]
    assert got == [w[:5] for w in want]
    assert len(got) == 2


def test_recalled_pack_warns_first(hclient: FlaskClient) -> None:
    for path in ("/bird/x1", f"/01/{GTIN}/21/{SERIAL}"):
        html = hclient.get(path).get_data(as_text=True)
        main = html[html.index("<main>") :]
        assert re.search(r'<section class="alert recall" id="recall" role="alert">', main)
        assert main.index('id="recall"') < main.index("<h1>")
        assert "RECALLED" in main and "salmonella" in main
