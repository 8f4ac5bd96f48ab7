"""One device's MQTT connection: send its outbox, apply its receipts (design.md section 4).

Per connection the link (paho-mqtt 2.x, MQTT 5, TCP_NODELAY):

- logs in with client id and user name = the device id (the broker's ACL
  lets it publish only under its own id), with the URL's password if any;
- leaves a retained ``offline`` status as its last will and publishes a
  retained ``online`` status once connected, with its outbox size, oldest
  kept ts, firmware version and lowest kept seq (``low``); the gateway's
  receipts list committed ranges from ``low`` up. A receipt that lists as
  many ranges as one can (there may be more) makes the link publish its
  status again if ``low`` changed, so that the next receipt reaches further:
  every kept entry is eventually receipted, however many holes lie below.
  A changed outbox size is published at most once a minute;
- subscribes (QoS 1) to its receipt topic; the gateway publishes receipts
  retained, so a reconnecting device gets the latest one at once;
- publishes kept entries in seq order (QoS 1) with at most ``window``
  awaiting a PUBACK, starting again from the oldest kept entry on every
  (re)connect. A PUBACK with a failure reason code (e.g. 0x87 not
  authorized) is logged and counted, never taken as delivery: the entry
  stays kept and is sent again later (see :mod:`signer._sender`).

paho's client is not thread-safe, so a link does no I/O of its own: a
:class:`~signer.fleet.Fleet` thread drives it (and many others) with
the ``driver`` methods below. Each connection gets a fresh paho client, so
paho's in-memory resend queue never duplicates what the outbox resends.
Other threads only touch the durable outbox (``Device.record``), then call
:meth:`Fleet.wake`; :attr:`stats` and :meth:`wait_drained` are safe anywhere.
"""

from __future__ import annotations

import importlib.metadata
import logging
import random
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from chain.errors import StorageError
from chain.wire import (
    MAX_RECEIPT_RANGES,
    entry_topic,
    receipt_topic,
    status_payload,
    status_topic,
)
from signer._paho_io import read_available
from signer._sender import LinkStats, Sender
from signer.device import Device
from signer.mqtt_tls import TlsContext, connect_failure, plain_hint, tls_context
from signer.mqtt_url import MqttUrl

__all__ = ["LinkStats", "MqttLink", "firmware_version", "new_client"]

_logger = logging.getLogger(__name__)
_STABLE = 10.0  # seconds a connection must last before the reconnect backoff resets
_STATUS_EVERY = 60.0  # seconds between status updates when only the outbox size changed


def firmware_version() -> str:
    """``farmtrace/<installed version>``: what a device reports as ``fw`` by default."""
    try:
        return f"farmtrace/{importlib.metadata.version('farmtrace')}"
    except importlib.metadata.PackageNotFoundError:
        return "farmtrace/unknown"


def new_client(
    client_id: str, url: MqttUrl, username: str, tls: TlsContext | None = None
) -> mqtt.Client:
    """A paho MQTT 5 client with TCP_NODELAY, logging in as ``username`` with the URL's password.

    For ``mqtts://`` it uses TLS with ``tls`` (default: :func:`signer.mqtt_tls.tls_context`).

    Raises:
        ValueError: ``mqtts://`` without ``tls``, and the URL's TLS files are unusable.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, url.password)
    if url.tls:
        client.tls_set_context(tls if tls is not None else tls_context(url))
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttLink:
    """Connects ``device`` to the broker at ``url`` for farm ``farm``.

    With ``mqtts://`` every connection is TLS (:mod:`signer.mqtt_tls`); a TLS
    failure (unknown CA, wrong host name, a plain port) is, like any failed
    connect, logged in one line naming the cause, counted in
    ``stats.connect_failures`` and retried with backoff: the outbox keeps
    every entry meanwhile.

    Raises (constructor):
        ValueError: the URL names a user other than the device id, a
            parameter is out of range, or the URL's TLS files are unusable.
    """

    def __init__(
        self,
        device: Device,
        url: MqttUrl,
        farm: str,
        *,
        window: int = 100,
        keepalive: int = 30,
        min_delay: float = 0.5,
        max_delay: float = 30.0,
        resend_after: float = 30.0,
        fw: str | None = None,
    ) -> None:
        if url.username is not None and url.username != device.id:
            raise ValueError(
                f"MQTT user: expected the device id {device.id!r} (the broker ACL pins "
                f"topics to it), found {url.username!r}"
            )
        self.device = device
        self.url = url
        self._tls = tls_context(url) if url.tls else None
        self.farm = farm
        self.fw = fw if fw is not None else firmware_version()
        self._status_low: int | None = None  # the low last published on this connection
        self._status_count = -1  # the outbox size last published (-1: none yet)
        self._status_at = 0.0
        self.stats = LinkStats()
        self.sender = Sender(device, self.stats, window=window, resend_after=resend_after)
        self.keepalive = keepalive
        self._min_delay, self._max_delay = min_delay, max_delay
        self._delay = min_delay
        self._entry_topic = entry_topic(farm, device.id)
        self._receipt_topic = receipt_topic(farm, device.id)
        self._status_topic = status_topic(farm, device.id)
        self.client: mqtt.Client | None = None
        self.connected = False
        self._next_attempt = 0.0
        self._in_flight: dict[int, int] = {}  # mid -> seq
        self._failures_logged: set[int] = set()
        self._closing = False
        self._connected_at = 0.0
        self._drained = threading.Condition()

    # -- safe from any thread ---------------------------------------------------------------

    def wait_drained(self, timeout: float) -> bool:
        """Wait until the outbox is empty (every entry receipted); False on timeout."""
        with self._drained:
            return self._drained.wait_for(lambda: self.device.outbox.count == 0, timeout)

    # -- driver methods: only the one thread driving this link calls them --------------------

    def connect_if_due(self, now: float) -> bool:
        """Start a connection if none is up and the backoff delay has passed; True if started."""
        if self.client is not None or self._closing or now < self._next_attempt:
            return False
        client = new_client(self.device.id, self.url, self.device.id, self._tls)
        client.will_set(self._status_topic, status_payload("offline"), qos=1, retain=True)
        client.max_inflight_messages_set(0)  # the Sender bounds what is in flight
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        if self._tls is not None:
            self._tls.last_socket = None
        try:
            client.connect(self.url.host, self.url.port, self.keepalive, clean_start=True)
        except OSError as exc:  # the TLS handshake too: ssl.SSLError is an OSError
            if self._tls is not None:
                self._tls.close_failed()
            self.stats.connect_failures += 1
            self._schedule_retry(connect_failure(exc, self.url))
            return False
        self.client = client
        return True

    def socket(self) -> socket.socket | None:
        """The current connection's socket (None when there is none)."""
        sock = None if self.client is None else self.client.socket()
        return sock if isinstance(sock, socket.socket) else None

    def want_write(self) -> bool:
        """Whether paho has bytes waiting to be written."""
        return self.client is not None and self.client.want_write()

    def handle_read(self) -> None:
        """The socket is readable: let paho read (callbacks run here)."""
        if self.client is not None:
            self._check(read_available(self.client))

    def handle_write(self) -> None:
        """The socket is writable: let paho write."""
        if self.client is not None:
            self._check(self.client.loop_write())

    def tick(self) -> None:
        """Call about once a second: keepalive, and resend if receipts stalled."""
        if self.client is not None:
            self._check(self.client.loop_misc())
        if self.connected and time.monotonic() - self._connected_at > _STABLE:
            self._delay = self._min_delay  # only a connection that lasted resets the backoff
        if self.connected and self.client is not None:
            if time.monotonic() - self._status_at >= _STATUS_EVERY:
                self._publish_status_if_changed(self.client, count_too=True)
            try:
                if self.sender.check_stalled():
                    self.pump()
            except StorageError as exc:
                _logger.error("%s: outbox failed: %s", self.device.id, exc)

    def pump(self) -> None:
        """Publish kept entries while the in-flight window has room."""
        if not self.connected or self.client is None:
            return
        try:
            batch = self.sender.next_batch()
        except StorageError as exc:
            _logger.error("%s: outbox failed: %s", self.device.id, exc)
            return
        for entry in batch:
            info = self.client.publish(self._entry_topic, entry.raw, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                _logger.error(
                    "%s: publish of seq %d failed: rc %s", self.device.id, entry.seq, info.rc
                )
                self.sender.done()
                continue
            self._in_flight[info.mid] = entry.seq

    def close(self) -> None:
        """Publish the retained ``offline`` status and disconnect cleanly; never reconnect.

        The driver then flushes (``want_write``/``handle_write``) and calls :meth:`drop`.
        """
        self._closing = True
        if self.client is not None and self.connected:
            self.client.publish(self._status_topic, status_payload("offline"), qos=1, retain=True)
            self.client.disconnect()

    def drop(self) -> None:
        """Forget the connection, closing its socket."""
        client = self.client
        if client is not None:
            self._lost(client, "closed")
            sock = client.socket()
            if isinstance(sock, socket.socket):
                sock.close()

    # -- paho callbacks (run inside handle_read / handle_write) -------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if rc.is_failure:
            why = f"broker {self.url} refused the connection: {rc}"
            self._connect_failed(client, why, hint=False)
            return
        self.connected = True
        self.stats.connects += 1
        self._connected_at = time.monotonic()
        self._in_flight.clear()
        self.sender.restart()
        client.subscribe(self._receipt_topic, qos=1)
        self._status_count = -1
        self._publish_status_if_changed(client)
        _logger.debug("%s: connected to %s", self.device.id, self.url)
        self.pump()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        if self.connected:
            self._lost(client, f"lost the connection to {self.url}: {rc}")
        else:
            self._connect_failed(client, f"could not connect to {self.url}: {rc}")

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, rc: ReasonCode, props: Any
    ) -> None:
        seq = self._in_flight.pop(mid, None)
        if seq is None:
            return
        self.sender.done()
        if not rc.is_failure:
            self.stats.acked += 1
            return
        self.stats.publish_failures += 1
        log = _logger.error if rc.value not in self._failures_logged else _logger.debug
        self._failures_logged.add(rc.value)
        log(
            "%s: the broker refused entry seq %d on %s: %s (0x%02x); it stays in the outbox "
            "(%d refusals so far)",
            self.device.id,
            seq,
            self._entry_topic,
            rc,
            rc.value,
            self.stats.publish_failures,
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic != self._receipt_topic:
            return
        if self.sender.apply_receipt(bytes(message.payload)):
            last = self.sender.last_receipt
            if last is not None and len(last.ranges) >= MAX_RECEIPT_RANGES:
                self._publish_status_if_changed(client)  # there may be more: tell our low
            with self._drained:
                self._drained.notify_all()

    def _publish_status_if_changed(self, client: mqtt.Client, *, count_too: bool = False) -> None:
        """Publish the status if none was on this connection, or ``low`` (or the size) changed."""
        low, count = self.device.outbox.lowest_seq, self.device.outbox.count
        published = self._status_count >= 0 and low == self._status_low
        if published and (not count_too or count == self._status_count):
            return
        try:
            payload = self.device.status(self.fw).to_json()
        except StorageError as exc:
            _logger.error("%s: outbox failed: %s", self.device.id, exc)
            return
        client.publish(self._status_topic, payload, qos=1, retain=True)
        self._status_low, self._status_count = low, count
        self._status_at = time.monotonic()

    def _check(self, rc: MQTTErrorCode) -> None:
        if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN) and self.client is not None:
            why = f"connection to {self.url} failed: {mqtt.error_string(rc)}"
            if self.connected:
                self._lost(self.client, why)
            else:
                self._connect_failed(self.client, why)

    def _connect_failed(self, client: mqtt.Client, why: str, *, hint: bool = True) -> None:
        """The connection ended before the broker accepted it: count it, say why, retry.

        ``hint``: the broker did not answer, so a plain URL may be aimed at a TLS port.
        """
        if client is not self.client or self._closing:
            self._lost(client, why)
            return
        self.stats.connect_failures += 1
        self._lost(client, why + (plain_hint(self.url) if hint else ""))

    def _lost(self, client: mqtt.Client, why: str) -> None:
        if client is not self.client:
            return  # already handled
        self.client = None
        self.connected = False
        self._in_flight.clear()
        self.sender.restart()
        if not self._closing:
            self._schedule_retry(why)

    def _schedule_retry(self, why: str) -> None:
        delay = self._delay * random.uniform(0.5, 1.0)  # jitter: a fleet does not reconnect in step
        _logger.warning("%s: %s; retrying in %.1f s", self.device.id, why, delay)
        self._next_attempt = time.monotonic() + delay
        self._delay = min(self._delay * 2, self._max_delay)
