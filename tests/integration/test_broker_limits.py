"""The broker's size limits, against the real Mosquitto: packets near the entry limit, and a
bound on each client's queue (docs/broker.md says why these numbers).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from mqtt_broker import TIMEOUT, Broker, Probe, broker_settings

from chain import wire
from chain.jws import MAX_ENTRY_BYTES
from gateway.broker_config import LARGEST_PACKET, MAX_PACKET_SIZE

PACKET_TOO_LARGE = 0x95
MAXIMUM_PACKET_SIZE_PROPERTY = 0x27
LONGEST_ID = "x" * 64
HUGE = 64 * 1024 * 1024


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + varint(len(body)) + body


def mqtt5_connect(client_id: str) -> bytes:
    # protocol name, level 5, clean start, keepalive 60, no properties, the client id
    body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + len(client_id).to_bytes(2, "big")
    return packet(0x10, body + client_id.encode())


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    """One MQTT packet: (first byte, body). Raises EOFError when the broker closed."""

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the broker closed the connection")
            data += chunk
        return data

    first = exactly(1)[0]
    length, shift = 0, 0
    while True:
        digit = exactly(1)[0]
        length += (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return first, exactly(length)


def test_the_broker_advertises_and_enforces_the_packet_limit(broker: Broker) -> None:
    watcher = Probe(broker, "watcher")
    assert not watcher.connect().is_failure
    assert not watcher.subscribe("farmtrace/#").is_failure
    topic = wire.entry_topic("farm1", "dev-a").encode()
    with socket.create_connection(("127.0.0.1", broker.port), timeout=TIMEOUT) as sock:
        sock.sendall(mqtt5_connect("dev-a"))
        kind, body = read_packet(sock)
        assert kind == 0x20 and body[1] == 0  # CONNACK, success
        # Its properties tell MQTT 5 clients the limit before they send anything.
        assert bytes([MAXIMUM_PACKET_SIZE_PROPERTY]) + MAX_PACKET_SIZE.to_bytes(4, "big") in body
        # A QoS 1 PUBLISH announcing a 64 MiB payload: refused on its header, before the
        # broker buffers any of it (it used to buffer and acknowledge 8 of these).
        header = len(topic).to_bytes(2, "big") + topic + b"\x00\x01" + b"\x00"
        sock.sendall(bytes([0x32]) + varint(len(header) + HUGE) + header + b"x" * 4096)
        kind, body = read_packet(sock)
        assert (kind, body[:1]) == (0xE0, bytes([PACKET_TOO_LARGE]))  # DISCONNECT 0x95
        with pytest.raises((EOFError, ConnectionError)):
            read_packet(sock)
    # The biggest packet farmtrace sends still passes: a maximum-size entry, longest topic.
    assert LARGEST_PACKET <= MAX_PACKET_SIZE
    sender = Probe(broker, "sender")
    assert not sender.connect().is_failure
    longest = wire.receipt_topic(LONGEST_ID, LONGEST_ID)
    assert sender.publish(longest, b"e" * MAX_ENTRY_BYTES).value == 0
    sender.close()
    got = watcher.receive(1)
    assert [(topic, len(payload)) for topic, payload in got] == [(longest, MAX_ENTRY_BYTES)]
    assert watcher.receive(1, timeout=0.3) == []  # nothing of the refused publish
    watcher.close()


def test_a_client_sending_64_mib_is_disconnected_and_the_broker_stays_small(
    broker: Broker,
) -> None:
    watcher = Probe(broker, "watcher")
    assert not watcher.connect().is_failure
    assert not watcher.subscribe("#").is_failure
    flooder = Probe(broker, "flooder")
    assert not flooder.connect().is_failure
    flooder.client.publish("farmtrace/farm1/dev-a/entry", b"x" * HUGE, qos=1)
    assert flooder.disconnected.get(timeout=TIMEOUT * 3) is not None
    flooder.close()
    assert watcher.receive(1, timeout=0.5) == []
    peak_kib = int(_proc_status(broker.pid, "VmHWM").split()[0])
    assert peak_kib < 32 * 1024, f"the broker's peak RSS was {peak_kib} KiB"
    watcher.close()


def _proc_status(pid: int, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.parametrize(
    ("bound", "kept"),
    [({"max_queued_messages": 10}, 10), ({"max_queued_bytes": 16 * 1024}, 16)],
    ids=["messages", "bytes"],
)
def test_each_clients_queue_is_bounded_and_the_overflow_counted(
    tmp_path: Path, bound: dict[str, int], kept: int
) -> None:
    """An offline persistent session (the gateway's, while it is down) keeps at most the bound."""
    broker = Broker(tmp_path, broker_settings(tmp_path, sys_interval=1, **bound))
    broker.start()
    try:
        subscriber = Probe(broker, "gw")
        assert not subscriber.connect(clean_start=False, session_expiry=300).is_failure
        assert not subscriber.subscribe("farmtrace/farm1/+/entry").is_failure
        subscriber.close()
        publisher = Probe(broker, "dev-a")
        assert not publisher.connect().is_failure
        for _ in range(40):  # 40 KiB, every one acknowledged by the broker
            assert publisher.publish("farmtrace/farm1/dev-a/entry", b"e" * 1024).value == 0
        publisher.close()
        subscriber = Probe(broker, "gw")
        assert not subscriber.connect(clean_start=False, session_expiry=300).is_failure
        assert subscriber.session_present
        assert len(subscriber.receive(40, timeout=2)) == kept
        subscriber.close()
        # What was dropped is counted where the gateway's $SYS ACL lets it look.
        monitor = Probe(broker, "monitor")
        assert not monitor.connect().is_failure
        monitor.subscribe("$SYS/broker/publish/messages/dropped")
        deadline = time.monotonic() + TIMEOUT
        dropped = 0
        while dropped < 40 - kept and time.monotonic() < deadline:
            for _, payload in monitor.receive(1, timeout=max(0.0, deadline - time.monotonic())):
                dropped = int(payload)
        assert dropped == 40 - kept
        monitor.close()
    finally:
        broker.kill()
