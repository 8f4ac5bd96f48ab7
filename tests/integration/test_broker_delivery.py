"""Delivery guarantees of the generated config, measured against the real broker.

The gateway keeps a persistent MQTT 5 session (clean_start=False plus a
session expiry interval). While it is away, Mosquitto queues its QoS 1
messages; the default ``max_queued_messages 1000`` would drop the overflow
(counted only in ``$SYS``), the generated config queues 200,000 messages or
64 MiB (test_broker_limits.py tests the bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from mqtt_broker import Broker, Probe

from chain import wire

SecuredBroker = Callable[..., Broker]
FARM = "farm1"
EXPIRY = 3600
# The generated default: save on a timer (here: not within the test) and on SIGTERM.
TIMER_AUTOSAVE: dict[str, object] = {"autosave_interval": 3600, "autosave_on_changes": False}


def park_gateway_session(broker: Broker) -> None:
    """Create the gateway's persistent session, subscribed to every entry, then go away."""
    gateway = Probe(broker, "gateway-session")
    reason = gateway.connect(
        "gateway", broker.password("gateway"), clean_start=False, session_expiry=EXPIRY
    )
    assert not reason.is_failure
    assert not gateway.subscribe(wire.subscription(FARM, "entry"), qos=1).is_failure
    gateway.close()


def publish_entries(broker: Broker, device: str, count: int) -> None:
    device_client = Probe(broker, device)
    assert not device_client.connect(device, broker.password(device)).is_failure
    topic = wire.entry_topic(FARM, device)
    infos = [device_client.client.publish(topic, b"%d" % i, qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(timeout=20)
        assert info.rc == 0 and info.is_published()
    device_client.close()


def collect_gateway_session(broker: Broker, count: int) -> list[bytes]:
    """Resume the gateway's session and return what it receives (all of it, if it resumes)."""
    gateway = Probe(broker, "gateway-session")
    reason = gateway.connect(
        "gateway", broker.password("gateway"), clean_start=False, session_expiry=EXPIRY
    )
    assert not reason.is_failure
    timeout = 20 if gateway.session_present else 0.5
    got = [payload for _, payload in gateway.receive(count, timeout=timeout)]
    extra = gateway.receive(1, timeout=0.2)
    gateway.close()
    return got + [payload for _, payload in extra]


def test_the_queue_bound_holds_3000_messages_queued_for_an_offline_session(
    secured_broker: SecuredBroker,
) -> None:
    broker = secured_broker(farm=FARM, devices=("dev-a",))
    park_gateway_session(broker)
    start = time.monotonic()
    publish_entries(broker, "dev-a", 3000)
    got = collect_gateway_session(broker, 3000)
    print(f"3000 queued QoS 1 messages published and drained in {time.monotonic() - start:.2f} s")
    assert sorted(got, key=int) == [b"%d" % i for i in range(3000)]


def test_messages_queued_for_an_offline_session_survive_a_sigterm_restart(
    secured_broker: SecuredBroker,
) -> None:
    broker = secured_broker(farm=FARM, devices=("dev-a",), **TIMER_AUTOSAVE)
    park_gateway_session(broker)
    publish_entries(broker, "dev-a", 200)
    broker.restart()  # SIGTERM: Mosquitto writes mosquitto.db on the way out
    assert (broker.settings.state_dir / "mosquitto.db").exists()
    got = collect_gateway_session(broker, 200)
    assert sorted(got, key=int) == [b"%d" % i for i in range(200)]


@pytest.mark.parametrize(
    ("autosave", "survivors"),
    [(TIMER_AUTOSAVE, 0), ({"autosave_interval": 1, "autosave_on_changes": True}, 50)],
    ids=["timer", "every-change"],
)
def test_a_puback_is_not_durability_after_kill_9(
    secured_broker: SecuredBroker, autosave: dict[str, object], survivors: int
) -> None:
    """Why devices keep an outbox until the gateway's receipt (design.md section 4)."""
    broker = secured_broker(farm=FARM, devices=("dev-a",), **autosave)
    park_gateway_session(broker)
    publish_entries(broker, "dev-a", 50)  # every one PUBACKed
    # Instead of sleeping: Mosquitto autosaves on changes in the turn of its event loop
    # that made them, and answers a login that starts after the last PUBACK in a later turn.
    fence = Probe(broker, "fence")
    assert not fence.connect("dev-a", broker.password("dev-a")).is_failure
    fence.close()
    broker.kill()
    broker.start()
    assert len(collect_gateway_session(broker, 50)) == survivors
