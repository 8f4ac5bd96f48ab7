"""The label's log-key pin (``?lk=``) is kept by the site's internal links (issue 14).

A page reached with a well-formed ``lk`` links to birds, packs, lots and
traces with that ``lk`` (re-made from its parsed value); a malformed one is
neither carried nor reflected anywhere in the page.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import StoryLog
from flask.testing import FlaskClient

from chain.gs1 import pack_subject

LK = "1a2b3c4d"
_INTERNAL = ("/bird/", "/01/", "/trace?")


class _Links(HTMLParser):
    """The href of every <a> of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href is not None:
            self.hrefs.append(href)


def _page(client: FlaskClient, url: str) -> str:
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.get_data(as_text=True)


def _internal(html: str) -> list[str]:
    return [h for h in _Links(html).hrefs if h.startswith(_INTERNAL)]


def _lk_of(href: str) -> list[str]:
    return parse_qs(urlsplit(href).query).get("lk", [])


def _pages(story: StoryLog) -> dict[str, str]:
    lot, pack = story.manifest.lots[0], story.manifest.packs[0]
    return {
        "lot": lot.link.path,
        "pack": pack.link.path,
        "bird": f"/bird/{pack.bird}",
        "trace": f"/trace?subject={pack_subject(pack.link)}",
    }


def test_every_internal_link_keeps_a_well_formed_lk(client: FlaskClient, story: StoryLog) -> None:
    wanted = {"lot": "/bird/", "pack": "/01/", "bird": "/01/", "trace": "/bird/"}
    for name, url in _pages(story).items():
        sep = "&" if "?" in url else "?"
        links = _internal(_page(client, f"{url}{sep}lk={LK}"))
        assert any(h.startswith(wanted[name]) for h in links), (name, links)
        assert all(_lk_of(h) == [LK] for h in links), (name, links)


def test_the_lot_pages_bird_links_carry_it(client: FlaskClient, story: StoryLog) -> None:
    lot = story.manifest.lots[0]
    links = _internal(_page(client, f"{lot.link.path}?lk={LK}"))
    assert sorted(h for h in links if h.startswith("/bird/")) == sorted(
        f"/bird/{bird}?lk={LK}" for bird in lot.birds
    )


def test_the_language_switch_keeps_it(client: FlaskClient, story: StoryLog) -> None:
    url = _pages(story)["bird"]
    switch = [h for h in _Links(_page(client, f"{url}?lk={LK}")).hrefs if "lang=" in h]
    assert switch and all(_lk_of(h) == [LK] for h in switch), switch


@pytest.mark.parametrize("bad", ["NOTHEX", "1A2B3C4D", "1a2b3c4d5", '1a2b"><b>x</b>', "%00"])
def test_a_malformed_lk_is_neither_carried_nor_reflected(
    client: FlaskClient, story: StoryLog, bad: str
) -> None:
    for name, url in _pages(story).items():
        sep = "&" if "?" in url else "?"
        html = _page(client, url + sep + "lk=" + bad.replace('"', "%22").replace("<", "%3C"))
        hrefs = _Links(html).hrefs
        assert not [h for h in hrefs if "lk=" in h], (name, hrefs)
        assert bad not in html, name


def test_without_lk_the_links_are_unchanged(client: FlaskClient, story: StoryLog) -> None:
    lot = story.manifest.lots[0]
    links = _internal(_page(client, lot.link.path))
    assert sorted(h for h in links if h.startswith("/bird/")) == sorted(
        f"/bird/{bird}" for bird in lot.birds
    )
