"""The generated ACL against the real broker: every device is confined to its own topics.

Under MQTT 5 Mosquitto answers a denied QoS 1 publish with PUBACK reason code
0x87 (Not authorized). Mosquitto 2.0 then also drops the connection.
"""

from __future__ import annotations

from collections.abc import Callable

from mqtt_broker import Broker, Probe

from chain import wire

SecuredBroker = Callable[..., Broker]
FARM = "farm1"
NOT_AUTHORIZED = 0x87


def connected(broker: Broker, user: str, client_id: str = "") -> Probe:
    probe = Probe(broker, client_id)
    assert not probe.connect(user, broker.password(user)).is_failure
    return probe


def test_a_device_cannot_publish_under_another_devices_id(
    secured_broker: SecuredBroker,
) -> None:
    broker = secured_broker(farm=FARM, devices=("dev-a", "dev-b"))
    gateway = connected(broker, "gateway", "gw")
    assert not gateway.subscribe(wire.subscription(FARM, "entry")).is_failure
    assert not gateway.subscribe(wire.subscription(FARM, "status")).is_failure

    forger = connected(broker, "dev-a", "forger")
    reason = forger.publish(wire.entry_topic(FARM, "dev-b"), b"forged entry")
    assert reason.value == NOT_AUTHORIZED
    forger.close()
    forger = connected(broker, "dev-a", "forger")
    reason = forger.publish(wire.status_topic(FARM, "dev-b"), b"forged status", retain=True)
    assert reason.value == NOT_AUTHORIZED
    forger.close()

    honest = connected(broker, "dev-a", "honest")
    assert honest.publish(wire.entry_topic(FARM, "dev-a"), b"own entry").value == 0
    assert honest.publish(wire.status_topic(FARM, "dev-a"), b"own status").value == 0
    honest.close()
    received = gateway.receive(2) + gateway.receive(1, timeout=0.3)
    assert received == [
        (wire.entry_topic(FARM, "dev-a"), b"own entry"),
        (wire.status_topic(FARM, "dev-a"), b"own status"),
    ]
    gateway.close()


def test_denied_publishes_outside_each_users_own_topics(secured_broker: SecuredBroker) -> None:
    broker = secured_broker(farm=FARM, devices=("dev-a", "dev-b"))
    denied = [
        ("dev-a", wire.receipt_topic(FARM, "dev-a")),  # a device cannot forge its receipts
        ("dev-a", wire.entry_topic("farm2", "dev-a")),  # nor publish for another farm
        ("dev-a", "farmtrace/farm1/dev-a/entry/extra"),
        ("dev-a", "other/topic"),
        ("gateway", wire.entry_topic(FARM, "dev-a")),  # the gateway cannot forge entries
        ("gateway", wire.status_topic(FARM, "dev-a")),
    ]
    for user, topic in denied:
        probe = connected(broker, user)
        assert probe.publish(topic, b"x").value == NOT_AUTHORIZED, (user, topic)
        probe.close()
    gateway = connected(broker, "gateway")
    assert gateway.publish(wire.receipt_topic(FARM, "dev-b"), b"receipt").value in (0, 0x10)
    gateway.close()


def test_a_device_reads_only_its_own_receipts(secured_broker: SecuredBroker) -> None:
    broker = secured_broker(farm=FARM, devices=("dev-a", "dev-b"))
    snoop = connected(broker, "dev-a", "snoop")
    snoop.subscribe(wire.receipt_topic(FARM, "dev-b"))  # granted, but nothing is delivered
    snoop.subscribe(wire.subscription(FARM, "receipt"))
    snoop.subscribe(wire.subscription(FARM, "entry"))
    other = connected(broker, "dev-b", "other")
    assert other.publish(wire.entry_topic(FARM, "dev-b"), b"b's entry").value in (0, 0x10)
    gateway = connected(broker, "gateway", "gw")
    for device in ("dev-b", "dev-a"):
        receipt = wire.Receipt(dev=device, seq=1, block=0).to_json()
        gateway.publish(wire.receipt_topic(FARM, device), receipt, retain=True)
    got = snoop.receive(1) + snoop.receive(5, timeout=0.3)
    assert [topic for topic, _ in got] == [wire.receipt_topic(FARM, "dev-a")]
    for probe in (snoop, other, gateway):
        probe.close()
