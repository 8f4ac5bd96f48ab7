"""The gateway end to end over a real Mosquitto: readings in; blocks, checkpoints, receipts out."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import (
    FARM,
    Publisher,
    Signer,
    committed_entries,
    device_keys,
    metric,
    new_data_dir,
    wait_metric,
)
from mqtt_broker import Broker

from chain.audit import audit_store
from chain.proof_bundle import EntryProof, verify_entry_proof
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig


@pytest.fixture
def farm(tmp_path: Path) -> tuple[DataDir, Signer]:
    return new_data_dir(tmp_path / "gw")


def start_gateway(data_dir: DataDir, broker: Broker, **ingest: int) -> Gateway:
    gateway = Gateway(
        GatewayConfig(
            data_dir=data_dir,
            farm=FARM,
            mqtt=MqttSettings(port=broker.port, client_id="gw-test", verify_workers=1),
            ingest=IngestConfig(**{"block_interval_ms": 100, **ingest}),
            http_port=0,
        )
    )
    gateway.start()
    assert gateway.mqtt is not None
    assert gateway.mqtt.connected.wait(10)
    return gateway


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(broker.port, "test-publisher")
    yield pub
    pub.close()


def audit_ok(data_dir: DataDir) -> None:
    with Store.open(data_dir.log) as store:
        report = audit_store(store, TrustRoot.from_json(data_dir.trust.read_text()))
    assert report.ok, report.to_text()


def test_readings_are_committed_checkpointed_and_receipted(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    devices = [Signer(k) for k in device_keys(3)]
    gateway = start_gateway(data_dir, broker)
    try:
        publisher.watch(admin.id)
        publisher.publish(admin.id, [admin.register(d.key) for d in devices])
        publisher.wait_receipt(admin.id, lambda r: r.seq == 4)
        for device in devices:
            publisher.watch(device.id)
            publisher.publish(device.id, [device.reading(20 + i / 10) for i in range(50)])
        for device in devices:
            receipt = publisher.wait_receipt(device.id, lambda r: r.seq == 50)
            assert receipt.block is not None and receipt.block >= 1
            assert receipt.ranges == ()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{gateway.http_port}/metrics").read()
        assert b"farmtrace_entries_committed_total 153.0" in metrics
    finally:
        gateway.stop()
    entries = committed_entries(data_dir)
    assert len(entries) == 1 + 3 + 150  # genesis, registrations, readings
    with Store.open(data_dir.log) as store:
        latest = store.latest_checkpoint()
        assert latest is not None and latest[0] == store.size
    audit_ok(data_dir)


def test_receipt_block_is_the_block_holding_the_seq(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    device = Signer(device_keys(1)[0])
    gateway = start_gateway(data_dir, broker, max_block_entries=7)
    try:
        publisher.watch(admin.id)
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        publisher.wait_receipt(admin.id, lambda r: r.seq == 2)
        publisher.publish(device.id, [device.reading() for _ in range(30)])
        receipt = publisher.wait_receipt(device.id, lambda r: r.seq == 30)
    finally:
        gateway.stop()
    with Store.open(data_dir.log) as store:
        index = store.lookup(device.id, 30)
        assert index is not None
        assert store.block_of_entry(index) == receipt.block
        assert all(store.block(h).count <= 7 for h in range(store.size))


def test_gap_in_a_device_stream_shows_as_ranges(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    device = Signer(device_keys(1)[0])
    gateway = start_gateway(data_dir, broker)
    try:
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        raws = [device.reading() for _ in range(10)]
        del raws[3]  # seq 4 was reserved but never signed: a hole the device can never fill
        del raws[6]  # seq 8 too
        publisher.publish(device.id, raws)
        receipt = publisher.wait_receipt(device.id, lambda r: r.ranges == ((5, 7), (9, 10)))
        assert receipt.seq == 3
        assert [s for s in range(1, 11) if receipt.covers(s)] == [1, 2, 3, 5, 6, 7, 9, 10]
    finally:
        gateway.stop()


def test_a_duplicate_of_a_committed_entry_is_re_receipted(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    device = Signer(device_keys(1)[0])
    gateway = start_gateway(data_dir, broker)
    try:
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        raws = [device.reading() for _ in range(5)]
        publisher.publish(device.id, raws)
        publisher.wait_receipt(device.id, lambda r: r.seq == 5)
        publisher.receipts.clear()
        publisher.publish(device.id, raws[:2])  # a device that missed its receipt resends
        assert publisher.wait_receipt(device.id, lambda r: r.seq == 5).block is not None
        render = lambda: gateway.metrics.render().decode()  # noqa: E731
        wait_metric(render, "farmtrace_entries_duplicate_total", 2)
        assert metric(render(), "farmtrace_entries_duplicate_total") == 2
    finally:
        gateway.stop()
    assert len(committed_entries(data_dir)) == 1 + 1 + 5
    audit_ok(data_dir)


def test_sigterm_style_stop_commits_the_open_block(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    device = Signer(device_keys(1)[0])
    gateway = start_gateway(data_dir, broker, block_interval_ms=3_600_000)
    assert gateway.mqtt is not None
    publisher.publish(admin.id, [admin.register(device.key)])
    deadline = time.monotonic() + 10
    while gateway.mqtt.ingest.pending_count < 1:  # the registration first: MQTT orders per topic
        assert time.monotonic() < deadline, "the registration never became pending"
        time.sleep(0.01)
    publisher.publish(device.id, [device.reading() for _ in range(20)])
    deadline = time.monotonic() + 10
    while gateway.mqtt.ingest.pending_count < 21:
        assert time.monotonic() < deadline, "entries never became pending"
        time.sleep(0.02)
    gateway.stop()
    assert len(committed_entries(data_dir)) == 1 + 1 + 20
    audit_ok(data_dir)
    with Store.open(data_dir.log) as store:
        assert store.pending() == []
    assert json.loads(data_dir.trust.read_text())["origin"]


def test_read_api_serves_verifiable_proofs_of_live_entries(
    farm: tuple[DataDir, Signer], broker: Broker, publisher: Publisher
) -> None:
    data_dir, admin = farm
    device = Signer(device_keys(1)[0])
    gateway = start_gateway(data_dir, broker)
    base = f"http://127.0.0.1:{gateway.http_port}"
    try:
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        raws = [device.reading(float(i)) for i in range(12)]
        publisher.publish(device.id, raws)
        publisher.wait_receipt(device.id, lambda r: r.seq == 12)
        assert gateway.store is not None
        index = gateway.store.lookup(device.id, 7)
        assert index is not None
        bundle = urllib.request.urlopen(f"{base}/api/v1/entries/{index}/proof").read()
        proof = EntryProof.from_json(bundle)
        checkpoint = verify_entry_proof(
            proof, TrustRoot.from_json(data_dir.trust.read_text()).log_key
        )
        assert proof.entry == raws[6]
        assert checkpoint.size >= proof.block_path.leaf_index + 1
        note = urllib.request.urlopen(f"{base}/checkpoint").read().decode()
        assert note.startswith("farm.test/log\n")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/api/v1/blocks/999999")
        assert missing.value.code == 404
        assert "error" in json.loads(missing.value.read())
    finally:
        gateway.stop()


def test_gateway_started_before_its_broker_connects_when_it_comes_up(
    farm: tuple[DataDir, Signer], broker: Broker
) -> None:
    data_dir, admin = farm
    broker.stop()
    gateway = Gateway(
        GatewayConfig(
            data_dir=data_dir,
            farm=FARM,
            mqtt=MqttSettings(port=broker.port, client_id="gw-test", reconnect_max_s=0.5),
            http_port=0,
        )
    )
    gateway.start()
    try:
        assert gateway.mqtt is not None
        assert not gateway.mqtt.connected.wait(1.0)
        assert gateway.running
        broker.start()
        assert gateway.mqtt.connected.wait(10)
        publisher = Publisher(broker.port, "late-publisher")
        try:
            publisher.register(admin, [device_keys(1)[0]])
        finally:
            publisher.close()
    finally:
        gateway.stop()
    assert len(committed_entries(data_dir)) == 1 + 1
