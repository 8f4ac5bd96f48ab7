"""Putting one device on the wire, and one-off signed entries (registrations) with receipts.

:class:`DeviceTransport` opens a device's outbox beside its identity and
connects it over MQTT (a one-link :class:`~signer.fleet.Fleet`) or a
serial line (:class:`~signer.serial_link.SerialLink`).
:func:`publish_and_wait` sends one signed entry (e.g. an operator's device
registration) and waits for the gateway's receipt naming it by hash.
"""

from __future__ import annotations

import dataclasses
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from chain.errors import EquivocationError, MalformedWireError, StorageError
from chain.keyfile import SignerKey
from chain.submission import SubmitReceipt
from chain.wire import Receipt, entry_digest, entry_topic, parse_receipt, receipt_topic
from signer._paho_io import release_sockets
from signer.device import Device
from signer.fleet import Fleet
from signer.http_submit import GatewayNotReadyError, SubmitUrl, sign_and_submit
from signer.identity import KEY_FILE, DeviceIdentity
from signer.mqtt_link import MqttLink, new_client
from signer.mqtt_tls import TlsContext, connect_failure, plain_hint, tls_context
from signer.mqtt_url import MqttUrl
from signer.outbox import Outbox
from signer.serial_link import SerialLink, open_port

__all__ = [
    "OUTBOX_FILE",
    "DeviceTransport",
    "NotConnectedError",
    "operator_identity",
    "publish_and_wait",
    "sign_and_publish",
]

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
    directory only; several processes may share it at once (a desk and the
    CLI): the identity is ``shared``, each seq allocated atomically.

    Raises:
        StorageError: ``state_dir`` holds another signer's identity, or a
            process has it open exclusively (a device's).
    """
    root = Path(state_dir)
    if not (root / KEY_FILE).exists():
        try:
            return DeviceIdentity.create(root, key, shared=True)
        except FileExistsError:  # another process created it meanwhile
            pass
    identity = DeviceIdentity.open(root, shared=True)
    if identity.key.public_key != key.public_key or identity.id != key.id:
        identity.close()
        raise StorageError(f"{root}: holds the state of {identity.id!r}, not of this key")
    return identity


class NotConnectedError(TimeoutError):
    """No connection to the broker in time, so nothing was signed (no seq used)."""


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
    return _exchange(lambda: (raw, seq), signer, url, farm, timeout)[2]


def sign_and_publish(
    sign: Callable[[], tuple[bytes, int]],
    signer: str,
    url: MqttUrl | SubmitUrl,
    farm: str,
    timeout: float,
) -> tuple[bytes, int, Receipt | SubmitReceipt]:
    """Connect as ``signer``; once the broker took the login, ``sign()``, publish, wait.

    ``sign()`` returns ``(raw, seq)``, e.g. from
    :meth:`~signer.identity.DeviceIdentity.sign_payload`: it is called at
    most once, and only after the broker accepted the connection, so that a
    refused login or an unreachable broker uses no seq (a seq signed but
    never sent would be a hole auditors report as missing). Then as
    :func:`publish_and_wait`; returns ``(raw, seq, receipt)``.

    With a :class:`~signer.http_submit.SubmitUrl` instead (a gateway taking
    entries over HTTP; ``farm`` unused), the same by
    :func:`~signer.http_submit.sign_and_submit`: ``sign()`` once the gateway
    said it takes submissions; the receipt is a
    :class:`~chain.submission.SubmitReceipt`.

    Raises:
        NotConnectedError: no connection within ``timeout`` (nothing signed).
        PermissionError: the broker refused the connection (nothing signed)
            or the entry; over HTTP, the gateway refused the entry
            (:class:`~signer.http_submit.SubmitRejectedError`, seq used).
        TimeoutError, EquivocationError: as for :func:`publish_and_wait` (seq used).
        Whatever ``sign()`` raises (e.g. StorageError, MalformedEntryError).
    """
    if isinstance(url, SubmitUrl):
        try:
            return sign_and_submit(sign, url, timeout)
        except GatewayNotReadyError as exc:
            raise NotConnectedError(str(exc)) from exc
    return _exchange(sign, signer, url, farm, timeout)


def _exchange(
    sign: Callable[[], tuple[bytes, int]], signer: str, url: MqttUrl, farm: str, timeout: float
) -> tuple[bytes, int, Receipt]:
    user = url.username or signer
    # A client id of its own: another process sending as the same signer must not
    # knock this one off (a broker with use_username_as_clientid replaces it anyway).
    client_id = f"{signer}-{secrets.token_hex(4)}"
    tls = tls_context(url) if url.tls else None
    client = new_client(client_id, dataclasses.replace(url, username=user), user, tls)
    done = threading.Event()
    signed: list[tuple[bytes, int, str]] = []  # (raw, seq, digest), once signed
    failed: list[BaseException] = []
    found: list[Receipt] = []
    refused: list[str] = []
    other: list[str] = []

    def on_connect(c: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            refused.append(f"broker refused the connection: {rc}")
            done.set()
            return
        if not signed:
            try:
                raw, seq = sign()
            except BaseException as exc:  # raised again in the caller's thread
                failed.append(exc)
                done.set()
                return
            signed.append((raw, seq, entry_digest(raw)))
        c.subscribe(receipt_topic(farm, signer), qos=1)
        c.publish(entry_topic(farm, signer), signed[0][0], qos=1)

    def on_publish(c: mqtt.Client, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            refused.append(f"broker refused the entry: {rc}")
            done.set()

    def on_message(c: mqtt.Client, u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            receipt = parse_receipt(bytes(message.payload))
        except MalformedWireError:
            return
        if receipt.dev != signer or not signed:
            return
        raw, seq, digest = signed[0]
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
    deadline = time.monotonic() + timeout
    why = _connect_until(client, url, tls, deadline)
    if why is not None:
        release_sockets(client)
        raise NotConnectedError(f"no connection to the broker: {why}: nothing signed")
    client.loop_start()  # paho's own thread owns the client from here on
    try:
        finished = done.wait(max(0.0, deadline - time.monotonic()))
    finally:
        client.disconnect()
        client.loop_stop()
        release_sockets(client)
    if failed:
        raise failed[0]
    if refused:
        raise PermissionError(refused[0])
    if not signed:
        raise NotConnectedError(
            f"no connection to the broker at {url} within {timeout:.0f} s"
            f"{plain_hint(url)}: nothing signed"
        )
    raw, seq, digest = signed[0]
    if not finished:
        raise TimeoutError(f"no receipt covering {signer} seq {seq} within {timeout:.0f} s")
    if other:
        raise EquivocationError(
            f"{signer} seq {seq}: expected the log to take entry {digest}, found that it "
            f"holds entry {other[0]} with the same seq",
            signer=signer,
            seq=seq,
            existing_index=-1,
        )
    return raw, seq, found[0]


def _connect_until(
    client: mqtt.Client, url: MqttUrl, tls: TlsContext | None, deadline: float
) -> str | None:
    """Connect ``client`` to ``url`` (TCP, TLS, CONNECT sent), retrying until ``deadline``.

    Returns None once connected, else why not (:func:`signer.mqtt_tls.connect_failure`);
    a certificate the client refuses is not retried.
    """
    delay = 0.2
    while True:
        if tls is not None:
            tls.last_socket = None
        try:
            client.connect(url.host, url.port, 30)
            return None
        except OSError as exc:  # the TLS handshake too: ssl.SSLError is an OSError
            if tls is not None:
                tls.close_failed()
            why = connect_failure(exc, url)
            if isinstance(exc, ssl.SSLCertVerificationError):
                return why
        if time.monotonic() + delay > deadline:
            return why
        time.sleep(delay)  # a retry's backoff: the broker may be starting
        delay = min(delay * 2, 2.0)
