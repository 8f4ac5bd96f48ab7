"""Driving a paho client from one's own loop, and releasing what it holds.

paho's ``loop_read`` reads at most as many packets as it has messages in
flight (often one), so a subscriber fed faster than it polls falls behind.
:func:`read_available` calls it until the socket has nothing more to read,
counting bytes TLS has already decrypted: those are no longer in the kernel's
buffer, so ``poll`` does not see them (:func:`readable` does).

paho also keeps a loopback socket pair to wake its network thread, which
``loop_stop`` and ``disconnect`` leave open until the client is garbage
collected (eclipse-paho/paho.mqtt.python#627); :func:`release_sockets` closes it.
"""

from __future__ import annotations

import select
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

__all__ = ["read_available", "readable", "release_sockets"]


def read_available(client: mqtt.Client, max_rounds: int = 1000) -> MQTTErrorCode:
    """``loop_read`` until the socket is drained (at most ``max_rounds`` calls); its last rc."""
    rc = MQTTErrorCode.MQTT_ERR_SUCCESS
    for _ in range(max_rounds):
        rc = client.loop_read()
        sock = client.socket()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or sock is None or not readable(sock):
            return rc
    return rc


def readable(sock: object, timeout: float = 0.0) -> bool:
    """Whether ``sock`` has data (or EOF) within ``timeout`` s; poll(), so any fd number works.

    A TLS socket with decrypted bytes waiting (``pending()``) is readable at once.
    """
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)  # type: ignore[arg-type]
    return bool(poller.poll(timeout * 1000))


def release_sockets(client: mqtt.Client) -> None:
    """Close every socket ``client`` holds, its wake-up pair included.

    Precondition: its network thread is stopped (``loop_stop``) and nothing
    else drives it; the client is unusable afterwards.
    """
    # paho has no public close; this is what its __del__ does.
    client._reset_sockets()
