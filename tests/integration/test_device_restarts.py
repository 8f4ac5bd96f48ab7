"""A device restarted 1,000 times (some of them crashes) drains: real Mosquitto, real gateway.

Issue 11: every clean restart used to skip the rest of the reserved seq
block, and receipts listed only the lowest 32 committed ranges, so a device
restarted some 34 times never drained its outbox again. Now a clean restart
skips nothing; a crash's skip is declared by the device in a signed ``gap``
entry (those seqs are never committed: holes in what the gateway holds);
and receipts list committed ranges from the lowest seq the device still
holds, which it reports in its status. The restarts are in-process
re-creations of the identity and the outbox on the same state directory;
the broker and the gateway are real processes. Over MQTT the device reports
its ``low`` in its status; over a serial line and a bridge it has no status,
and gets there by sending again what it holds. The device's state lives in
tmpfs when there is one: a restart costs some five fsyncs, 30 ms on a disk,
and durability is what tests/integration/test_device_crash.py checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import FARM, GatewayProcess, Publisher, new_data_dir
from mqtt_broker import Broker
from test_serial_bridge import NullModem

from chain.audit import audit_store
from chain.keyfile import SignerKey
from chain.store import Store
from chain.trust import TrustRoot
from signer.bridge import Bridge
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import SEQ_FILE, DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import parse_mqtt_url
from signer.outbox import Outbox
from signer.serial_link import SerialLink, open_port

RESTARTS = 1000
CRASH_EVERY = 7  # every 7th session ends as a crash would: its seq block stays reserved
BLOCK = 16


@pytest.fixture
def state_root(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="farmtrace-test-") as root:
        yield Path(root)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _session(state: Path, crash: bool) -> None:
    identity = DeviceIdentity.open(state, reserve_block=BLOCK)
    device = Device(identity, Outbox.open(state / "outbox.db"))
    device.record("temperature", "barn:b1", 20.0, "Cel", _now_ms())
    on_disk = (state / SEQ_FILE).read_bytes()
    device.outbox.close()
    identity.close()
    if crash:  # leave seq.json as it was while running, as kill -9 or a power cut would
        (state / SEQ_FILE).write_bytes(on_disk)


@contextlib.contextmanager
def _linked(device: Device, broker: Broker, transport: str) -> Iterator[Any]:
    """``device`` on the broker: over MQTT, or over a serial line and a bridge (no status)."""
    if transport == "mqtt":
        link = MqttLink(device, parse_mqtt_url(broker.url), FARM)
        fleet = Fleet([link])
        fleet.start()
        try:
            yield link
        finally:
            fleet.stop()
        return
    modem = NullModem()
    bridge_port, device_port = open_port(modem.bridge_port), open_port(modem.device_port)
    bridge, stop = Bridge(bridge_port, parse_mqtt_url(broker.url), FARM), threading.Event()
    thread = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    thread.start()
    serial = SerialLink(device, device_port, resend_after=2.0)
    try:
        assert bridge.connected.wait(10)
        serial.start()
        yield serial
    finally:
        serial.stop()
        stop.set()
        thread.join(5)
        device_port.close()
        bridge_port.close()
        modem.close()


@pytest.mark.parametrize("transport", ["mqtt", "serial"])
def test_a_device_restarted_a_thousand_times_drains_and_its_skips_are_declared(
    tmp_path: Path, state_root: Path, broker: Broker, transport: str
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    key = SignerKey.generate("b1-temp")
    state = state_root / "device"
    DeviceIdentity.create(state, key, reserve_block=BLOCK).close()
    gateway = GatewayProcess(data_dir, broker.url, ["--block-interval-ms", "50"])
    gateway.start()
    try:
        pub = Publisher(broker.port, "admin-console")
        try:
            pub.register(admin, [key])
        finally:
            pub.close()
        crashes = 0
        for n in range(1, RESTARTS + 1):
            crash = n % CRASH_EVERY == 0
            crashes += crash
            _session(state, crash)
        identity = DeviceIdentity.open(state, reserve_block=BLOCK)
        device = Device(identity, Outbox.open(state / "outbox.db"))
        held = device.outbox.count
        assert held == RESTARTS + crashes  # a reading per session, a gap entry per crash
        try:
            with _linked(device, broker, transport) as link:
                assert link.wait_drained(45), (
                    f"{device.outbox.count} of {held} entries never receipted; "
                    f"lowest kept {device.outbox.lowest_seq}, stats {link.stats}"
                )
        finally:
            identity.close()
            device.outbox.close()
        assert link.stats.bad_receipts == 0
    finally:
        assert gateway.terminate() == 0
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    with Store.open(data_dir.log) as store:
        report = audit_store(store, trust, jobs=1)
    assert report.ok, report.to_text()
    assert report.gaps == [], report.to_text()  # nothing missing: every skip was declared
    [declared] = report.declared_gaps
    assert declared.signer == "b1-temp" and len(json.loads(report.to_json())["declared_gaps"]) == 1
    assert report.declared_seqs == declared.missing_total > 32 * crashes // 4
    assert declared.entries == RESTARTS + crashes
