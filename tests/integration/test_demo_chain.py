"""``farmtrace demo --chain``, for real: six parties' logs, two witnesses over all, one site."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mqtt_broker import free_port

from chain.audit import audit_store
from chain.checkpoint import open_checkpoint
from chain.entries import parse_entry
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from demo._parties import PARTIES

ROOT = Path(__file__).resolve().parents[2]
UP_WITHIN_S = 150.0  # measured ~30 s for 3 days on an idle 2-core machine; busy CI is slower


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
        return body


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)


def test_six_party_demo_comes_up_witnessed_followed_and_stitched(tmp_path: Path) -> None:
    data, log = tmp_path / "chain", tmp_path / "demo.log"
    gateways = [free_port() for _ in PARTIES]
    mqtt = [free_port(), free_port()]
    web, coop, retailer = free_port(), free_port(), free_port()
    started = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "farmtrace", "demo", "--chain", "--data-dir", str(data),
                "--days", "3", "--web-port", str(web),
                "--gateway-ports", ",".join(map(str, gateways)),
                "--mqtt-ports", ",".join(map(str, mqtt)),
                "--witness-ports", f"{coop},{retailer}",
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    try:
        _wait_for(log, "Ctrl-C stops everything", proc, UP_WITHIN_S)
        up_s = time.monotonic() - started
        text = log.read_text()
        pack = re.search(r"a pack on the shelf: (\S+)", text)
        assert pack is not None, text
        assert pack[1] == f"http://127.0.0.1:{web}/01/09506000134352/21/A0001"

        # Every log is its own: its own origin and key, cosigned by both witnesses.
        for party, port in zip(PARTIES, gateways, strict=True):
            api = f"http://127.0.0.1:{port}"
            assert f"{api}/checkpoint" in text
            info = json.loads(_get(f"{api}/api/v1/log"))
            assert info["origin"] == party.origin
            policy = WitnessPolicy.from_json(
                (data / "logs" / party.slug / "witnesses.json").read_text()
            )
            served = _get(f"{api}/checkpoint").decode()
            open_checkpoint(served, info["vkey"])
            assert set(policy.check(served)) == {w.name for w in policy.witnesses}
            assert len(policy.witnesses) == 2
        for port in (coop, retailer):
            status = json.loads(_get(f"http://127.0.0.1:{port}/"))
            assert {s["origin"] for s in status["logs"]} == {p.origin for p in PARTIES}

        # One site follows all six, each log under /logs/<slug>/.
        assert "following 6 logs" in (data / "site.log").read_text()
        for party in PARTIES:
            mounted = json.loads(_get(f"http://127.0.0.1:{web}/logs/{party.slug}/api/v1/log"))
            assert mounted["origin"] == party.origin

        # The pack page resolves to the plant and stitches the farm's part, checked.
        page = _get(pack[1]).decode()
        assert "Riverside Processing Plant" in page and "Green Valley Farm" in page
        assert re.search(r'class="xlog-part verified"[^>]*\s+data-log-origin="farm-a\.', page)
        # Its summary tells where the bird was raised, from the farm's and hatchery's logs.
        farm = re.search(r'<dd id="fact-farm"[^>]*>Green Valley Farm, barn b\d.*?</dd>', page)
        assert farm is not None and "from Green Valley Farm&#39;s log" in farm[0], page
        assert re.search(r'<dd id="fact-welfare">\d+% of hours within', page)
        assert re.search(r'<dd id="fact-hatchery">Sunrise Hatchery, hatched', page)
        # The farm's placed names eight hatchings; the page follows only its bird's.
        hatchery_parts = re.findall(
            r'class="xlog-part verified"[^>]*\s+data-log-origin="hatch', page
        )
        assert len(hatchery_parts) == 1, page
        # ... and downstream, the distributor's and the shop's receipts, each checked.
        for slug in ("distributor", "shop"):
            step = rf'class="xlog-step downstream verified" data-origin="{slug}\.'
            assert re.search(step, page), slug
        recalled = _get(f"http://127.0.0.1:{web}/01/09506000134352/21/A0005").decode()
        assert "RECALLED" in recalled
        # Both farms have a bird:0001; the plant tells them apart by log.
        other = _get(f"http://127.0.0.1:{web}/01/09506000134352/21/B0001").decode()
        assert re.search(r'class="xlog-part verified"[^>]*\s+data-log-origin="farm-b\.', other)
        assert "Hillside Farm" in other
        print(f"six-party demo up in {up_s:.1f} s")

        # The auditors' CLI follows the plant's references into the farms' logs.
        plant = data / "logs" / "plant"
        audit = _farmtrace(
            "audit", "--url", f"http://127.0.0.1:{gateways[3]}", "--trust",
            str(plant / "trust.json"), "--witnesses", str(plant / "witnesses.json"),
            "--pins", str(data / "pins.json"), "--no-progress",
        )  # fmt: skip
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(90)
    assert code == 0, log.read_text()
    assert "demo stopped cleanly" in log.read_text()

    # Each log audits clean on its own; the plant slaughtered both farms' bird:0001.
    slaughtered: list[str] = []
    for party in PARTIES:
        directory = data / "logs" / party.slug
        trust = TrustRoot.from_json((directory / "trust.json").read_text())
        with Store.open(directory / "log") as store:
            report = audit_store(store, trust)
            assert report.ok, (party.slug, report.to_text())
            if party.slug == "plant":
                for i in range(store.entry_count):
                    entry = parse_entry(store.entry(i))
                    if entry.type == "event" and entry.payload["event"] == "slaughtered":
                        slaughtered += [r["log"] for r in entry.payload["refs"]
                                        if r["subject"] == "bird:0001"]  # fmt: skip
    assert sorted(slaughtered) == sorted(p.origin for p in PARTIES if p.is_farm)

    # A pack traces across the logs, offline: up to the farm, down to the shop.
    logs = [arg for p in PARTIES for arg in ("--data-dir", str(data / "logs" / p.slug))]
    trace = _farmtrace(
        "trace", "--pins", str(data / "pins.json"), *logs,
        "--pack", "09506000134352/A0001", "--no-feed",
    )  # fmt: skip
    assert trace.returncode == 0, trace.stdout + trace.stderr
    for name in (
        "Green Valley Farm: entry",
        "Sunrise Hatchery: entry",
        "FreshMart Store 12: entry",
    ):
        assert name in trace.stdout, trace.stdout


def _farmtrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
