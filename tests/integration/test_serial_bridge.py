"""A device on a real pty, a bridge on another, a null-modem relay between, a real broker."""

from __future__ import annotations

import base64
import os
import select
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_gateway import FakeGateway
from mqtt_broker import Broker

from chain.entries import reading_payload, sign_entry
from signer.bridge import Bridge
from signer.device import Device
from signer.identity import DeviceIdentity
from signer.mqtt_url import parse_mqtt_url
from signer.outbox import Outbox
from signer.serial_link import SerialLink, open_port

FARM = "f1"
T0 = 1_767_225_600_000


class NullModem:
    """Two pty pairs whose master ends are cross-connected by a relay thread."""

    def __init__(self) -> None:
        self.device_master, device_slave = os.openpty()
        self.bridge_master, bridge_slave = os.openpty()
        self.device_port = os.ttyname(device_slave)
        self.bridge_port = os.ttyname(bridge_slave)
        self.device_slave = device_slave  # what a device writes here reaches the bridge
        self._slaves = (device_slave, bridge_slave)
        for fd in (self.device_master, self.bridge_master, *self._slaves):
            tty.setraw(fd)  # no echo, no CR/LF translation: a plain 8-bit line
        for fd in (self.device_master, self.bridge_master):
            os.set_blocking(fd, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        peer = {self.device_master: self.bridge_master, self.bridge_master: self.device_master}
        while not self._stop.is_set():
            readable, _, _ = select.select(list(peer), [], [], 0.05)
            for fd in readable:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    continue
                self._forward(peer[fd], data)

    def _forward(self, fd: int, data: bytes) -> None:
        # A side nobody reads any more (a stopped bridge) must not block the
        # relay for ever: write with select, and give up when told to stop.
        while data and not self._stop.is_set():
            _, writable, _ = select.select([], [fd], [], 0.05)
            if writable:
                try:
                    data = data[os.write(fd, data) :]
                except BlockingIOError:
                    continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the null modem's relay did not stop"
        for fd in (self.device_master, self.bridge_master, *self._slaves):
            os.close(fd)


@pytest.fixture
def modem() -> Iterator[NullModem]:
    cable = NullModem()
    yield cable
    cable.close()


@pytest.fixture
def bridge(modem: NullModem, broker: Broker) -> Iterator[Bridge]:
    port = open_port(modem.bridge_port)
    running = Bridge(port, parse_mqtt_url(broker.url), FARM)
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    assert running.connected.wait(10)
    yield running
    stop.set()
    thread.join(5)
    port.close()


def test_a_serial_device_empties_its_outbox_through_the_bridge(
    modem: NullModem, bridge: Bridge, broker: Broker, tmp_path: Path
) -> None:
    gateway = FakeGateway(broker.port, FARM)
    identity = DeviceIdentity.open_or_create(tmp_path / "d", "b1-temp")
    device = Device(identity, Outbox.open(tmp_path / "d" / "outbox.db"))
    device.record_many([("temperature", "barn:b1", 20 + k / 8, "Cel", T0 + k) for k in range(60)])
    port = open_port(modem.device_port)
    link = SerialLink(device, port, resend_after=2.0)
    link.start()
    try:
        assert link.wait_drained(15)  # the receipts came back down the line
        device.record("temperature", "barn:b1", 21.0, "Cel", T0 + 100)  # and live ones follow
        assert link.wait_drained(10)
    finally:
        link.stop()
        port.close()
        gateway.stop()
    assert gateway.seqs("b1-temp") == set(range(1, 62))
    assert link.stats.receipts >= 1 and link.stats.bad_receipts == 0
    assert bridge.forwarded >= 61 and bridge.receipts_down >= 1 and not bridge.dropped
    assert bridge.devices == {"b1-temp"}


def test_garbled_lines_are_dropped_with_a_reason_and_good_ones_still_pass(
    modem: NullModem, bridge: Bridge, broker: Broker
) -> None:
    gateway = FakeGateway(broker.port, FARM)
    good = sign_entry(
        reading_payload("b2-hum", 1, T0, "humidity", "barn:b2", 55.5, "%RH"), "b2-hum", bytes(32)
    )
    noise = [
        b"\xff\xfe garbage\n",  # not ASCII
        b"A" * 5000 + b"\n",  # longer than an entry can be
        b"not-a-jws\n",
        b"e30.e30.AA\n",  # header {} has no kid
        good[:-2] + b"\n",  # framing fine, signature truncated: forwarded, the gateway judges
        good + b"\n",
    ]
    os.write(modem.device_slave, b"".join(noise))
    deadline = time.monotonic() + 10
    while not gateway.seqs("b2-hum") and time.monotonic() < deadline:
        time.sleep(0.02)
    gateway.stop()
    assert gateway.seqs("b2-hum") == {1}
    assert bridge.dropped == {"not_ascii": 1, "too_long": 1, "bad_header": 2}
    assert bridge.forwarded == 2


def test_poison_lines_are_dropped_and_the_bridge_keeps_forwarding(
    modem: NullModem, bridge: Bridge, broker: Broker
) -> None:
    """Issue 11: nested JSON, huge numbers or bad UTF-8 in a header cannot stop the bridge."""
    gateway = FakeGateway(broker.port, FARM)
    good = [
        sign_entry(
            reading_payload("b3-t", seq, T0, "temperature", "barn:b3", 20.5, "Cel"),
            "b3-t",
            bytes(32),
        )
        for seq in (1, 2)
    ]
    headers = [
        b'{"status":"online","x":' + b"[" * 1400 + b"]" * 1400 + b"}",
        b"[" * 2900,
        b'{"alg":"EdDSA","kid":1e999999}',
        b'{"alg":"EdDSA","kid":' + b"9" * 2000 + b"}",
        b'{"alg":"EdDSA","kid":"b3-\xff"}',
    ]
    poison = [base64.urlsafe_b64encode(h).rstrip(b"=") + b".e30.AA\n" for h in headers]
    assert all(len(line) <= 4097 for line in poison)
    os.write(modem.device_slave, good[0] + b"\n" + b"".join(poison) + good[1] + b"\n")
    deadline = time.monotonic() + 10
    while gateway.seqs("b3-t") != {1, 2} and time.monotonic() < deadline:
        time.sleep(0.02)
    gateway.stop()
    assert gateway.seqs("b3-t") == {1, 2}
    assert bridge.dropped == {"bad_header": len(poison)}
    assert bridge.forwarded == 2
