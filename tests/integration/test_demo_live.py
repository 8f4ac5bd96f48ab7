"""The README's first command, for real: ``farmtrace demo`` with a broker, a gateway and devices."""

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

ROOT = Path(__file__).resolve().parents[2]


def start_demo(
    data: Path, ports: tuple[int, int, int, int, int, int], log: Path
) -> subprocess.Popen[bytes]:
    mqtt, gateway, web, coop, retailer, desk = ports
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "farmtrace", "demo", "--data-dir", str(data),
                "--mqtt-port", str(mqtt), "--gateway-port", str(gateway), "--web-port", str(web),
                "--witness-ports", f"{coop},{retailer}", "--desk-port", str(desk), "--days", "3",
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)


def _command_lines() -> list[bytes]:
    """Every process's arguments (``/proc/<pid>/cmdline``), as ``ps`` shows them to anyone."""
    lines = []
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                lines.append((proc_dir / "cmdline").read_bytes())
            except OSError:  # the process ended meanwhile
                continue
    assert len(lines) > 5
    return lines


def test_demo_backfills_streams_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    data, log = tmp_path / "demo-data", tmp_path / "demo.log"
    ports = free_port(), free_port(), free_port(), free_port(), free_port(), free_port()
    _, gateway, web, coop, retailer, _ = ports
    proc = start_demo(data, ports, log)
    wait_for(log, "a pack on the shelf: ", proc, 150)
    # The printed pack page is the consumer site's, served from its verified replica.
    pack_url = re.search(r"a pack on the shelf: (\S+)", log.read_text())
    assert pack_url is not None and pack_url[1].startswith(f"http://127.0.0.1:{web}/01/")
    page = urllib.request.urlopen(pack_url[1]).read().decode()
    serial = pack_url[1].rsplit("/", 1)[1]
    assert serial in page and "Riverside Processing Plant" in page
    # No process shows the gateway's broker password in its arguments ('ps' does).
    password = (data / "gateway-mqtt-password").read_text().strip().encode()
    assert (data / "gateway-mqtt-password").stat().st_mode & 0o077 == 0
    assert password and all(password not in line for line in _command_lines())
    api = f"http://127.0.0.1:{gateway}"
    info = json.loads(urllib.request.urlopen(f"{api}/api/v1/log").read())
    assert info["origin"] == "demo.farmtrace.example/log"
    assert urllib.request.urlopen(f"{api}/checkpoint").read().startswith(info["origin"].encode())
    metrics = urllib.request.urlopen(f"{api}/metrics").read().decode()
    online = re.search(r"^farmtrace_devices_online (\S+)$", metrics, re.M)
    assert online is not None and float(online[1]) == 108 + 1 + 6  # devices, admin, operators
    site_log = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/log").read())
    assert site_log["origin"] == info["origin"] and site_log["vkey"] == info["vkey"]
    # Two witnesses, each its own process, cosigned what the site serves; the page names them.
    policy = WitnessPolicy.from_json((data / "gateway" / "witnesses.json").read_text())
    assert [w.url for w in policy.witnesses] == [
        f"http://127.0.0.1:{coop}",
        f"http://127.0.0.1:{retailer}",
    ]
    assert sorted(info["witnesses"]) == sorted(policy.verifier_keys)
    served = urllib.request.urlopen(f"http://127.0.0.1:{web}/checkpoint").read().decode()
    open_checkpoint(served, info["vkey"])
    assert set(policy.check(served)) == {w.name for w in policy.witnesses}
    for witness in policy.witnesses:
        status = json.loads(urllib.request.urlopen(f"{witness.url}/").read())
        assert status["vkey"] == witness.vkey and status["logs"][0]["size"] >= 1
        assert witness.name in page
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0, log.read_text()
    assert "demo stopped cleanly" in log.read_text()

    trust = TrustRoot.from_json((data / "gateway" / "trust.json").read_text())
    with Store.open(data / "gateway" / "log") as store:
        report = audit_store(store, trust)
        assert report.ok, report.to_text()
        entries = [parse_entry(store.entry(i)) for i in range(store.entry_count)]
    readings = [e for e in entries if e.type == "reading"]
    kinds = {e.payload["kind"] for e in readings}
    assert kinds == {"temperature", "humidity", "feed", "water", "activity", "weight"}
    span_days = (max(e.ts for e in readings) - min(e.ts for e in readings)) / 86_400_000
    assert span_days > 2.9
    assert len({e.kid for e in readings}) == 108
    assert not report.gaps  # every device's seq stream is complete
    events = {e.payload["event"] for e in entries if e.type == "event"}
    assert {"hatched", "placed", "slaughtered", "packed", "shipped", "received"} <= events

    # A second run continues the same farm (no new keys, no re-registration).
    log = tmp_path / "demo-2.log"
    proc = start_demo(data, ports, log)
    wait_for(log, "streaming live", proc, 90)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()
    assert "created a new demo farm" not in log.read_text()
    with Store.open(data / "gateway" / "log") as store:
        again = audit_store(store, trust)
        assert again.ok, again.to_text()
        registrations = [parse_entry(store.entry(i)) for i in store.registration_indexes()]
        # The admin's genesis entry, each operator, the desk's operator and each device once.
        assert len(registrations) == 1 + 6 + 1 + 108
