"""The trace page (/trace): the form, results in both languages, errors, escaping, CSP."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hostile_log import GTIN, HOSTILE, SCRIPT, SERIAL, HostileLog, build_hostile_log
from markupsafe import escape
from web_site import StaticSiteData

from chain.trace import trace
from consumer_web import CSP, create_app
from consumer_web._i18n import translate, translate_word

if TYPE_CHECKING:  # the fixture's type; importing conftest at run time is fragile
    from conftest import StoryLog


def _app(data: StaticSiteData) -> Flask:
    app = create_app({"TESTING": True, "SITE_DATA": data, "WARM_CACHE": False})
    return app


@pytest.fixture
def tclient(site_data: StaticSiteData) -> FlaskClient:
    return _app(site_data).test_client()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileLog]:
    log = build_hostile_log(tmp_path_factory.mktemp("hostile-trace") / "log")
    yield log
    log.store.close()


def _get(client: FlaskClient, **args: str) -> tuple[int, str]:
    with client.get("/trace?" + urlencode(args)) as response:
        assert response.headers["Content-Security-Policy"] == CSP
        return response.status_code, response.get_data(as_text=True)


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _no_inline_code(html: str) -> None:
    """No inline script or style, no event handler, nothing but our own markup."""
    for tag, attrs in _Tags(html).tags:
        assert tag not in ("style", "img", "iframe", "b"), tag
        assert tag != "script" or attrs.get("src") == "/static/verify.js"
        assert not any(name.startswith("on") or name == "style" for name in attrs), (tag, attrs)


def test_the_form_alone(tclient: FlaskClient) -> None:
    status, html = _get(tclient)
    assert status == 200
    assert 'id="trace-form"' in html and 'id="trace-result"' not in html
    assert translate("en", "Trace and recall") in html
    _no_inline_code(html)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_lot_in_both_languages(tclient: FlaskClient, story: StoryLog, lang: str) -> None:
    lot = story.manifest.lots[0]
    status, html = _get(tclient, subject=lot.subject, lang=lang)
    assert status == 200
    for text in (
        translate(lang, "Downstream: where it went"),
        translate(lang, "Upstream: where it came from"),
        translate_word(lang, "relation", "shipment"),
        translate_word(lang, "relation", "packing"),
    ):
        assert text in html, text
    assert f'<html lang="{lang}">' in html
    for bird in lot.birds:
        assert f'<a href="/bird/{bird}">' in html
    result = trace(story.store, lot.subject)
    for item in (*result.downstream, *result.upstream):
        assert f'data-entry="{item.index}"' in html
        assert f'href="/api/v1/entries/{item.index}/proof"' in html
    assert 'id="recall"' not in html and 'id="no-recall"' in html
    assert '<script type="module" src="/static/verify.js">' in html
    _no_inline_code(html)


def test_a_recalled_pack_warns_and_a_link_resolves(tclient: FlaskClient, story: StoryLog) -> None:
    pack = next(p for p in story.manifest.packs if p.recalled)
    status, by_subject = _get(tclient, subject=pack.subject)
    assert status == 200
    main = by_subject[by_subject.index("<main>") :]
    assert main.index('id="recall"') < main.index("<h1>")
    assert "cold chain break" in main and "Riverside Processing Plant" in main
    status, by_link = _get(tclient, subject=f"https://shop.example{pack.link.path}")
    assert status == 200 and 'id="recall"' in by_link
    assert _get(tclient, subject=pack.link.path)[0] == 200


def test_a_barn_window(tclient: FlaskClient, story: StoryLog) -> None:
    m = story.manifest
    status, html = _get(tclient, subject=f"barn:{m.barns[0]}", **{"from": "2026-01-02", "to": ""})
    assert status == 200
    assert "2026-01-02 00:00 UTC" in html and translate("en", "now") in html
    birds = trace(story.store, f"barn:{m.barns[0]}", window=(1_767_312_000_000, 2**62)).birds
    assert birds and all(f'href="/bird/{b}"' in html for b in birds)
    assert translate_word("en", "relation", "bird") in html


_BAD_SUBJECT = "“{subject}” is not a lot, pack, bird or barn that can be traced."
_BAD_TIME = "“{value}” is not a date or time (write 2026-01-01 or 2026-01-01T06:00)."
_BAD_WINDOW = "The time window must start before it ends."
_NOTHING = "The log (up to its latest checkpoint) says nothing about “{subject}”."


@pytest.mark.parametrize(
    ("args", "status", "key", "values"),
    [
        ({"subject": "carcass:0001"}, 400, _BAD_SUBJECT, {"subject": "carcass:0001"}),
        ({"subject": "/01/09506000134353/21/S1"}, 400, _BAD_SUBJECT, None),
        ({"subject": "barn:b1", "from": "soon"}, 400, _BAD_TIME, {"value": "soon"}),
        (
            {"subject": "barn:b1", "from": "2026-01-03", "to": "2026-01-02"},
            400,
            _BAD_WINDOW,
            {},
        ),
        ({"subject": "bird:nobody"}, 404, _NOTHING, {"subject": "bird:nobody"}),
        ({"subject": "lot:09506000134352.NOPE"}, 404, _NOTHING, None),
    ],
)
def test_bad_or_unknown_starts(
    tclient: FlaskClient,
    args: dict[str, str],
    status: int,
    key: str,
    values: dict[str, str] | None,
) -> None:
    values = {"subject": args["subject"]} if values is None else values
    for lang in ("en", "zh-CN"):
        got, html = _get(tclient, lang=lang, **args)
        assert got == status
        message = escape(translate(lang, key, **values))
        assert f'<p class="message" id="trace-message">{message}</p>' in html
        assert 'id="trace-result"' not in html
        _no_inline_code(html)


def test_hostile_queries_are_text(tclient: FlaskClient) -> None:
    for args in (
        {"subject": SCRIPT},
        {"subject": 'barn:b1"><img src=x onerror=alert(1)>'},
        {"subject": "barn:b1", "from": SCRIPT, "to": '"><b>x</b>'},
    ):
        status, html = _get(tclient, **args)
        assert status == 400
        assert "<script>alert" not in html and "<img" not in html and "<b>x" not in html
        assert "&lt;script&gt;" in html or "&lt;img" in html
        _no_inline_code(html)


def test_hostile_log_text_is_escaped_and_unverified_entries_stay_out(
    hostile: HostileLog,
) -> None:
    data = StaticSiteData(hostile.store, hostile.trust, witnesses=(hostile.witness,))
    client = _app(data).test_client()
    for lang in ("en", "zh-CN"):
        status, html = _get(client, subject=f"pack:{GTIN}.{SERIAL}", lang=lang)
        assert status == 200
        assert "<script>" not in html.replace('<script type="module" src="/static/verify.js">', "")
        for text in (HOSTILE["reason"], HOSTILE["plant"], HOSTILE["note"], HOSTILE["hatchery"]):
            assert text not in html
        assert "&lt;script&gt;document.location" in html  # the recall's reason, as text
        assert "&lt;iframe" in html and "&lt;/td&gt;&lt;/tr&gt;" in html
        assert f'data-entry="{hostile.shipped_index}"' not in html  # after the checkpoint
        assert 'id="recall"' in html
        _no_inline_code(html)
