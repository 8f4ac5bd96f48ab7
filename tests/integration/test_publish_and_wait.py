"""publish_and_wait confirms only its own entry, named by hash in a receipt (real Mosquitto)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import Broker
from paho.mqtt.enums import CallbackAPIVersion

from chain.entries import gap_payload, sign_entry
from chain.errors import EquivocationError
from chain.keyfile import SignerKey
from chain.wire import Receipt, entry_digest, entry_topic, receipt_topic
from signer._paho_io import release_sockets
from signer.mqtt_url import parse_mqtt_url
from signer.transport import publish_and_wait

FARM = "f1"
OP = SignerKey.generate("op1", seed=b"o" * 32)
TS = 1_767_225_600_000


class _Gateway:
    """Answers each entry ``op1`` publishes with the receipt ``answer(raw, copy number)``."""

    def __init__(self, port: int, answer: Callable[[bytes, int], Receipt]) -> None:
        self.received: list[bytes] = []
        self._answer = answer
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-gateway")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_connect(self, c: mqtt.Client, u: Any, f: Any, rc: Any, p: Any) -> None:
        c.subscribe(entry_topic(FARM, OP.id), qos=1)

    def _on_message(self, c: mqtt.Client, u: Any, message: mqtt.MQTTMessage) -> None:
        raw = bytes(message.payload)
        self.received.append(raw)
        receipt = self._answer(raw, len(self.received))
        c.publish(receipt_topic(FARM, OP.id), receipt.to_json(), qos=1, retain=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        release_sockets(self.client)


@pytest.fixture
def gateway_factory(broker: Broker) -> Iterator[Callable[..., _Gateway]]:
    made: list[_Gateway] = []

    def make(answer: Callable[[bytes, int], Receipt]) -> _Gateway:
        made.append(_Gateway(broker.port, answer))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


def _entry(seq: int, first: int) -> bytes:
    return sign_entry(gap_payload(OP.id, seq, TS, first, seq - 1), OP.id, OP.seed)


def test_a_receipt_naming_another_entry_with_the_same_seq_is_refused(
    broker: Broker, gateway_factory: Callable[..., _Gateway]
) -> None:
    ours, theirs = _entry(5, 1), _entry(5, 2)  # both seq 5: the log took theirs
    gateway_factory(lambda raw, n: Receipt(OP.id, 5, 0, hashes=((5, entry_digest(theirs)),)))
    with pytest.raises(EquivocationError, match=entry_digest(theirs)):
        publish_and_wait(ours, 5, OP.id, parse_mqtt_url(broker.url), FARM, 10)


def test_a_receipt_covering_the_seq_without_naming_it_does_not_confirm(
    broker: Broker, gateway_factory: Callable[..., _Gateway]
) -> None:
    ours = _entry(5, 1)

    def answer(raw: bytes, copy: int) -> Receipt:
        if copy == 1:  # covers seq 5, names no entry: could be anybody's seq 5
            return Receipt(OP.id, 5, 0)
        return Receipt(OP.id, 5, 0, hashes=((5, entry_digest(raw)),))

    gateway = gateway_factory(answer)
    receipt = publish_and_wait(ours, 5, OP.id, parse_mqtt_url(broker.url), FARM, 10)
    assert receipt.names(5, entry_digest(ours))
    assert gateway.received == [ours, ours]  # it asked again, and only then believed it
