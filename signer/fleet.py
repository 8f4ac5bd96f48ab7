"""Many MQTT links driven by one thread: a fleet of simulated devices in one process.

Each device keeps its own MQTT connection and credentials (the broker lets a
device publish only under its own id), but a thread per device would be a
few hundred threads. A :class:`Fleet` runs one thread that waits on every
link's socket at once (:mod:`selectors`, epoll on Linux) and drives paho
with ``loop_read`` / ``loop_write`` / ``loop_misc``; since that thread is the
only one touching the paho clients, paho's lack of thread safety does not
matter. Sampling threads write to the devices' durable outboxes and call
:meth:`Fleet.wake`; the fleet thread also looks for new entries on its own
every ``poll_interval`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Sequence

from signer.mqtt_link import MqttLink

__all__ = ["Fleet"]

_logger = logging.getLogger(__name__)
_TICK = 1.0  # seconds between keepalive / stall checks


class Fleet:
    """Runs ``links`` in one background thread: :meth:`start`, then :meth:`stop`.

    Raises (constructor):
        ValueError: two links are for the same device.
    """

    def __init__(self, links: Sequence[MqttLink], *, poll_interval: float = 0.5) -> None:
        ids = [link.device.id for link in links]
        if len(set(ids)) != len(ids):
            raise ValueError("links: expected one link per device, found a device twice")
        self.links = tuple(links)
        self.poll_interval = poll_interval
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._registered: dict[MqttLink, tuple[socket.socket, int]] = {}
        self._selector = selectors.DefaultSelector()

    def start(self) -> None:
        """Start the fleet thread; the links connect right away."""
        if self._thread is not None:
            raise RuntimeError("fleet already started")
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Tell the fleet thread that outboxes have new entries (safe from any thread)."""
        with contextlib.suppress(OSError):  # a wake-up is already pending, or the fleet closed
            self._wake_w.send(b"\0")

    def stop(self, timeout: float = 5.0) -> None:
        """Publish each device's ``offline`` status, disconnect, and join the thread."""
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _logger.warning("fleet thread did not stop within %.1f s", timeout)
        self._wake_r.close()
        self._wake_w.close()

    def wait_drained(self, timeout: float) -> bool:
        """Wait until every device's outbox is empty; False on timeout."""
        deadline = time.monotonic() + timeout
        return all(link.wait_drained(max(0.0, deadline - time.monotonic())) for link in self.links)

    def connected(self) -> int:
        """How many links are connected now."""
        return sum(1 for link in self.links if link.connected)

    def _run(self) -> None:
        selector = self._selector
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        next_tick = next_poll = 0.0
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                touched: set[MqttLink] = set()
                if now >= next_poll:
                    touched.update(self.links)
                    next_poll = now + self.poll_interval
                if now >= next_tick:
                    for link in self.links:
                        link.tick()
                        link.connect_if_due(now)
                    touched.update(self.links)
                    next_tick = now + _TICK
                for link in touched:
                    link.pump()
                    self._sync(link)
                timeout = max(0.0, min(next_tick, next_poll) - time.monotonic())
                for key, mask in selector.select(timeout):
                    link = key.data
                    if link is None:
                        self._drain_wake()
                        next_poll = 0.0
                        continue
                    if mask & selectors.EVENT_READ:
                        link.handle_read()
                    if mask & selectors.EVENT_WRITE and link.client is not None:
                        link.handle_write()
                    link.pump()
                    self._sync(link)
        except Exception:
            _logger.exception("fleet thread failed")
            raise
        finally:
            self._shutdown()

    def _sync(self, link: MqttLink) -> None:
        sock = link.socket()
        old = self._registered.get(link)
        if sock is None:
            if old is not None:
                self._selector.unregister(old[0])
                del self._registered[link]
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.want_write() else 0)
        if old is not None and old[0] is sock:
            if old[1] != events:
                self._selector.modify(sock, events, link)
                self._registered[link] = (sock, events)
            return
        if old is not None:
            self._selector.unregister(old[0])
        self._selector.register(sock, events, link)
        self._registered[link] = (sock, events)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _shutdown(self) -> None:
        for link in self.links:
            link.close()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(link.want_write() for link in self.links):
            for link in self.links:
                if link.want_write():
                    link.handle_write()
            time.sleep(0.005)
        for link in self.links:
            self._sync_removed(link)
            link.drop()
        self._selector.close()

    def _sync_removed(self, link: MqttLink) -> None:
        old = self._registered.pop(link, None)
        if old is not None:
            self._selector.unregister(old[0])
