"""The ingest benchmark's MQTT clients: publisher processes and the raw (discarding) subscriber.

A publisher process holds one paho MQTT 5 connection per device (client id
= device id, QoS 1 on ``chain.wire.entry_topic``, TCP_NODELAY) and drives
them all from one select loop, so a process costs one core at most whatever
its device count. It publishes pre-signed readings either as fast as the
broker's PUBACK window allows or paced to a rate, and, when asked, watches
each device's retained receipt topic to time publish → receipt (the
reading-to-checkpoint latency a device sees).

The raw subscriber reads ``farmtrace/<farm>/+/entry`` with the gateway's own
MQTT settings (MQTT 5, QoS 1, persistent session, Receive Maximum 4096) and
the gateway's read pattern (select, then read every frame that has arrived),
acknowledges each message at once and throws it away: the transport's limit
for one Python subscriber.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from chain.wire import entry_topic, parse_receipt, receipt_topic, subscription

__all__ = ["Load", "PublisherResult", "publisher_main", "subscriber_main"]

_HOST = "127.0.0.1"
_READS_PER_WAKE = 4096


@dataclass(frozen=True, slots=True)
class Load:
    """What one publisher process sends: ``messages[d]`` for device ``devices[d]``.

    ``first_seq[d]`` is the seq of ``messages[d][0]``. ``rate`` is this
    process's messages/s (None: as fast as the PUBACK window allows); with a
    rate, ``limit_s`` stops publishing after that many seconds' worth. With
    ``watch_receipts``, ``outstanding`` keeps each device at most that many
    readings ahead of its last receipt (an outbox window; None: unbounded).
    """

    port: int
    farm: str
    devices: Sequence[str]
    messages: Sequence[Sequence[bytes]]
    first_seq: Sequence[int]
    window: int = 500
    rate: float | None = None
    limit_s: float | None = None
    watch_receipts: bool = False
    outstanding: int | None = None
    receipt_timeout_s: float = 60.0


@dataclass(slots=True)
class PublisherResult:
    """What a publisher process reports (monotonic times, shared by every process)."""

    published: int = 0
    acked: int = 0
    first_publish: float = 0.0
    last_ack: float = 0.0
    latencies: list[float] = field(default_factory=list)
    unconfirmed: int = 0
    cpu_s: float = 0.0


@dataclass(slots=True)
class _Device:
    client: mqtt.Client
    topic: str
    messages: Sequence[bytes]
    first_seq: int
    sent: list[float]
    next: int = 0
    acked: int = 0
    confirmed: int = 0  # messages[:confirmed] are covered by a receipt
    connected: bool = False


def _no_delay(_c: mqtt.Client, _u: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _device(load: Load, d: int, result: PublisherResult) -> _Device:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=load.devices[d], protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(load.window)
    client.on_socket_open = _no_delay
    messages = load.messages[d]
    topic = entry_topic(load.farm, load.devices[d])
    dev = _Device(client, topic, messages, load.first_seq[d], [0.0] * len(messages))

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            raise RuntimeError(f"{load.devices[d]}: broker refused: {reason}")
        if load.watch_receipts:
            c.subscribe(receipt_topic(load.farm, load.devices[d]), 1)
        dev.connected = True

    def on_publish(_c: mqtt.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        dev.acked += 1
        result.acked += 1
        result.last_ack = time.monotonic()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        upto = min(parse_receipt(bytes(message.payload)).seq - dev.first_seq + 1, dev.next)
        for i in range(dev.confirmed, upto):
            result.latencies.append(now - dev.sent[i])
        dev.confirmed = max(dev.confirmed, upto)

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_message = on_message
    client.connect(_HOST, load.port, keepalive=60, clean_start=True)
    return dev


def _pump(devices: list[_Device], timeout: float) -> None:
    socks: dict[Any, _Device] = {d.client.socket(): d for d in devices}
    if None in socks:
        raise RuntimeError(f"{socks[None].topic}: lost the broker")
    writers = [s for s, d in socks.items() if d.client.want_write()]
    readable, writable, _ = select.select(list(socks), writers, [], timeout)
    for sock in readable:
        socks[sock].client.loop_read()
    for sock in writable:
        socks[sock].client.loop_write()


def publisher_main(load: Load, ready: Any, go: Event, results: Any) -> None:
    """Connect every device, report ready, wait for ``go``, publish, report a PublisherResult."""
    result = PublisherResult()
    devices = [_device(load, d, result) for d in range(len(load.devices))]
    while not all(d.connected for d in devices):
        _pump(devices, 0.1)
    for _ in range(5):  # let the SUBACKs and any retained receipts arrive
        _pump(devices, 0.02)
    for d in devices:
        d.confirmed = 0
    ready.put(True)
    go.wait()
    total = sum(len(d.messages) for d in devices)
    if load.rate is not None and load.limit_s is not None:
        total = min(total, int(load.rate * load.limit_s))
    result.first_publish = started = time.monotonic()
    turn = 0  # round robin: one message per device per pass
    while result.acked < total:
        allowance = total
        if load.rate is not None:
            allowance = min(total, int((time.monotonic() - started) * load.rate))
        idle = 0
        while result.published < allowance and idle < len(devices):
            d = devices[turn]
            turn = (turn + 1) % len(devices)
            ahead = d.next - d.confirmed
            if (
                d.next - d.acked >= load.window
                or d.next == len(d.messages)
                or (load.outstanding is not None and ahead >= load.outstanding)
            ):
                idle += 1
                continue
            idle = 0
            d.sent[d.next] = time.monotonic()
            d.client.publish(d.topic, d.messages[d.next], qos=1)
            d.next += 1
            result.published += 1
        _pump(devices, 0.002 if load.rate is not None else 0.05)
        for d in devices:
            d.client.loop_misc()
    if load.watch_receipts:
        deadline = time.monotonic() + load.receipt_timeout_s
        while time.monotonic() < deadline and any(d.confirmed < d.next for d in devices):
            _pump(devices, 0.05)
    result.unconfirmed = sum(d.next - d.confirmed for d in devices) if load.watch_receipts else 0
    for d in devices:
        d.client.disconnect()
    result.cpu_s = time.process_time()
    results.put(result)


def subscriber_main(
    port: int,
    farm: str,
    count: Synchronized,  # type: ignore[type-arg]
    subscribed: Event,
    stop: Event,
) -> None:
    """Count messages on every device's entry topic into ``count`` until ``stop``.

    Sets ``subscribed`` once the broker has acknowledged the subscription.
    """
    received = 0

    def on_message(_c: mqtt.Client, _u: Any, _m: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{farm}", protocol=mqtt.MQTTv5
    )
    client.on_socket_open = _no_delay
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(subscription(farm, "entry"), 1)
    client.on_subscribe = lambda *_: subscribed.set()
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = _READS_PER_WAKE
    client.connect(_HOST, port, keepalive=60, clean_start=False, properties=props)
    while not stop.is_set():
        sock = client.socket()
        if sock is None:
            raise RuntimeError("the raw subscriber lost the broker")
        writers = [sock] if client.want_write() else []
        readable, _, _ = select.select([sock], writers, [], 0.1)
        if readable:
            for _ in range(_READS_PER_WAKE):
                before = received
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or received == before:
                    break
            count.value = received
        if client.want_write():
            client.loop_write()
        client.loop_misc()
    client.disconnect()
