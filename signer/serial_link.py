"""One device's serial transport: JWS lines out, receipt lines back (design.md section 4).

The device writes each kept entry as one ASCII line (the compact JWS and
``\\n``) to a pyserial port (anything :func:`serial.serial_for_url` opens:
``/dev/ttyUSB0``, a pty, ``socket://host:port``, ``loop://``). A bridge
(:mod:`signer.bridge`) forwards the lines to MQTT and writes the
gateway's receipts back, one JSON receipt per line; the link applies them to
the outbox. A serial line has no acknowledgement of its own, so what no
receipt releases within ``resend_after`` seconds is sent again (the timeout
doubling while nothing comes back), and everything kept is sent again when
the link starts.

One thread (:meth:`SerialLink.start`) owns the port; other threads only
record into the device's outbox, which the link looks at after every read
(so within the port's read timeout).
"""

from __future__ import annotations

import logging
import threading
import time

import serial

from chain.errors import StorageError
from signer._lines import LineFramer
from signer._sender import LinkStats, Sender
from signer.device import Device

__all__ = ["SerialLink", "open_port"]

_logger = logging.getLogger(__name__)


def open_port(url: str, *, baudrate: int = 115200, timeout: float = 0.05) -> serial.SerialBase:
    """Open ``url`` (a device path or a pyserial URL) raw, 8N1, with a read ``timeout``.

    Raises:
        serial.SerialException: the port cannot be opened.
    """
    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=10)


class SerialLink:
    """Sends ``device``'s outbox over ``port`` and applies the receipts that come back."""

    def __init__(
        self,
        device: Device,
        port: serial.SerialBase,
        *,
        window: int = 100,
        resend_after: float = 10.0,
    ) -> None:
        self.device = device
        self.port = port
        self.stats = LinkStats()
        self.sender = Sender(device, self.stats, window=window, resend_after=resend_after)
        self.bad_lines = 0
        self._framer = LineFramer()
        self._stop = threading.Event()
        self._drained = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the link thread."""
        self._thread = threading.Thread(target=self._run, name=f"serial-{self.device.id}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the link thread (the port stays open: its owner closes it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Wait until the outbox is empty (every entry receipted); False on timeout."""
        with self._drained:
            return self._drained.wait_for(lambda: self.device.outbox.count == 0, timeout)

    def _run(self) -> None:
        self.sender.restart()
        next_check = time.monotonic() + 1.0
        while not self._stop.is_set():
            try:
                self._read()
                self._send()
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + 1.0
                    if self.sender.check_stalled():
                        self._send()
            except (serial.SerialException, OSError) as exc:
                _logger.error("%s: serial port failed: %s; retrying", self.device.id, exc)
                self.sender.restart()
                self._stop.wait(1.0)
            except StorageError as exc:
                _logger.error("%s: outbox failed: %s", self.device.id, exc)
                self._stop.wait(1.0)

    def _read(self) -> None:
        waiting = self.port.in_waiting
        data = self.port.read(waiting or 1)  # blocks up to the port's timeout
        if not data:
            return
        for line, reason in self._framer.feed(data):
            if line is None:
                self.bad_lines += 1
                _logger.warning("%s: dropped a receipt line: %s", self.device.id, reason)
                continue
            self._apply(line)

    def _apply(self, line: bytes) -> None:
        if self.sender.apply_receipt(line):
            with self._drained:
                self._drained.notify_all()

    def _send(self) -> None:
        batch = self.sender.next_batch()
        if not batch:
            return
        self.port.write(b"".join(entry.raw + b"\n" for entry in batch))
        self.port.flush()
        self.sender.done(len(batch))
        self.stats.acked += len(batch)
