"""The site in production shape: its own replica in SITE_DIR, synced from a real HTTP read API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import StoryLog
from werkzeug.serving import BaseWSGIServer, make_server

from chain.errors import StorageError
from consumer_web import SiteConfig, create_app
from readapi import LogInfo
from readapi import create_app as create_read_api_app


@pytest.fixture
def gateway(story: StoryLog) -> Iterator[BaseWSGIServer]:
    """The story log's read API on a free loopback port, as a gateway serves it."""
    trust = story.manifest.trust
    source = LogInfo(trust.origin, trust.log_key, (), story.store, admins=trust.admins)
    server = make_server("127.0.0.1", 0, create_read_api_app(source), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def _site_dir(tmp_path: Path, story: StoryLog) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "trust.json").write_text(story.manifest.trust.to_json())
    return site


def test_the_site_serves_what_its_replica_verified(
    tmp_path: Path, story: StoryLog, gateway: BaseWSGIServer
) -> None:
    url = f"http://127.0.0.1:{gateway.server_port}"
    config = SiteConfig(
        site_dir=_site_dir(tmp_path, story), sources=(url,), sync_in_background=False
    )
    app = create_app(config)
    site = app.extensions["farmtrace_site"]
    try:
        client = app.test_client()
        assert client.get("/bird/0001").status_code == 404  # nothing synced yet
        assert "has not received any part of the log" in client.get("/").get_data(as_text=True)
        status = site.data.sync_once()
        assert status.tree_size == story.store.size
        pack = story.manifest.packs[0]
        page = client.get(pack.link.path)
        assert page.status_code == 200 and f"/bird/{pack.bird}" in page.get_data(as_text=True)
        mine = client.get("/api/v1/birds/0001/lifecycle").get_json()
        assert mine["checkpoint"]["entry_count"] == story.store.entry_count
        log = client.get("/api/v1/log").get_json()
        assert log["origin"] == story.manifest.origin and log["admins"]
        assert (
            client.get("/checkpoint").get_data(as_text=True) == story.store.latest_checkpoint()[1]
        )
        metrics = client.get("/metrics").get_data(as_text=True)
        assert "replica_tree_size" in metrics and "site_requests_total" in metrics
        gateway.shutdown()
        site.data.sync_once()
        html = client.get("/bird/0001").get_data(as_text=True)
        assert 'id="as-of"' in html  # the source is down: say how fresh the data is
        assert client.get("/bird/0001").status_code == 200  # and keep serving
    finally:
        site.close()


def test_a_site_without_a_trust_root_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="trust"):
        create_app({"SITE_DIR": tmp_path, "SYNC_IN_BACKGROUND": False})
    with pytest.raises(ValueError, match="SITE_DIR"):
        create_app({})
