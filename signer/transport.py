"""Putting one device on the wire, and one-off signed entries (registrations) with receipts.

:class:`DeviceTransport` opens a device's outbox beside its identity and
connects it over MQTT (a one-link :class:`~signer.fleet.Fleet`) or a
serial line (:class:`~signer.serial_link.SerialLink`).
:func:`publish_and_wait` sends one signed entry (e.g. an operator's device
registration) and waits for the gateway's receipt naming it by hash.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from chain.errors import EquivocationError, MalformedWireError, StorageError
from chain.keyfile import SignerKey
from chain.wire import Receipt, entry_digest, entry_topic, parse_receipt, receipt_topic
from signer._paho_io import release_sockets
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import KEY_FILE, DeviceIdentity
from signer.mqtt_link import MqttLink, new_client
from signer.mqtt_url import MqttUrl
from signer.outbox import Outbox
from signer.serial_link import SerialLink, open_port

__all__ = ["OUTBOX_FILE", "DeviceTransport", "operator_identity", "publish_and_wait"]

OUTBOX_FILE = "outbox.db"
"""The outbox's file name inside a device's state directory."""


class DeviceTransport:
    """``identity``'s device, sending over MQTT (``url``) or ``serial`` (exactly one of them).

    Raises (constructor):
        ValueError: neither or both transports, or a bad MQTT user.
        StorageError: the outbox cannot be opened or is ahead of the seq state.
        serial.SerialException: the serial port cannot be opened.
    """

    def __init__(
        self, identity: DeviceIdentity, farm: str, url: MqttUrl | None, serial: str | None
    ) -> None:
        if (url is None) == (serial is None):
            raise ValueError("expected exactly one of an MQTT URL and a serial port")
        outbox = Outbox.open(identity.state_dir / OUTBOX_FILE)
        try:
            self.device = Device(identity, outbox)
            if url is not None:
                self.link: Any = MqttLink(self.device, url, farm)
                self._fleet: Fleet | None = Fleet([self.link])
                self._fleet.start()
            else:
                assert serial is not None
                self._fleet = None
                self._port = open_port(serial)
                self.link = SerialLink(self.device, self._port)
                self.link.start()
        except BaseException:
            outbox.close()
            raise

    def wake(self) -> None:
        """New entries are in the outbox."""
        if self._fleet is not None:
            self._fleet.wake()

    def close(self) -> None:
        """Stop the link (MQTT: retained ``offline``) and close the outbox."""
        if self._fleet is not None:
            self._fleet.stop()
        else:
            self.link.stop()
            self._port.close()
        self.device.outbox.close()

    def __enter__(self) -> DeviceTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def operator_identity(state_dir: str | Path, key: SignerKey) -> DeviceIdentity:
    """The seq state of signer ``key`` in ``state_dir``, created (with a copy of the key) if new.

    Every signer has one seq stream, so an operator must sign from one state
    directory only.

    Raises:
        StorageError: ``state_dir`` holds another signer's identity, or is locked.
    """
    root = Path(state_dir)
    if not (root / KEY_FILE).exists():
        return DeviceIdentity.create(root, key)
    identity = DeviceIdentity.open(root)
    if identity.key.public_key != key.public_key or identity.id != key.id:
        identity.close()
        raise StorageError(f"{root}: holds the state of {identity.id!r}, not of this key")
    return identity


def publish_and_wait(
    raw: bytes, seq: int, signer: str, url: MqttUrl, farm: str, timeout: float
) -> Receipt:
    """Publish ``raw`` (QoS 1) as ``signer``; return the first receipt naming it by hash.

    Only a receipt that names ``(seq, SHA-256 of raw)`` confirms (see
    :meth:`chain.wire.Receipt.names`): one that merely covers ``seq`` could
    be about another entry with the same seq. Such a receipt makes the entry
    be published again (the gateway answers a resend of a committed entry
    with its hash). The entry is also published again on every reconnect.

    Raises:
        TimeoutError: no receipt naming the entry within ``timeout`` seconds.
        PermissionError: the broker refused the connection or the entry.
        EquivocationError: a receipt names another entry as ``(signer, seq)``:
            the log holds that one, so this one can never be committed
            (``existing_index`` is -1: the receipt does not say where it is).
    """
    user = url.username or signer
    client = new_client(signer, dataclasses.replace(url, username=user), user)
    digest = entry_digest(raw)
    done = threading.Event()
    found: list[Receipt] = []
    refused: list[str] = []
    other: list[str] = []

    def on_connect(c: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            refused.append(f"broker refused the connection: {rc}")
            done.set()
            return
        c.subscribe(receipt_topic(farm, signer), qos=1)
        c.publish(entry_topic(farm, signer), raw, qos=1)

    def on_publish(c: mqtt.Client, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            refused.append(f"broker refused the entry: {rc}")
            done.set()

    def on_message(c: mqtt.Client, u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            receipt = parse_receipt(bytes(message.payload))
        except MalformedWireError:
            return
        if receipt.dev != signer:
            return
        named = dict(receipt.hashes).get(seq)
        if named == digest:
            found.append(receipt)
            done.set()
        elif named is not None:
            other.append(named)
            done.set()
        elif receipt.covers(seq):
            c.publish(entry_topic(farm, signer), raw, qos=1)  # which entry? ask again

    client.on_connect, client.on_publish, client.on_message = on_connect, on_publish, on_message
    client.connect_async(url.host, url.port, 30)
    client.loop_start()  # paho's own thread owns the client from here on
    try:
        if not done.wait(timeout):
            raise TimeoutError(f"no receipt covering {signer} seq {seq} within {timeout:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
        release_sockets(client)
    if refused:
        raise PermissionError(refused[0])
    if other:
        raise EquivocationError(
            f"{signer} seq {seq}: expected the log to take entry {digest}, found that it "
            f"holds entry {other[0]} with the same seq",
            signer=signer,
            seq=seq,
            existing_index=-1,
        )
    return found[0]
