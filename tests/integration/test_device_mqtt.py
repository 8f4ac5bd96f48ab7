"""Devices over a real Mosquitto: send the outbox, apply receipts, survive a broker crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fake_gateway import FakeGateway
from mqtt_broker import Broker, secured_settings
from paho.mqtt.enums import CallbackAPIVersion

from chain.wire import parse_status, status_topic
from signer._paho_io import release_sockets
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import MqttUrl, parse_mqtt_url
from signer.outbox import Outbox

FARM = "f1"
T0 = 1_767_225_600_000


def _device(root: Path, dev: str, readings: int) -> Device:
    identity = DeviceIdentity.open_or_create(root / dev, dev, reserve_block=64)
    device = Device(identity, Outbox.open(root / dev / "outbox.db"))
    if readings:
        device.record_many(
            [("temperature", "barn:b1", 20 + k / 10, "Cel", T0 + k) for k in range(readings)]
        )
    return device


def _statuses(port: int, devices: list[str]) -> dict[str, str]:
    """The retained status of each device, as a newcomer sees it."""
    seen: dict[str, str] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="status-reader")

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        seen[msg.topic.split("/")[2]] = parse_status(bytes(msg.payload))

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    for dev in devices:
        client.subscribe(status_topic(FARM, dev), qos=1)
    deadline = time.monotonic() + 5
    while len(seen) < len(devices) and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    release_sockets(client)
    return seen


@pytest.fixture
def gateway(broker: Broker) -> Iterator[FakeGateway]:
    gw = FakeGateway(broker.port, FARM)
    yield gw
    gw.stop()


def test_a_fleet_delivers_every_entry_once_and_empties_its_outboxes(
    broker: Broker, gateway: FakeGateway, tmp_path: Path
) -> None:
    devices = [_device(tmp_path, f"dev-{i}", 300) for i in range(3)]
    links = [MqttLink(d, parse_mqtt_url(broker.url), FARM, window=50) for d in devices]
    fleet = Fleet(links)
    fleet.start()
    try:
        assert fleet.wait_drained(20)
        assert _statuses(broker.port, [d.id for d in devices]) == {d.id: "online" for d in devices}
        # live: a reading recorded from another thread is sent once the fleet is woken
        devices[0].record("temperature", "barn:b1", 21.0, "Cel", T0 + 10_000)
        fleet.wake()
        assert fleet.wait_drained(10)
    finally:
        fleet.stop()
    for device, link in zip(devices, links, strict=True):
        assert gateway.seqs(device.id) == set(range(1, device.identity.last_seq + 1))
        assert link.stats.sent == device.identity.last_seq and link.stats.resent == 0
        assert link.stats.acked == link.stats.sent and link.stats.publish_failures == 0
        assert device.outbox.count == 0 and device.acknowledged == device.identity.last_seq
    assert gateway.duplicates == 0
    assert _statuses(broker.port, [d.id for d in devices]) == {d.id: "offline" for d in devices}


def test_entries_acknowledged_by_a_broker_that_then_crashed_are_sent_again(
    broker: Broker, tmp_path: Path
) -> None:
    device = _device(tmp_path, "dev-a", 200)
    link = MqttLink(device, parse_mqtt_url(broker.url), FARM, min_delay=0.1, max_delay=0.5)
    fleet = Fleet([link])
    fleet.start()
    try:
        deadline = time.monotonic() + 10
        while link.stats.acked < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert link.stats.acked == 200  # the broker has them, nobody committed them
        broker.kill()  # and they are gone
        broker.start()
        gateway = FakeGateway(broker.port, FARM)  # a gateway appears only now
        try:
            assert link.wait_drained(20)
        finally:
            gateway.stop()
        assert gateway.seqs("dev-a") == set(range(1, 201))
        assert link.stats.resent >= 200 and link.stats.connects >= 2
    finally:
        fleet.stop()


def test_an_entry_the_gateway_never_commits_is_resent_and_receipts_release_past_it(
    broker: Broker, tmp_path: Path
) -> None:
    lost = {("dev-b", 5)}  # the first copy of seq 5 goes missing

    def skip(dev: str, seq: int) -> bool:
        if (dev, seq) in lost:
            lost.discard((dev, seq))
            return True
        return False

    gateway = FakeGateway(broker.port, FARM, skip=skip)
    device = _device(tmp_path, "dev-b", 40)
    link = MqttLink(device, parse_mqtt_url(broker.url), FARM, resend_after=1.0)
    fleet = Fleet([link])
    fleet.start()
    try:
        deadline = time.monotonic() + 10
        while device.outbox.count != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e.seq for e in device.unsent()] == [5]  # receipts' ranges released 6..40
        assert link.wait_drained(10)
        assert link.stats.stall_resends >= 1
    finally:
        fleet.stop()
        gateway.stop()


def test_a_refused_publish_is_counted_and_logged_not_taken_as_delivered(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.ERROR, logger="signer.mqtt_link")
    root = tmp_path / "broker"
    broker = Broker(
        root, secured_settings(root, farm=FARM, devices=("dev-ok", "dev-bad", "dev-pw"))
    )
    acl = (root / "acl").read_text()  # entries only for dev-ok: a device registered too early
    acl = acl.replace(f"pattern write farmtrace/{FARM}/%u/entry\n", "")
    (root / "acl").write_text(acl + f"\nuser dev-ok\ntopic write farmtrace/{FARM}/dev-ok/entry\n")
    broker.start()
    try:
        _refused_publish(broker, caplog, tmp_path)
    finally:
        broker.kill()


def _refused_publish(broker: Broker, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    ok, bad = _device(tmp_path, "dev-ok", 5), _device(tmp_path, "dev-bad", 5)
    wrong_pw = _device(tmp_path, "dev-pw", 5)

    def url(user: str, password: str) -> MqttUrl:
        return MqttUrl("127.0.0.1", broker.port, user, password)

    links = [
        MqttLink(ok, url("dev-ok", broker.password("dev-ok")), FARM),
        MqttLink(bad, url("dev-bad", broker.password("dev-bad")), FARM),
        MqttLink(wrong_pw, url("dev-pw", "not-the-password"), FARM),
    ]
    fleet = Fleet(links)
    fleet.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            links[1].stats.publish_failures < 1 or links[0].stats.acked < 5
        ):
            time.sleep(0.02)
    finally:
        fleet.stop()
    assert links[0].stats.acked == 5 and links[0].stats.publish_failures == 0
    # (Mosquitto 2.0.11 answers 0x87 and then sometimes drops the connection too:
    # the link reconnects and the entries are refused again.)
    assert links[1].stats.publish_failures >= 1 and links[1].stats.acked == 0
    assert bad.outbox.count == 5  # kept: it was not delivered
    errors = [r.getMessage() for r in caplog.records if "refused entry" in r.getMessage()]
    assert len(errors) == 1 and "dev-bad" in errors[0] and "0x87" in errors[0]
    assert links[2].stats.connect_failures >= 1 and links[2].stats.connects == 0


def test_the_user_in_the_url_must_be_the_device(tmp_path: Path) -> None:
    device = _device(tmp_path, "dev-c", 0)
    with pytest.raises(ValueError, match="device id"):
        MqttLink(device, parse_mqtt_url("mqtt://someone@localhost"), FARM)
