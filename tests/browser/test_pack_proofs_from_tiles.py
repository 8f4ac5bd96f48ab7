"""A pack's page verifies from a tlog-tiles origin when the site has TILES_URL (issue 13).

A story farm's log (two of three witnesses cosigned its checkpoint) is served
by consumer_web with TILES_URL naming a real nginx (tests/nginx_static.py,
another origin) that serves what the tiles publisher copied from the site's
read API. In a real Chromium, under the site's own Content-Security-Policy,
the badge must verify with every proof read (checkpoint, hash tiles, entry
bundles, block files) going to nginx and the site's API answering only what
tiles do not hold (the log's keys, the signers' registrations); a tampered
hash tile must turn the badge red without sending the reads to the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_harness import ConsoleWatch
from nginx_static import NGINX, StaticNginx
from playwright.sync_api import Page, Route
from witnessed_site import Site, two_of_three, witness_keys, witnessed_site

from demo.story_farm import StoryFarm
from readapi.client import ReadApiClient
from tiles import TilePublisher

KEYS = witness_keys(23)
FARM = StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=2, move_every=0)
_DONE = '#badge:is([data-state="ok"], [data-state="fail"], [data-state="unsupported"])'
_ONLY_IN_THE_API = re.compile(r"/api/v1/(log|signers/[^/]+)")
"""What the site's API may still be asked while verifying: what tiles do not hold."""


@dataclass
class TiledSite:
    site: Site
    nginx: StaticNginx


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TiledSite]:
    if not Path(NGINX).exists():
        pytest.skip(f"{NGINX} is not installed (apt-get install nginx)")
    root = tmp_path_factory.mktemp("tiled-site")
    (root / "tiles").mkdir()
    nginx = StaticNginx(root / "tiles", root / "nginx").start()
    try:
        cosigners = [(KEYS[0][0], 60), (KEYS[1][0], 60)]
        config = {"TILES_URL": f"{nginx.url}/"}
        with witnessed_site(root, FARM, two_of_three(KEYS), cosigners, config) as site:
            source = ReadApiClient(site.url)
            TilePublisher(root / "tiles", site.manifest.trust, source).publish_once()
            yield TiledSite(site, nginx)
    finally:
        nginx.stop()


def _check_badge(page: Page) -> tuple[str, set[str]]:
    """Tap the badge; its verdict and failed checks."""
    page.locator("#badge > summary").click()
    page.wait_for_selector(_DONE)
    failed = page.get_attribute("#badge", "data-failed") or ""
    return page.get_attribute("#badge", "data-state") or "", set(failed.split())


def _split(asked: list[str], tiled: TiledSite) -> tuple[list[str], list[str]]:
    """The paths ``asked`` of the site, and of nginx."""
    of_site = [urlsplit(u).path for u in asked if u.startswith(f"{tiled.site.url}/")]
    of_tiles = [urlsplit(u).path for u in asked if u.startswith(f"{tiled.nginx.url}/")]
    return of_site, of_tiles


def test_the_badge_verifies_with_the_proofs_read_from_the_tiles_origin(
    page: Page, console: ConsoleWatch, tiled: TiledSite
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    served_before = tiled.nginx.requests
    response = page.goto(tiled.site.pack_url)
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert f"connect-src 'self' {tiled.nginx.url};" in csp
    assert page.get_attribute("#verify-result", "data-tiles-base") == tiled.nginx.url
    state, failed = _check_badge(page)
    assert (state, failed) == ("ok", set()), page.inner_text("#badge")
    of_site, of_tiles = _split(asked, tiled)
    assert "/checkpoint" in of_tiles
    for prefix in ("/tile/0/", "/tile/entries/", "/block/"):
        assert any(path.startswith(prefix) for path in of_tiles), (prefix, of_tiles)
    api = [p for p in of_site if p.startswith("/api/") or p == "/checkpoint"]
    assert api and all(_ONLY_IN_THE_API.fullmatch(p) for p in api), api
    assert tiled.nginx.requests > served_before  # nginx answered them, not a cache
    assert console.messages == []


def test_a_tampered_hash_tile_turns_the_badge_red(page: Page, tiled: TiledSite) -> None:
    def tamper(route: Route) -> None:
        response = route.fetch()
        body = bytearray(response.body())
        for at in range(0, len(body), 32):  # every hash of the tile
            body[at] ^= 1
        route.fulfill(response=response, body=bytes(body))

    page.route(re.compile(re.escape(tiled.nginx.url) + r"/tile/0/"), tamper)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(tiled.site.pack_url)
    state, failed = _check_badge(page)
    assert state == "fail"
    assert "block-inclusion" in failed, failed
    of_site, of_tiles = _split(asked, tiled)
    assert any(path.startswith("/tile/0/") for path in of_tiles)
    api = [p for p in of_site if p.startswith("/api/") or p == "/checkpoint"]
    assert all(_ONLY_IN_THE_API.fullmatch(p) for p in api), api  # no fallback to the API
