"""Compressed responses: pages and static files, for browsers that accept them, files closed."""

from __future__ import annotations

import gc
import gzip

from conftest import StoryLog
from flask.testing import FlaskClient

GZIP = {"Accept-Encoding": "gzip"}


def test_a_pack_page_and_its_files_are_compressed_for_a_browser_that_accepts_it(
    client: FlaskClient, story: StoryLog
) -> None:
    pack = story.manifest.packs[0]
    for path in (f"/01/{pack.gtin}/21/{pack.serial}", "/static/site.css", "/static/verify.js"):
        with client.get(path) as plain, client.get(path, headers=GZIP) as packed:
            assert plain.status_code == packed.status_code == 200, path
            assert "Content-Encoding" not in plain.headers, path
            assert packed.headers["Content-Encoding"] == "gzip", path
            assert "Accept-Encoding" in packed.headers["Vary"], path
            assert gzip.decompress(packed.get_data()) == plain.get_data(), path
            assert len(packed.get_data()) < len(plain.get_data()) / 2, path
    gc.collect()  # an unclosed static file would warn here (filterwarnings=error)


def test_a_conditional_request_for_a_static_file_still_gets_304(client: FlaskClient) -> None:
    with client.get("/static/site.css", headers=GZIP) as first:
        etag = first.headers["ETag"]
    with client.get("/static/site.css", headers={**GZIP, "If-None-Match": etag}) as again:
        assert again.status_code == 304
