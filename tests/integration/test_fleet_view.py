"""The fleet view over a real Mosquitto, a real ``farmtrace gateway run`` and real device processes.

Issue 12's "done means": a new device shows within 10 s; a device that goes
quiet is flagged silent within its interval + the grace (the grace is 1 s
here, 60 s by default); a killed device's last will flips it offline;
rejections show by reason; ``farmtrace fleet --json`` prints the same view.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gateway_harness import (
    FARM,
    GatewayProcess,
    Publisher,
    Signer,
    metric,
    new_data_dir,
    now_ms,
    wait_metric,
)
from mqtt_broker import Broker

from chain.entries import gap_payload, sign_entry
from chain.keyfile import SignerKey
from chain.wire import status_topic
from farmtrace.cli import main
from readapi.fleet import FleetRow, fetch_fleet

GRACE_S = 1.0
DEFAULT_INTERVAL_S = 2.0
READING_EVERY_S = 0.5

_DEVICE = textwrap.dedent(
    """
    import sys, time
    from signer.device import Device
    from signer.fleet import Fleet
    from signer.identity import DeviceIdentity
    from signer.mqtt_link import MqttLink
    from signer.mqtt_url import parse_mqtt_url
    from signer.outbox import Outbox

    root, dev, url, farm, seed, every = sys.argv[1:7]
    identity = DeviceIdentity.open_or_create(root + "/id", dev, seed=bytes.fromhex(seed))
    device = Device(identity, Outbox.open(root + "/outbox.db"))
    fleet = Fleet([MqttLink(device, parse_mqtt_url(url), farm, fw="fleet-test-1")])
    fleet.start()
    print("started", flush=True)
    while True:
        device.record("temperature", "barn:b1", 21.5, "Cel", time.time_ns() // 1_000_000)
        fleet.wake()
        time.sleep(float(every))
    """
)


def _seed(dev: str) -> bytes:
    return dev.encode().ljust(32, b"-")


@pytest.fixture
def gateway(broker: Broker, tmp_path: Path) -> Iterator[tuple[GatewayProcess, Signer]]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    proc = GatewayProcess(
        data_dir,
        broker.url,
        extra=[
            "--block-interval-ms",
            "100",
            "--silent-grace",
            str(GRACE_S),
            "--default-interval",
            str(DEFAULT_INTERVAL_S),
        ],
    )
    proc.start()
    wait_metric(lambda: _get(proc.http_url + "/metrics"), "farmtrace_mqtt_connected", 1)
    yield proc, admin
    if proc.proc is not None and proc.proc.poll() is None:
        proc.terminate()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _start_device(root: Path, dev: str, broker: Broker) -> subprocess.Popen[str]:
    root.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    args = [str(root), dev, broker.url, FARM, _seed(dev).hex(), str(READING_EVERY_S)]
    child = subprocess.Popen(
        [sys.executable, "-c", _DEVICE, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    return child


def _wait_row(
    url: str, dev: str, ok: Callable[[FleetRow], bool], timeout: float
) -> tuple[FleetRow, float]:
    """Poll the fleet view until ``dev``'s row satisfies ``ok``; return it and the time it took."""
    start = time.monotonic()
    row = None
    while time.monotonic() - start < timeout:
        view = fetch_fleet(url, timeout=5)
        row = next((r for r in view.devices if r.dev == dev), None)
        if row is not None and ok(row):
            return row, time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{dev}: not there within {timeout} s; last row: {row}")


def test_devices_appear_go_silent_go_offline_and_show_their_rejections(
    gateway: tuple[GatewayProcess, Signer], broker: Broker, tmp_path: Path
) -> None:
    proc, admin = gateway
    url = proc.http_url
    live, quiet = (SignerKey.generate(d, seed=_seed(d)) for d in ("b1-live", "b2-quiet"))
    publisher = Publisher(broker.port, "fleet-test-publisher")
    try:
        publisher.register(admin, [live, quiet])
        child = _start_device(tmp_path / "b1-live", live.id, broker)
        try:
            # a new device shows, with its status, within 10 s of starting
            row, took = _wait_row(
                url, live.id, lambda r: r.state == "online" and r.seq_committed >= 2, 10
            )
            assert took < 10 and row.registered and row.fw == "fleet-test-1"
            assert row.last_seen_ms is not None and row.outbox is not None
            # its interval is observed from its readings (0.5 s), not the 2 s default
            row, _ = _wait_row(url, live.id, lambda r: r.interval_from == "observed", 10)
            assert row.interval_s == pytest.approx(READING_EVERY_S, abs=0.2)
            assert "silent" not in row.flags and row.readings_per_hour >= 2
            # rejections by reason: a skewed reading and junk on the quiet device's topic
            q = Signer(quiet)
            skewed = q.reading(ts=now_ms() + 3_600_000, seq=9)
            publisher.publish(quiet.id, [skewed, b"not a jws"])
            row, _ = _wait_row(url, quiet.id, lambda r: sum(r.rejections.values()) == 2, 10)
            assert row.rejections == {"clock_skew": 1, "malformed_entry": 1}
            assert "rejected" in row.flags
            # seq gaps: 2 declared by a gap entry, 3 missing; and a plain third-party status
            gap = sign_entry(gap_payload(quiet.id, 5, now_ms(), 2, 2), quiet.id, quiet.seed)
            publisher.publish(quiet.id, [q.reading(seq=1), q.reading(seq=4), gap])
            plain = publisher.client.publish(
                status_topic(FARM, quiet.id), b'{"status":"online"}', qos=1, retain=True
            )
            plain.wait_for_publish(10)
            row, _ = _wait_row(
                url, quiet.id, lambda r: r.seq_committed == 3 and r.state == "online", 10
            )
            assert (row.seq_high, row.gaps_declared, row.gaps_missing) == (5, 1, 1)
            assert "seq_missing" in row.flags and row.outbox is None
        finally:
            child.kill()  # no DISCONNECT: the broker publishes its last will
            child.wait(10)
            assert child.stdout is not None
            child.stdout.close()
        killed_at = time.monotonic()
        row, _ = _wait_row(url, live.id, lambda r: r.state == "offline", 10)
        assert "offline" in row.flags
        # silent once its interval (0.5 s) plus the grace (1 s) passed, give or take a poll
        row, took = _wait_row(url, live.id, lambda r: "silent" in r.flags, 10)
        assert time.monotonic() - killed_at < READING_EVERY_S + GRACE_S + 3
    finally:
        publisher.close()


def test_farmtrace_fleet_prints_json_and_a_flagged_table(
    gateway: tuple[GatewayProcess, Signer],
    broker: Broker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc, admin = gateway
    never = SignerKey.generate("b3-never", seed=_seed("b3-never"))
    publisher = Publisher(broker.port, "fleet-cli-publisher")
    try:
        publisher.register(admin, [never])
    finally:
        publisher.close()
    deadline = time.monotonic() + DEFAULT_INTERVAL_S + GRACE_S + 5
    while True:
        assert main(["fleet", "--url", proc.http_url, "--json"]) == 0
        out = capsys.readouterr().out
        view = json.loads(out)
        (row,) = view["devices"]
        if "silent" in row["flags"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert row["dev"] == "b3-never" and row["registered"] is True
    assert row["flags"] == ["silent"] and row["last_seen_ms"] is None
    assert view["grace_s"] == GRACE_S
    metrics = _get(proc.http_url + "/metrics")
    assert metric(metrics, "farmtrace_devices_registered") == 1
    assert metric(metrics, "farmtrace_devices_silent") == 1
    assert metric(metrics, "farmtrace_devices_offline") == 0
    assert main(["fleet", "--url", proc.http_url]) == 0
    table = capsys.readouterr().out
    assert "b3-never" in table and "silent" in table and "1 devices, 1 flagged" in table


def test_farmtrace_fleet_on_a_dead_address_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "--url", "http://127.0.0.1:9", "--timeout", "2"]) == 2
    assert "farmtrace fleet:" in capsys.readouterr().err
