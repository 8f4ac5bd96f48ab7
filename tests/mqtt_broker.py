"""A real Mosquitto broker for tests, and a small synchronous MQTT 5 client to probe it.

Integration tests use a real broker rather than a mock: design.md's delivery
rules (PUBACK is not durability, silent queue drops, persistent sessions,
ACLs) are properties of Mosquitto. The config is the one
:mod:`gateway.broker_config` renders for production, except that it saves
its state every second and, when the tests run as root, keeps running as
root (Mosquitto otherwise drops to the ``mosquitto`` user, which cannot read
pytest's private tmp directories: persistence then fails with only a log line).
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.broker_config import BrokerSettings, write_broker_files
from gateway.mosquitto import MosquittoPortInUseError, MosquittoProcess
from signer._paho_io import release_sockets

RUN_AS = "root" if os.geteuid() == 0 else None
TIMEOUT = 10.0
_PORT_ATTEMPTS = 5


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Only a guess: another process (any client's ephemeral port) may take it
    before the server under test binds it. Prefer a server bound to port 0;
    :class:`Broker` (Mosquitto cannot report a port 0 listener) retries.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def broker_settings(root: Path, **overrides: Any) -> BrokerSettings:
    """Settings for a test broker in ``root``: free port, anonymous, state saved every second.

    Not on every change: Mosquitto rewrites its whole state file each time,
    which made queueing 3000 messages for an offline session take 17 s
    instead of 0.2 s.
    """
    base = BrokerSettings(
        farm="farm1",
        state_dir=root / "state",
        port=free_port(),
        autosave_interval=1,
        run_as=RUN_AS,
    )
    return replace(base, **overrides)


class Broker(MosquittoProcess):
    """One Mosquitto process with its own config, state directory and port.

    Its first :meth:`start` retries with new free ports (plain and TLS) when
    one was taken before Mosquitto could bind it; read them from
    :attr:`settings` (or :attr:`port`) after starting. The ports then stay
    the same across :meth:`restart`. Without ``settings`` the broker is
    anonymous (no password or ACL file), with persistence on.
    """

    def __init__(self, root: Path, settings: BrokerSettings | None = None) -> None:
        self.root = root
        self.settings = settings or broker_settings(root)
        files = write_broker_files(self.settings, root)
        super().__init__(files.config, port=self.settings.port, log=root / "mosquitto.log")
        self._bound = False

    def start(self, timeout: float = 10.0) -> None:
        """Start; on the first start, retry with new ports while a port is taken."""
        for attempt in range(1 if self._bound else _PORT_ATTEMPTS):
            if attempt:
                tls_port = free_port() if self.settings.tls else self.settings.tls_port
                self.settings = replace(self.settings, port=free_port(), tls_port=tls_port)
                write_broker_files(self.settings, self.root)
                self.port = self.settings.port
            try:
                super().start(timeout)
            except MosquittoPortInUseError:
                if attempt == _PORT_ATTEMPTS - 1 or self._bound:
                    raise
                continue
            self._bound = True
            return

    def password(self, user: str) -> str:
        """The password of ``user`` (KeyError if the broker has no such user)."""
        return self.settings.users[user]


class Probe:
    """A paho MQTT 5 client driven synchronously: every call waits for the broker's answer.

    It connects to ``broker``'s plain listener, or to ``port`` (e.g. its TLS listener).

    Received messages queue up in :attr:`messages` as ``(topic, payload)``. It does
    not reconnect: a connection the broker drops stays closed, and
    :attr:`disconnected` holds the DISCONNECT reason (or the loss) once it is.
    """

    def __init__(
        self, broker: MosquittoProcess, client_id: str = "", *, port: int | None = None
    ) -> None:
        self.port = broker.port if port is None else port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._lock = threading.Lock()
        self._acks: dict[int, Any] = {}
        self._connack: queue.Queue[Any] = queue.Queue()
        self.session_present = False
        self.disconnected: queue.Queue[Any] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda _c, _u, _f, reason, _p: self.disconnected.put(reason)
        self.client.on_publish = self._on_ack
        self.client.on_subscribe = self._on_ack
        self.client.on_message = lambda _c, _u, msg: self.messages.put(
            (msg.topic, bytes(msg.payload))
        )

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self.session_present = bool(flags.session_present)
        self._connack.put(reason)

    def _on_ack(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._lock:
            self._acks[mid] = reason

    def connect(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        clean_start: bool = True,
        session_expiry: int = 0,
    ) -> Any:
        """Connect and return the CONNACK reason code (``.is_failure`` when refused).

        :attr:`session_present` then tells whether the broker resumed a session.
        """
        if username is not None:
            self.client.username_pw_set(username, password)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if session_expiry:
            props.SessionExpiryInterval = session_expiry
        self.client.connect("127.0.0.1", self.port, clean_start=clean_start, properties=props)
        self.client.loop_start()
        reason = self._connack.get(timeout=TIMEOUT)
        if reason.is_failure:
            self.close()
        return reason

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> Any:
        """Publish and return the PUBACK reason code (QoS 1), or None for QoS 0."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return None if qos == 0 else self._wait(info.mid)

    def subscribe(self, topic: str, qos: int = 1) -> Any:
        """Subscribe and return the SUBACK reason code."""
        _, mid = self.client.subscribe(topic, qos)
        assert mid is not None, "not connected"
        return self._wait(mid)[0]

    def _wait(self, mid: int) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self._lock:
                if mid in self._acks:
                    return self._acks.pop(mid)
            time.sleep(0.002)
        raise TimeoutError(f"no acknowledgement for message id {mid}")

    def receive(self, count: int, timeout: float = TIMEOUT) -> list[tuple[str, bytes]]:
        """Wait for ``count`` messages (fewer if ``timeout`` runs out) and return them."""
        got: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            try:
                got.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got

    def close(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


def secured_settings(
    root: Path,
    *,
    farm: str = "farm1",
    devices: tuple[str, ...] = ("dev-a", "dev-b"),
    gateway_user: str = "gateway",
    passwords: Mapping[str, str] | None = None,
    **overrides: Any,
) -> BrokerSettings:
    """Test settings with a password per user (``<user>-secret`` unless given) and the ACL."""
    users = {user: f"{user}-secret" for user in (gateway_user, *devices)}
    users.update(passwords or {})
    return broker_settings(root, farm=farm, users=users, gateway_user=gateway_user, **overrides)
