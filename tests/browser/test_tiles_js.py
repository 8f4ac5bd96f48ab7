"""verify/tiles.js in a real Chromium: entry proofs built from C2SP tlog-tiles files.

A log of 270 blocks (a full level-0 tile and a partial one) is published by
the tiles publisher and served as static files next to the read API. The
proof bundle tiles.js builds must equal the read API's, the page's verifier
(``data-tiles-base``) must pass without asking the API for any proof, and a
tampered tile must fail the block inclusion check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import pytest
from browser_harness import ConsoleWatch, serve
from browser_site import verify_app
from flask import Response, send_from_directory
from playwright.sync_api import Page, Route

from chain.entries import device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.tiles import TILE_WIDTH, tile_path
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import LogInfo
from readapi.client import ReadApiClient
from tiles import TilePublisher

_BLOCKS = TILE_WIDTH + 14


_START_MS = 1_767_225_600_000


@dataclass
class TileSite:
    url: str
    store: Store
    tiles: Path


def _build_log(root: Path) -> tuple[TrustRoot, Store]:
    """A registered sensor's readings, two a block, in :data:`_BLOCKS` blocks."""
    data_dir = DataDir(root)
    admin = SignerKey.generate("admin", seed=bytes(32))
    trust = init_data_dir(data_dir, "tiles.example/log", [admin], _START_MS - 1000)
    store = Store.open(data_dir.log)
    writer = LogWriter(store, read_log_signer(data_dir))
    sensor = SignerKey.generate("d1", seed=bytes([1]) * 32)
    register = device_payload(
        "register",
        "d1",
        2,
        _START_MS - 500,
        pubkey=sensor.public_key,
        kinds=["temperature"],
        subjects=["barn:b1"],
    )
    blocks = [[parse_entry(sign_entry(register, "admin", admin.seed))]]
    for seq in range(1, 2 * _BLOCKS - 3, 2):
        blocks.append(
            [
                parse_entry(
                    sign_entry(
                        reading_payload(
                            "d1", s, _START_MS + s * 60_000, "temperature", "barn:b1", 21.5, "Cel"
                        ),
                        "d1",
                        sensor.seed,
                    )
                )
                for s in (seq, seq + 1)
            ]
        )
    for entries in blocks:
        writer.commit_block(entries, _START_MS)
        writer.sign_checkpoint()
    return trust, store


@pytest.fixture(scope="module")
def tile_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TileSite]:
    root = tmp_path_factory.mktemp("tiles-browser")
    trust, store = _build_log(root / "log")
    app = verify_app(LogInfo(trust.origin, trust.log_key, (), store, trust.admins))
    tiles = root / "tiles"

    def tile_file(name: str) -> Response:
        return send_from_directory(tiles, name, max_age=0)

    app.add_url_rule("/tiles/<path:name>", endpoint="tiles", view_func=tile_file)
    try:
        with serve(app) as url:
            TilePublisher(tiles, trust, ReadApiClient(url)).publish_once()
            yield TileSite(url, store, tiles)
    finally:
        store.close()


def test_proofs_built_from_tiles_equal_the_read_apis(page: Page, tile_site: TileSite) -> None:
    page.goto(f"{tile_site.url}/page")
    count = tile_site.store.entry_count
    for index in (0, 1, TILE_WIDTH * 2 + 3, count - 1):
        built = page.evaluate(
            """async (index) => {
                const t = await import("/static/verify/tiles.js");
                return t.entryProof(t.tileReader("/tiles"), index);
            }""",
            index,
        )
        with urlopen(f"{tile_site.url}/api/v1/entries/{index}/proof") as response:
            served = json.load(response)
        assert built == served, index


def test_the_page_verifies_from_tiles_without_asking_for_proofs(
    page: Page, console: ConsoleWatch, tile_site: TileSite
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    index = tile_site.store.entry_count - 2
    page.goto(f"{tile_site.url}/page?entry={index}")
    page.eval_on_selector("#verify-result", "panel => { panel.dataset.tilesBase = '/tiles'; }")
    page.click(f'[data-entry="{index}"]')
    page.wait_for_selector('#verify-result:is([data-state="ok"], [data-state="fail"])')
    result = page.locator("#verify-result")
    assert result.get_attribute("data-state") == "ok", result.inner_text()
    assert any("/tiles/tile/0/" in url for url in asked)
    assert any("/tiles/block/" in url for url in asked)
    assert not any("/proof" in url for url in asked), asked
    assert console.messages == []


def test_a_tampered_tile_fails_the_block_inclusion(page: Page, tile_site: TileSite) -> None:
    def tamper(route: Route) -> None:
        body = bytearray((tile_site.tiles / tile_path(0, 0)).read_bytes())
        body[0] ^= 1  # leaf 0's hash: the audit path of every other leaf of the tile uses it
        route.fulfill(status=200, body=bytes(body), content_type="application/octet-stream")

    page.route(f"{tile_site.url}/tiles/{tile_path(0, 0)}", tamper)
    index = 5  # in block 2 or 3: its audit path holds block 0's leaf hash
    page.goto(f"{tile_site.url}/page?entry={index}")
    page.eval_on_selector("#verify-result", "panel => { panel.dataset.tilesBase = '/tiles'; }")
    page.click(f'[data-entry="{index}"]')
    page.wait_for_selector('#verify-result:is([data-state="ok"], [data-state="fail"])')
    result = page.locator("#verify-result")
    assert result.get_attribute("data-state") == "fail"
    # The sensor's registration (block 1) is proven through the same tile: the
    # signer, and so the signature, cannot be checked either.
    failed = set((result.get_attribute("data-failed") or "").split())
    assert failed == {"block-inclusion", "signer", "entry-signature"}


def test_proofs_the_tiles_do_not_cover_yet_come_from_the_site(
    page: Page, tile_site: TileSite
) -> None:
    # The publisher runs behind the site: an entry (or a tree) newer than the
    # published checkpoint is asked of the site's API, verified the same way.
    page.goto(f"{tile_site.url}/page")
    count = tile_site.store.entry_count
    published = (tile_site.store.latest_checkpoint() or (0, ""))[0]
    found = page.evaluate(
        """async ([count, published]) => {
            const t = await import("/static/verify/tiles.js");
            const asked = [];
            const site = { get: async (path) => { asked.push(path); return { path }; } };
            const api = t.tileApi("/tiles", site);
            const newer = await api.get(`/entries/${count}/proof`);
            const larger = await api.get(`/entries/0/proof?tree_size=${published + 1}`);
            const covered = await api.get(`/entries/${count - 1}/proof`);
            return { newer, larger, covered: covered.index, asked };
        }""",
        [count, published],
    )
    assert found == {
        "newer": {"path": f"/entries/{count}/proof"},
        "larger": {"path": f"/entries/0/proof?tree_size={published + 1}"},
        "covered": count - 1,
        "asked": [f"/entries/{count}/proof", f"/entries/0/proof?tree_size={published + 1}"],
    }
