"""``farmtrace site run --pins`` as a real process, following two read APIs over HTTP.

The farm's log (a cosigned copy of the story farm's) and a plant's log that
names the farm's birds by reference (tests/web/federation_logs.py) are each
served by the read API on a port of their own; the site process follows
both into its own replicas (verifying every block, signature and witness
quorum), and its resolver's pack page shows the farm's part verified.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import StoryLog
from federation_logs import (
    PLANT,
    PLANT_GTIN,
    WITNESS_VKEY,
    PlantLog,
    build_plant_log,
    cosigned_copy,
    pins_document,
    write_policy,
)
from server_thread import ServerThread
from werkzeug.serving import make_server

from chain.store import Store
from chain.trust import TrustRoot
from readapi import LogInfo
from readapi import create_app as create_read_api_app

_WAIT_S = 90.0


class Served:
    """The checkpoint a read API serves: the store's latest, or an older one (a rollback)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.size: int | None = None

    def __call__(self) -> tuple[int, str] | None:
        if self.size is None:
            return self.store.latest_checkpoint()
        return self.size, self.store.checkpoint(self.size)


def _serve(store: Store, trust: TrustRoot, served: Served | None = None) -> ServerThread:
    witnesses = (WITNESS_VKEY,)
    info = LogInfo(trust.origin, trust.log_key, witnesses, store, trust.admins, served)
    return ServerThread(make_server("127.0.0.1", 0, create_read_api_app(info), threaded=True))


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


@dataclass
class Site:
    url: str
    plant: PlantLog
    good: str
    forged: str
    farm_served: Served

    def pack(self, bird: str) -> str:
        return f"{self.url}/01/{PLANT_GTIN}/21/{self.plant.serials[bird]}"


@pytest.fixture
def site(story: StoryLog, tmp_path: Path) -> Iterator[Site]:
    farm = cosigned_copy(story.store, tmp_path / "farm")
    recalled = next(p.bird for p in story.manifest.packs if p.recalled)
    good = next(b for b in story.manifest.birds if b != recalled)
    forged = next(b for b in story.manifest.birds if b not in (good, recalled))
    plant = build_plant_log(
        tmp_path / "plant",
        farm,
        [good, forged, recalled],
        forged_bird=forged,
        recalled_bird=recalled,
    )
    (tmp_path / "farm-trust.json").write_text(story.manifest.trust.to_json())
    (tmp_path / "plant-trust.json").write_text(plant.trust.to_json())
    farm_served = Served(farm)
    servers = [_serve(farm, story.manifest.trust, farm_served), _serve(plant.store, plant.trust)]
    pins = tmp_path / "pins.json"
    document = pins_document(
        tmp_path / "farm-trust.json",
        tmp_path / "plant-trust.json",
        write_policy(tmp_path / "witnesses.json"),
        farm_url=f"http://127.0.0.1:{servers[0].port}",
        plant_url=f"http://127.0.0.1:{servers[1].port}",
    )
    pins.write_text(json.dumps(document))
    command = [sys.executable, "-m", "farmtrace", "site", "run", "--pins", str(pins)]
    command += ["--site-dir", str(tmp_path / "site"), "--port", "0", "--sync-interval", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + _WAIT_S
        while not lines and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines, f"the site did not start (exit code {process.poll()})"
        found = re.search(r"site running: (http://\S+)/", lines[0])
        assert found is not None, lines[0]
        yield Site(found[1], plant, good, forged, farm_served)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        reader.join(5)
        for server in servers:
            server.stop()
        plant.store.close()
        farm.close()
        assert process.returncode == 0, err


def _await(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _both_followed(url: str) -> bool:
    status, html = _get(f"{url}/")
    assert status == 200
    sizes = re.findall(r'class="followed-log" data-origin="[^"]+" data-slug="[^"]+" '
                       r'data-size="(\d*)"', html)  # fmt: skip
    return len(sizes) == 2 and all(sizes)


def test_site_run_with_pins_stitches_a_pack_page_across_two_live_logs(site: Site) -> None:
    _await("both replicas to catch up", lambda: _both_followed(site.url))
    status, html = _get(site.pack(site.good))
    assert status == 200, html
    part = re.search(r'<article class="xlog-part verified"[^>]*data-verified="true"', html)
    assert part is not None, html
    assert "cosigned by 1 of 1 witnesses" in html
    status, html = _get(site.pack(site.forged))
    assert 'data-reason="ref_entry_mismatch"' in html
    status, log = _get(f"{site.url}/logs/plant/api/v1/log")
    assert json.loads(log)["origin"] == PLANT
    status, metrics = _get(f"{site.url}/metrics")
    assert 'result="verified"' in metrics and 'result="ref_entry_mismatch"' in metrics

    # The farm rolls its log back to before the tree the plant's reference saw.
    site.farm_served.size = site.plant.refs[site.good].size - 1
    _await(
        "the page to show the rollback",
        lambda: 'data-reason="ref_rolled_back"' in _get(site.pack(site.good))[1],
    )
    html = _get(site.pack(site.good))[1]
    assert "log no longer shows this" in html
    assert 'class="xlog-part verified"' not in html
