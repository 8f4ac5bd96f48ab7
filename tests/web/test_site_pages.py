"""The consumer site's pages: routes, status codes, security headers, languages, notices."""

from __future__ import annotations

import re

import pytest
from conftest import StoryLog
from flask import Flask
from flask.testing import FlaskClient
from web_site import StaticSiteData

from consumer_web import CSP, create_app
from consumer_web._i18n import translate
from consumer_web._replica_state import Conflict, SourceStatus


def _pages(story: StoryLog) -> list[str]:
    m = story.manifest
    return [
        "/",
        "/search?q=nothing-here",
        f"/bird/{m.birds[0]}",
        m.packs[0].link.path,
        m.lots[0].link.path,
        f"/label{m.packs[0].link.path}",
        f"/batch/{story.store.block(1).hash}",
        "/bird/no-such-bird",
        "/no/such/page",
        "/01/09506000134353/21/S0001",
    ]


def test_every_page_has_the_strict_security_headers(client: FlaskClient, story: StoryLog) -> None:
    for path in [*_pages(story), "/static/site.css", "/api/v1/log", "/metrics", "/checkpoint"]:
        with client.get(path) as response:
            headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert csp == CSP, path
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ):
            assert directive in csp.split("; "), directive
        assert "unsafe" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_have_no_inline_script_or_style(client: FlaskClient, story: StoryLog) -> None:
    for path in _pages(story):
        html = client.get(path).get_data(as_text=True)
        assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) == [], path
        assert "<style" not in html and " style=" not in html, path
        assert re.search(r"\son[a-z]+=", html) is None, path
        assert "http://" not in html.replace("http://localhost/", ""), path  # no third party


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/bird/0001", 200),
        ("/bird/9999", 404),
        ("/bird/-x", 404),
        ("/batch/" + "0" * 64, 404),
        ("/batch/xyz", 404),
        ("/no/such/page", 404),
        ("/01/09506000134352/21/NOPE", 404),
        ("/01/09506000134352/10/NOPE", 404),
        ("/01/09506000134353/21/S0001", 404),  # wrong check digit
        ("/01/0950600013435/21/S0001", 404),  # 13 digits: not a valid GTIN-13 either
        ("/01/09506000134352/21/" + "x" * 21, 404),  # serial too long
        ("/01/09506000134352/22/S0001", 404),  # not a key we resolve
        ("/label/01/09506000134352/21/NOPE", 404),
        ("/qr/09506000134352/21/S0001.gif", 404),
        ("/qr/09506000134352/99/S0001.svg", 404),
    ],
)
def test_status_codes(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    if status == 404:
        assert response.mimetype == "text/html"
        assert 'id="error"' in response.get_data(as_text=True)


def test_a_wrong_check_digit_is_named(client: FlaskClient) -> None:
    html = client.get("/01/09506000134353/21/S0001").get_data(as_text=True)
    assert "check digit of GTIN 09506000134353 is wrong" in html
    html = client.get("/01/09506000134353/21/S0001", headers={"Accept-Language": "zh"}).get_data(
        as_text=True
    )
    assert "校验位错误" in html and 'lang="zh-CN"' in html


def test_wrong_method_is_a_friendly_405(client: FlaskClient) -> None:
    response = client.post("/bird/0001")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert 'id="error"' in response.get_data(as_text=True)
    api = client.post("/api/v1/birds/0001/lifecycle")
    assert api.status_code == 405 and api.mimetype == "application/json"


def test_a_crash_is_a_500_page_without_a_trace(site_data: StaticSiteData) -> None:
    app = create_app(
        {"SITE_DATA": site_data, "WARM_CACHE": False}
    )  # not TESTING: errors are handled, not raised

    def broken() -> str:
        raise RuntimeError("secret detail")

    app.add_url_rule("/broken", view_func=broken)
    app.add_url_rule("/api/v1/broken", "api_broken", view_func=broken)
    response = app.test_client().get("/broken")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "secret detail" not in html and "Traceback" not in html
    assert "The site failed to answer" in html
    assert response.headers["Content-Security-Policy"] == CSP
    api = app.test_client().get("/api/v1/broken")
    assert api.status_code == 500 and api.mimetype == "application/json"
    assert "secret" not in api.get_data(as_text=True)


def test_gs1_links_resolve_to_the_bird_or_the_lot(client: FlaskClient, story: StoryLog) -> None:
    m = story.manifest
    pack = m.packs[0]
    html = client.get(pack.link.path).get_data(as_text=True)
    assert f"Pack {pack.serial}" in html
    assert f'href="/bird/{pack.bird}"' in html
    assert 'class="pack scanned"' in html
    assert 'id="recall"' not in html
    lot = m.lots[0]
    html = client.get(lot.link.path).get_data(as_text=True)
    assert f"Lot {lot.lot}" in html
    for bird in lot.birds:
        assert f'href="/bird/{bird}"' in html


def test_a_short_gtin_redirects_to_the_gtin_14_link(client: FlaskClient, story: StoryLog) -> None:
    pack = story.manifest.packs[0]
    short = pack.link.path.replace(f"/01/{pack.gtin}/", f"/01/{pack.gtin[1:]}/")
    response = client.get(short)
    assert response.status_code == 301
    assert response.headers["Location"] == pack.link.path


def test_the_recalled_pack_is_flagged(client: FlaskClient, story: StoryLog) -> None:
    recalled = next(p for p in story.manifest.packs if p.recalled)
    html = client.get(recalled.link.path).get_data(as_text=True)
    assert 'id="recall"' in html and "RECALLED" in html and "cold chain break" in html


@pytest.mark.parametrize(
    ("headers", "lang"),
    [
        ({}, "en"),
        ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-CN"),
        ({"Accept-Language": "zh-TW"}, "zh-CN"),
        ({"Accept-Language": "en-GB,en;q=0.9"}, "en"),
        ({"Accept-Language": "fr-FR, de;q=0.5"}, "en"),
        ({"Accept-Language": "fr, zh;q=0.4"}, "zh-CN"),
    ],
)
def test_language_from_accept_language(client: FlaskClient, headers: dict, lang: str) -> None:
    response = client.get("/bird/0001", headers=headers)
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert translate(lang, "Vet checks") in html
    assert "Accept-Language" in response.headers["Vary"]


def test_language_switch_sets_a_cookie_that_sticks(client: FlaskClient) -> None:
    html = client.get("/bird/0001").get_data(as_text=True)
    assert 'href="/bird/0001?lang=zh-CN"' in html  # the switch, on every page
    response = client.get("/bird/0001?lang=zh-CN", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in response.get_data(as_text=True)
    assert "lang=zh-CN" in response.headers["Set-Cookie"]
    later = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in later.get_data(as_text=True)
    assert "搜索" in later.get_data(as_text=True) or "追溯" in later.get_data(as_text=True)
    client.get("/?lang=en")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    ignored = client.get("/?lang=xx-evil")
    assert '<html lang="en">' in ignored.get_data(as_text=True)
    assert "Set-Cookie" not in ignored.headers


def test_the_verify_panel_follows_the_dom_contract(client: FlaskClient, story: StoryLog) -> None:
    for lang in ("en", "zh-CN"):
        html = client.get(f"/bird/0001?lang={lang}").get_data(as_text=True)
        # badge.js loads verify.js on the first tap (docs/consumer-site.md, "The pack page")
        assert '<script type="module" src="/static/badge.js"></script>' in html
        panel = re.search(r'<section id="verify-result"[^>]*>', html)
        assert panel is not None
        for name in ("working", "ok", "fail", "unsupported"):
            match = re.search(rf'data-msg-{name}="([^"]*)"', panel.group(0))
            assert match, name
            assert "{entry}" in match.group(1) or name == "unsupported"
        assert 'data-check-entry-signature="' in panel.group(0)
        entries = {int(i) for i in re.findall(r'data-entry="(\d+)"', html)}
        assert len(entries) >= 15
        assert max(entries) < story.store.entry_count
        for index in sorted(entries)[:3]:
            assert f'href="/api/v1/entries/{index}/proof"' in html
    assert client.get("/api/v1/entries/5/proof").status_code == 200


def test_search_finds_birds_packs_and_batches(client: FlaskClient, story: StoryLog) -> None:
    m = story.manifest
    pack, block = m.packs[0], story.store.block(2)
    cases = {
        m.birds[0]: f"/bird/{m.birds[0]}",
        f"bird:{m.birds[1]}": f"/bird/{m.birds[1]}",
        pack.serial: pack.link.path,
        f"  {pack.serial} ": pack.link.path,
        f"https://shop.example{pack.link.path}": pack.link.path,
        f"(01){pack.gtin}(21){pack.serial}": pack.link.path,
        f"{pack.gtin} {pack.serial}": pack.link.path,
        m.lots[0].lot: m.lots[0].link.path,
        block.hash: f"/batch/{block.hash}",
        block.hash.upper(): f"/batch/{block.hash}",
    }
    for query, target in cases.items():
        response = client.get("/search", query_string={"q": query})
        assert response.status_code == 303, query
        assert response.headers["Location"] == target, query
    missing = client.get("/search?q=nothing-here")
    assert missing.status_code == 404 and "nothing-here" in missing.get_data(as_text=True)
    assert client.get("/search?q=").status_code == 200


def test_the_batch_page(client: FlaskClient, story: StoryLog) -> None:
    block = story.store.block(3)
    html = client.get(f"/batch/{block.hash}").get_data(as_text=True)
    assert f'<dd id="entry-count">{block.count}</dd>' in html
    assert f"Included in checkpoint {story.store.size}" in html
    assert f'href="/api/v1/batches/{block.hash}"' in html
    assert f'data-entry="{block.first_index}"' in html
    assert f'href="/batch/{block.prev}"' in html
    assert client.get(f"/batch/{block.hash.upper()}").status_code == 301


def test_sources_down_shows_as_of(app: Flask, site_data: StaticSiteData) -> None:
    client = app.test_client()
    assert 'id="as-of"' not in client.get("/").get_data(as_text=True)
    site_data.sources = (SourceStatus("http://gw", "unreachable", 5, 4, "refused", 5, 9),)
    site_data.as_of_ms = 1_767_300_000_000
    html = client.get("/bird/0001").get_data(as_text=True)
    assert 'id="as-of"' in html and "2026-01-01 20:40 UTC" in html
    site_data.sources += (SourceStatus("http://gw2", "ok", 5, 5, None, None, 9),)
    assert 'id="as-of"' not in client.get("/").get_data(as_text=True)


def test_a_conflict_is_shown_prominently(app: Flask, site_data: StaticSiteData) -> None:
    site_data.conflicts = (
        Conflict("http://evil.example", None, "x", "fork", "another root", 1_767_300_000_000),
    )
    for path in ("/", "/bird/0001", "/no/such/page"):
        html = app.test_client().get(path, headers={"Accept-Language": "zh"}).get_data(as_text=True)
        assert 'id="conflict"' in html and "http://evil.example" in html and "fork" in html
        assert html.index('id="conflict"') < html.index("<main>")


def test_metrics(client: FlaskClient) -> None:
    client.get("/bird/0001")
    client.get("/bird/nope")
    client.get("/01/09506000134353/21/x")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'site_requests_total{page="pages.bird",status="200"} 1.0' in text
    assert 'site_not_found_total{reason="unknown_bird"} 1.0' in text
    assert 'site_not_found_total{reason="bad_link"} 1.0' in text
    assert "site_story_seconds_count 2.0" in text  # both looked for a story
    assert re.search(r"site_cache_readings \d+", text)


def test_the_icon_is_served(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").get_data(as_text=True)
