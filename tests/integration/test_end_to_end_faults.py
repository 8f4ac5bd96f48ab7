"""Real devices (outbox, MQTT link) → real Mosquitto → real gateway, while things fail.

Nothing lost, nothing logged twice: after a broker kill -9 mid-stream, and
after a device spends a simulated hour offline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import FARM, Publisher, committed_entries, metric, new_data_dir
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok, start_gateway

from chain.entries import parse_entry
from gateway.datadir import DataDir
from gateway.service import Gateway
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import parse_mqtt_url
from signer.outbox import Outbox


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Farm:
    """A gateway with registered real devices, each with identity, outbox and MQTT link."""

    def __init__(self, root: Path, broker: Broker, count: int) -> None:
        self.data_dir, admin = new_data_dir(root / "gw")
        self.gateway: Gateway = start_gateway(self.data_dir, broker)
        self.devices = []
        for i in range(count):
            identity = DeviceIdentity.open_or_create(root / f"dev{i}", f"sensor{i}")
            self.devices.append(Device(identity, Outbox.open(root / f"dev{i}" / "outbox.db")))
        pub = Publisher(broker.port, "registrar")
        pub.watch(admin.id)
        pub.publish(admin.id, [admin.register(d.identity.key) for d in self.devices])
        pub.wait_receipt(admin.id, lambda r: r.seq == 1 + count)
        pub.close()
        url = parse_mqtt_url(broker.url)
        self.fleet = Fleet(
            [MqttLink(d, url, FARM, min_delay=0.1, max_delay=1.0) for d in self.devices]
        )

    def record(self, device: Device, ts: int | None = None) -> None:
        device.record("temperature", "barn:b1", 21.0, "Cel", now_ms() if ts is None else ts)

    def close(self) -> None:
        self.fleet.stop()
        if self.gateway.store is not None:
            self.gateway.stop()
        for device in self.devices:
            device.outbox.close()
            device.identity.close()


@pytest.fixture
def farm(tmp_path: Path, broker: Broker) -> Iterator[Farm]:
    farm = Farm(tmp_path, broker, count=3)
    yield farm
    farm.close()


def assert_each_reading_once(data_dir: DataDir, devices: list[Device]) -> None:
    entries = [parse_entry(raw) for raw in committed_entries(data_dir)]
    for device in devices:
        seqs = [e.seq for e in entries if e.kid == device.id]
        assert sorted(seqs) == list(range(1, device.identity.last_seq + 1)), device.id
    audit_ok(data_dir)


def test_broker_kill_9_mid_stream_loses_nothing(farm: Farm, broker: Broker) -> None:
    farm.fleet.start()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for device in farm.devices:
                farm.record(device)
            farm.fleet.wake()
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    time.sleep(0.5)
    broker.kill()  # acknowledged QoS 1 messages the broker held are gone
    time.sleep(1.0)  # devices keep sampling into their outboxes meanwhile
    broker.start()
    time.sleep(1.0)
    stop.set()
    sampler.join()
    assert farm.fleet.wait_drained(60), "some outbox never emptied"
    assert all(d.outbox.count == 0 for d in farm.devices)
    reconnects = metric(farm.gateway.metrics.render().decode(), "farmtrace_mqtt_reconnects_total")
    assert reconnects >= 1  # the gateway lost the broker and came back too
    farm.gateway.stop()
    assert_each_reading_once(farm.data_dir, farm.devices)


def test_a_device_offline_for_an_hour_delivers_its_backlog_late(farm: Farm) -> None:
    offline, *online = farm.devices
    hour_ago = now_ms() - 3_600_000
    for minute in range(60):  # an hour of readings, taken while the device had no network
        farm.record(offline, ts=hour_ago + minute * 60_000)
    assert offline.outbox.count == 60
    for device in online:
        farm.record(device)
    farm.fleet.start()
    assert farm.fleet.wait_drained(30)
    metrics = farm.gateway.metrics.render().decode()
    late = [
        line for line in metrics.splitlines() if line.startswith("farmtrace_entries_late_total")
    ]
    assert late and float(late[0].split()[1]) >= 50  # older than the 10-minute late window
    farm.gateway.stop()
    assert_each_reading_once(farm.data_dir, farm.devices)
