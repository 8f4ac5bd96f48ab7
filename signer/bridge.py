"""A serial-to-MQTT bridge: forwards devices' JWS lines unchanged, and their receipts back.

design.md section 4: "A bridge forwards lines to MQTT unchanged; it holds no
keys." It checks only the framing (ASCII, at most 4096 bytes, ``\\n``) and
reads the signer id from the JWS protected header's ``kid`` (base64url JSON;
it verifies nothing: the gateway does), then publishes the line (QoS 1) on
``farmtrace/<farm>/<kid>/entry``. For every device it has seen, it
subscribes to the device's receipt topic and writes each receipt down the
line as one line. A line that fails the framing or has no readable ``kid``
(deep nesting, huge numbers, invalid UTF-8: whatever it holds) or an
unexpected error (``internal_error``) is dropped, logged and counted by
reason (:attr:`Bridge.dropped`); the
device sends it again when no receipt comes. While the broker is
unreachable, lines are dropped the same way (reason ``mqtt_down``): the
bridge keeps nothing, the device's outbox does.

One thread (:meth:`Bridge.run`) owns both the port and the paho client.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
import serial
from paho.mqtt.reasoncodes import ReasonCode

from chain.errors import MalformedEntryError, MalformedError
from chain.json_input import load_json_object
from chain.jws import check_id
from chain.wire import entry_topic, parse_receipt, receipt_topic
from signer._lines import LineFramer
from signer._paho_io import read_available, readable
from signer.mqtt_link import new_client
from signer.mqtt_tls import connect_failure, tls_context
from signer.mqtt_url import MqttUrl

__all__ = ["Bridge", "signer_of"]

_logger = logging.getLogger(__name__)


def signer_of(line: bytes) -> str:
    """The ``kid`` of a compact JWS line's protected header (nothing is verified).

    Any bytes at all give a kid or this error (deep nesting, huge numbers and
    invalid UTF-8 included: the header goes through :mod:`chain.json_input`).

    Raises:
        MalformedEntryError: the line is not ``header.payload.signature`` with
            a base64url JSON object header holding an id-shaped ``kid``.
    """
    parts = line.split(b".")
    if len(parts) != 3:
        raise MalformedEntryError(f"expected 3 dot-separated parts, found {len(parts)}")
    try:
        raw_header = base64.urlsafe_b64decode(parts[0] + b"=" * (-len(parts[0]) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedEntryError(f"protected header is not base64url JSON: {exc}") from None
    header = load_json_object(
        raw_header, "protected header: expected base64url JSON", error=MalformedEntryError
    )
    return check_id(header.get("kid"), "kid")


class Bridge:
    """Bridges ``port`` to the broker at ``url`` for farm ``farm``.

    The bridge logs in as the URL's user (the broker's ACL must let it
    publish entries and read receipts of the devices behind it); its client
    id is ``client_id`` (default: ``farmtrace-bridge-<user>``). With
    ``mqtts://`` it connects with TLS (:mod:`signer.mqtt_tls`).

    Raises (constructor):
        ValueError: the URL's TLS files are unusable.
    """

    def __init__(
        self, port: serial.SerialBase, url: MqttUrl, farm: str, *, client_id: str | None = None
    ) -> None:
        self.port = port
        self.url = url
        self._tls = tls_context(url) if url.tls else None
        self.farm = farm
        self.client_id = client_id or f"farmtrace-bridge-{url.username or 'anonymous'}"
        self.dropped: Counter[str] = Counter()
        self.forwarded = 0
        self.acked = 0
        self.publish_failures = 0
        self.receipts_down = 0
        self.devices: set[str] = set()
        self.connected = threading.Event()
        self._framer = LineFramer()
        self._client: mqtt.Client | None = None
        self._next_attempt = 0.0
        self._delay = 0.5
        self._pending: dict[int, str] = {}  # mid -> device, for PUBACK failures

    def run(self, stop: threading.Event) -> None:
        """Bridge until ``stop`` is set; serial and MQTT failures are logged and retried."""
        try:
            while not stop.is_set():
                self._connect_if_due()
                self._serial_round(stop)
                self._mqtt_round()
        finally:
            client, self._client = self._client, None
            if client is not None:
                client.disconnect()
                client.loop_write()

    def _serial_round(self, stop: threading.Event) -> None:
        try:
            data = self.port.read(self.port.in_waiting or 1)  # waits up to the port's timeout
        except (serial.SerialException, OSError) as exc:
            _logger.error("bridge: serial port failed: %s; retrying in 1 s", exc)
            stop.wait(1.0)
            return
        for line, reason in self._framer.feed(data):
            if line is None:
                self._drop(reason or "framing", "")
                continue
            try:
                self._forward(line)
            except Exception as exc:  # a bug must not stop the bridge: drop the line, loudly
                _logger.debug("bridge: internal error", exc_info=True)
                self._drop("internal_error", f"{type(exc).__name__}: {exc}")

    def _forward(self, line: bytes) -> None:
        try:
            kid = signer_of(line)
        except MalformedError as exc:
            self._drop("bad_header", str(exc))
            return
        client = self._client
        if client is None or not self.connected.is_set():
            self._drop("mqtt_down", f"entry of {kid}")
            return
        if kid not in self.devices:
            self.devices.add(kid)
            client.subscribe(receipt_topic(self.farm, kid), qos=1)
        info = client.publish(entry_topic(self.farm, kid), line, qos=1)
        self._pending[info.mid] = kid
        self.forwarded += 1

    def _drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        _logger.warning(
            "bridge: dropped a line (%s%s); %d dropped for this reason so far",
            reason,
            f": {detail}" if detail else "",
            self.dropped[reason],
        )

    def _mqtt_round(self) -> None:
        client = self._client
        if client is None:
            return
        sock = client.socket()
        if sock is not None and readable(sock):
            read_available(client)
        if self._client is not None and client.want_write():
            client.loop_write()
        if self._client is not None:
            client.loop_misc()

    def _connect_if_due(self) -> None:
        if self._client is not None or time.monotonic() < self._next_attempt:
            return
        client = new_client(self.client_id, self.url, self.url.username or "", self._tls)
        if self.url.username is None:
            client.username_pw_set(None)
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        if self._tls is not None:
            self._tls.last_socket = None
        try:
            client.connect(self.url.host, self.url.port, 30, clean_start=True)
        except OSError as exc:
            if self._tls is not None:
                self._tls.close_failed()
            self._retry(connect_failure(exc, self.url))
            return
        self._client = client

    def _retry(self, why: str) -> None:
        _logger.warning("bridge: %s; retrying in %.1f s", why, self._delay)
        self._next_attempt = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, 30.0)

    def _on_connect(self, client: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        if rc.is_failure:
            _logger.error("bridge: broker %s refused the connection: %s", self.url, rc)
            return
        self._delay = 0.5
        for kid in sorted(self.devices):
            client.subscribe(receipt_topic(self.farm, kid), qos=1)
        self.connected.set()
        _logger.info("bridge: connected to %s", self.url)

    def _on_disconnect(self, client: mqtt.Client, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        if client is self._client:
            self._client = None
            self.connected.clear()
            self._pending.clear()
            self._retry(f"disconnected from {self.url}: {rc}")

    def _on_publish(self, client: mqtt.Client, u: Any, mid: int, rc: ReasonCode, p: Any) -> None:
        kid = self._pending.pop(mid, None)
        if kid is None:
            return
        if rc.is_failure:
            self.publish_failures += 1
            _logger.error("bridge: the broker refused an entry of %s: %s", kid, rc)
        else:
            self.acked += 1

    def _on_message(self, client: mqtt.Client, u: Any, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        try:
            parse_receipt(payload)
        except MalformedError as exc:
            self.dropped["bad_receipt"] += 1
            _logger.warning("bridge: not passing on a receipt on %s: %s", message.topic, exc)
            return
        try:
            self.port.write(payload + b"\n")
        except (serial.SerialException, OSError) as exc:
            self.dropped["serial_write"] += 1
            _logger.error("bridge: could not write a receipt down the line: %s", exc)
            return
        self.receipts_down += 1
