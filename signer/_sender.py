"""What a transport sends next: a cursor over a device's outbox, an in-flight bound, resends.

Shared by the MQTT and the serial link. The outbox is the truth: the cursor
only remembers how far this connection has sent. A transport calls
:meth:`Sender.restart` on every (re)connect, so everything still kept is sent
again (a broker's PUBACK is not durability), and :meth:`Sender.check_stalled`
now and then: when the oldest kept entry has been sent but no receipt has
released it for ``resend_after`` seconds, everything kept is sent again (the
timeout then doubles, up to ``max_resend_after``, until a receipt releases it).

Not thread-safe: one transport thread uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from chain.errors import MalformedWireError, StorageError
from chain.wire import Receipt, parse_receipt
from signer.device import Device
from signer.outbox import OutboxEntry

__all__ = ["LinkStats", "Sender"]

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LinkStats:
    """Counters of one link. Written by its transport thread only; read from anywhere."""

    sent: int = 0
    """Entries sent for the first time."""
    resent: int = 0
    """Entries sent again (after a reconnect or a stall)."""
    acked: int = 0
    """Sends the broker (or the serial port) accepted."""
    publish_failures: int = 0
    """PUBACKs with a failure reason code (e.g. 0x87 not authorized)."""
    receipts: int = 0
    """Valid receipts applied."""
    released: int = 0
    """Outbox entries the receipts released."""
    bad_receipts: int = 0
    """Receipts ignored: malformed, for another device, or beyond this device's seqs."""
    connects: int = 0
    """Successful connections."""
    connect_failures: int = 0
    """Connection attempts that failed (refused, timed out, TLS, or a CONNACK failure)."""
    stall_resends: int = 0
    """Times the whole outbox was sent again because receipts stopped coming."""


class Sender:
    """Hands out the next entries of ``device``'s outbox to send, at most ``window`` in flight."""

    def __init__(
        self,
        device: Device,
        stats: LinkStats,
        *,
        window: int = 100,
        resend_after: float = 30.0,
        max_resend_after: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window < 1:
            raise ValueError(f"window: expected >= 1, found {window}")
        self.device = device
        self.stats = stats
        self.window = window
        self.in_flight = 0
        self._cursor = 0
        self._highest_sent = 0
        self._base_timeout = resend_after
        self._max_timeout = max_resend_after
        self._timeout = resend_after
        self._clock = clock
        self._oldest: tuple[int, float] | None = None  # (oldest kept seq, when first seen)
        self.last_receipt: Receipt | None = None
        """The last receipt applied."""

    def restart(self) -> None:
        """Start again from the oldest kept entry (a new connection: nothing is in flight)."""
        self._cursor = 0
        self.in_flight = 0
        self._oldest = None

    def has_more(self) -> bool:
        """Whether entries past the cursor may be waiting (cheap: no database query)."""
        return self._cursor < self.device.outbox.highest_seq and self.in_flight < self.window

    def next_batch(self) -> list[OutboxEntry]:
        """The next kept entries to send (up to the window's free room), advancing the cursor.

        The caller must call :meth:`done` once per entry when its send completes.

        Raises:
            StorageError: the outbox failed.
        """
        if not self.has_more():
            return []
        batch = self.device.unsent(self._cursor, self.window - self.in_flight)
        if batch:
            self._cursor = batch[-1].seq
            fresh = sum(1 for e in batch if e.seq > self._highest_sent)
            self.stats.sent += fresh
            self.stats.resent += len(batch) - fresh
            self._highest_sent = max(self._highest_sent, self._cursor)
            self.in_flight += len(batch)
        else:
            self._cursor = self.device.outbox.highest_seq
        return batch

    def done(self, count: int = 1) -> None:
        """``count`` sends completed (acknowledged or failed): their window room is free."""
        self.in_flight = max(0, self.in_flight - count)

    def apply_receipt(self, payload: bytes) -> bool:
        """Parse and apply a receipt message; False (logged, counted) if it was not applied.

        Never raises: a malformed receipt, one for another device, or an
        outbox that cannot be written leaves the entries kept (they are
        resent), which is always safe.
        """
        try:
            receipt = parse_receipt(payload)
            released = self.device.apply_receipt(receipt)
        except MalformedWireError as exc:
            self.stats.bad_receipts += 1
            _logger.warning("%s: ignored a receipt: %s", self.device.id, exc)
            return False
        except StorageError as exc:
            _logger.error("%s: could not apply a receipt: %s", self.device.id, exc)
            return False
        self.stats.receipts += 1
        self.stats.released += released
        self.last_receipt = receipt
        self.released(released)
        return True

    def released(self, count: int) -> None:
        """A receipt released ``count`` entries."""
        if count > 0:
            self._timeout = self._base_timeout

    def check_stalled(self) -> bool:
        """Rewind (and return True) if the oldest kept, sent entry has waited too long.

        Raises:
            StorageError: the outbox failed.
        """
        oldest = self.device.unsent(0, 1)
        now = self._clock()
        if not oldest or oldest[0].seq > self._cursor:
            self._oldest = None
            return False
        seq = oldest[0].seq
        if self._oldest is None or self._oldest[0] != seq:
            self._oldest = (seq, now)
            return False
        if now - self._oldest[1] < self._timeout:
            return False
        _logger.warning(
            "%s: no receipt for seq %d after %.0f s; sending the %d kept entries again",
            self.device.id,
            seq,
            now - self._oldest[1],
            self.device.outbox.count,
        )
        self.stats.stall_resends += 1
        self._timeout = min(self._timeout * 2, self._max_timeout)
        self._cursor = 0
        self._oldest = (seq, now)
        return True
