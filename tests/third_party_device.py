"""A device written only from design.md §2 and §4, as an outside device maker would.

It uses pyca ``cryptography`` for Ed25519 and paho for MQTT, and nothing of
farmtrace: if it works against our gateway, the contract is what design.md
says. It signs temperature readings as JWS compact (header exactly
``{"alg":"EdDSA","kid":"<id>"}``), publishes each on
``farmtrace/<farm>/<id>/entry`` at QoS 1, reads its receipts on
``.../receipt`` and counts its disconnects.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from paho.mqtt.enums import CallbackAPIVersion


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ThirdPartyDevice:
    """One device: its key, its seq, its MQTT session (``settings`` as `device add` prints it)."""

    def __init__(self, dev: str, key: Ed25519PrivateKey | None = None) -> None:
        self.dev = dev
        self.key = key or Ed25519PrivateKey.generate()
        self.seq = 0
        self.disconnects = 0
        self.connack: Any = None
        self.committed = 0  # the highest contiguous seq the gateway's receipts cover
        self._cond = threading.Condition()
        self._client: mqtt.Client | None = None
        self._topics: dict[str, str] = {}

    @property
    def pubkey(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return b64url(raw)

    def sign(self, payload: dict[str, Any]) -> bytes:
        header = b64url(f'{{"alg":"EdDSA","kid":"{self.dev}"}}'.encode())
        body = b64url(json.dumps(payload, separators=(",", ":")).encode())
        signature = b64url(self.key.sign(f"{header}.{body}".encode()))
        return f"{header}.{body}.{signature}".encode()

    def reading(self, subject: str, value: float) -> bytes:
        self.seq += 1
        payload = {"type": "reading", "dev": self.dev, "seq": self.seq}
        payload |= {"ts": time.time_ns() // 1_000_000, "kind": "temperature"}
        payload |= {"subject": subject, "value": value, "unit": "Cel"}
        return self.sign(payload)

    def connect(self, settings: dict[str, Any], timeout: float = 10.0) -> Any:
        """Connect with the printed settings; return the CONNACK's reason code."""
        broker = settings["mqtt"]
        self._topics = settings["topics"]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.dev, protocol=mqtt.MQTTv5)
        client.username_pw_set(broker["username"], broker["password"])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.connack = None
        client.connect(broker["host"], broker["port"])
        client.loop_start()
        self._client = client
        with self._cond:
            self._cond.wait_for(lambda: self.connack is not None, timeout)
        return self.connack

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe(self._topics["receipt"], qos=1)
        with self._cond:
            self.connack = rc
            self._cond.notify_all()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        with self._cond:
            if self.connack is not None and not self.connack.is_failure:
                self.disconnects += 1
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        receipt = json.loads(message.payload)
        with self._cond:
            self.committed = max(self.committed, int(receipt["seq"]))
            self._cond.notify_all()

    def publish(self, raw: bytes) -> None:
        assert self._client is not None
        self._client.publish(self._topics["entry"], raw, qos=1)

    def wait_committed(self, seq: int, timeout: float = 20.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.committed >= seq, timeout)

    def wait_disconnected(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.disconnects >= count, timeout)

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client._reset_sockets()  # paho keeps a socket pair until GC (paho#627)
            self._client = None
