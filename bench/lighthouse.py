"""Lighthouse on the pack page: accessibility >= 95, performance >= 90, first screen < 50 KB.

Set-up (once; not part of CI or ``make test``): Node.js and npm (Debian:
``apt-get install nodejs npm``) and Debian's Chromium (``apt-get install
chromium``). The script installs Lighthouse itself, pinned at 12.2.3 (13 needs
Node 22), into ``bench/.lighthouse/`` (git-ignored) with
``npm install --prefix bench/.lighthouse lighthouse@12.2.3``.

What it does: builds a 42-day story farm (a broiler's whole life on the
farm; tests/browser/test_pack_first_screen.py uses a 12-day one), serves
consumer_web over it with the production WSGI server (waitress, as
``farmtrace site run`` does; farm time zone Europe/Amsterdam), and runs
Lighthouse with ``CHROME_PATH=/usr/bin/chromium``, headless, on its default
mobile profile (simulated slow 4G and 4x CPU slowdown), on one single-bird
pack page in English and in Chinese. It prints the scores and the bytes
transferred, and exits 1 if a score is below its threshold or the bytes are
over budget.

"First screen" bytes: everything the browser transfers to load the page,
before any tap (the sum of Lighthouse's ``network-requests``: the document,
the stylesheet, the icon, the badge script; compressed as the site sends
them). The verification modules load on the first tap (static/badge.js): the
"verify modules" column shows what of them loaded with the page (0 is right).

Run: ``.venv/bin/python bench/lighthouse.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import REPO, print_machine

from chain.store import Store
from consumer_web import create_app
from consumer_web._replica_state import ReplicaStatus
from demo.story_farm import StoryFarm, build_story_log
from gateway.datadir import DataDir
from readapi.wsgi_server import WsgiServer

LIGHTHOUSE_VERSION = "12.2.3"
PREFIX = REPO / "bench" / ".lighthouse"
CLI = PREFIX / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME = "/usr/bin/chromium"
THRESHOLDS = {"accessibility": 95, "performance": 90}
FIRST_SCREEN_BUDGET = 50 * 1024
FARM = StoryFarm(days=42, birds=4, shelf_birds=3, lot_birds=1, move_every=0)


class _Data:
    """consumer_web.SiteData over the story log (no witnesses, in sync with nobody)."""

    def __init__(self, store: Store, trust: Any) -> None:
        self.store = store
        self.trust = trust

    def status(self) -> ReplicaStatus:
        size, signed = self.store.latest_checkpoint() or (0, None)
        return ReplicaStatus(size, signed, None, (), ())


def install() -> None:
    """Install the pinned Lighthouse into bench/.lighthouse unless it is there."""
    if CLI.exists():
        return
    command = ["npm", "install", "--prefix", str(PREFIX), f"lighthouse@{LIGHTHOUSE_VERSION}"]
    subprocess.run([*command, "--no-audit", "--no-fund"], check=True)


def lighthouse(url: str, out: Path) -> dict[str, Any]:
    """Run Lighthouse (mobile, headless Chromium) on ``url``; its JSON report."""
    env = dict(os.environ, CHROME_PATH=CHROME)
    flags = "--headless=new --no-sandbox --disable-gpu"
    command = [
        "node", str(CLI), url, "--quiet", "--output=json", f"--output-path={out}",
        "--only-categories=performance,accessibility", f"--chrome-flags={flags}",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env, timeout=300)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def measure(report: dict[str, Any]) -> dict[str, float]:
    """The scores (0-100) and the bytes transferred, first screen and all."""
    categories = report["categories"]
    requests = report["audits"]["network-requests"]["details"]["items"]
    verify = [r for r in requests if "/static/verify" in r["url"]]
    return {
        "accessibility": round(categories["accessibility"]["score"] * 100),
        "performance": round(categories["performance"]["score"] * 100),
        "first_screen_bytes": sum(r["transferSize"] for r in requests),
        "verify_bytes": sum(r["transferSize"] for r in verify),
        "lcp_ms": report["audits"]["largest-contentful-paint"]["numericValue"],
        "cls": report["audits"]["cumulative-layout-shift"]["numericValue"],
    }


def main() -> int:
    """Run, print a Markdown table for bench/RESULTS.md; 1 if a goal is missed."""
    install()
    version = subprocess.run(
        ["node", str(CLI), "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    chromium = subprocess.run(
        [CHROME, "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = DataDir(Path(tmp) / "farm")
        manifest = build_story_log(data_dir, FARM)
        pack = manifest.packs[0]
        with Store.open(data_dir.log) as store:
            config = {
                "SITE_DATA": _Data(store, manifest.trust),
                "WARM_CACHE": False,
                "FARM_TZ": "Europe/Amsterdam",
            }
            app = create_app(config)
            server = WsgiServer(app, "127.0.0.1", 0)
            server.start()
            try:
                results = {}
                for lang in ("en", "zh-CN"):
                    url = f"{server.url}/01/{pack.gtin}/21/{pack.serial}?lang={lang}"
                    app.test_client().get(url.replace(server.url, ""))  # build the story once
                    results[lang] = measure(lighthouse(url, Path(tmp) / f"{lang}.json"))
            finally:
                server.stop(5)
                server.close()
                app.extensions["farmtrace_site"].close()
    missed = []
    print(f"Lighthouse {version}, {chromium}, mobile profile, pack page of a 42-day story farm")
    print("\n| page | accessibility | performance | first screen | verify modules | LCP | CLS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for lang, m in results.items():
        print(
            f"| pack ({lang}) | {m['accessibility']:.0f} | {m['performance']:.0f} "
            f"| {m['first_screen_bytes'] / 1024:.1f} KB | {m['verify_bytes'] / 1024:.1f} KB "
            f"| {m['lcp_ms'] / 1000:.2f} s | {m['cls']:.3f} |"
        )
        for name, low in THRESHOLDS.items():
            if m[name] < low:
                missed.append(f"{lang} {name} {m[name]:.0f} < {low}")
        if m["first_screen_bytes"] > FIRST_SCREEN_BUDGET:
            missed.append(f"{lang} first screen {m['first_screen_bytes']:.0f} B > 50 KB")
    print()
    print_machine()
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("all goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
