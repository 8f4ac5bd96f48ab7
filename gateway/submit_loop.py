"""An operator-only log's ingest loop: entries arrive over HTTP only, no broker anywhere.

A party without devices (a hatchery, a plant, a distributor, a shop) runs
the gateway without ``--farm``. This thread owns the
:class:`~gateway.ingest.Ingest` as :class:`~gateway.mqtt_ingest.MqttIngest`
does for a farm, and runs the same pipeline on what
:class:`~gateway.http_submit.SubmissionQueue` holds::

    wait for submissions (or the next block deadline) → offer each, in order
      → flush (one synced batch) → answer them → close due blocks → checkpoint

Signatures are checked on this thread (an operator signs a few events a
minute; no worker processes). It has the interface
:class:`~gateway.supervisor.IngestSupervisor` drives: only a store or
memory failure ends :meth:`run`, and the supervisor runs it again.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable

from gateway.http_submit import SubmissionHandler, SubmissionQueue
from gateway.ingest import CommittedBlock, Ingest
from gateway.metrics import GatewayMetrics

__all__ = ["SubmitIngest"]

_logger = logging.getLogger(__name__)


class SubmitIngest:
    """Runs the ingest loop on HTTP submissions until :meth:`stop` (module docstring).

    ``clock``, ``on_commit`` and ``released`` as for :class:`~gateway.mqtt_ingest.MqttIngest`.
    """

    def __init__(
        self,
        ingest: Ingest,
        queue: SubmissionQueue,
        handler: SubmissionHandler,
        metrics: GatewayMetrics,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        on_commit: Callable[[CommittedBlock], None] | None = None,
        released: Callable[[], int] | None = None,
    ) -> None:
        self.ingest = ingest
        self.queue = queue
        self.handler = handler
        self.metrics = metrics
        self._clock = clock
        self._on_commit = on_commit
        self._released = released
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to finish: it answers and commits what it holds."""
        self._stop.set()
        self.queue.wake()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def wait_stop(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for :meth:`stop`; return whether it was called."""
        return self._stop.wait(timeout)

    def note_failure(self, exc: BaseException) -> int:
        """A failed run: the submissions in flight were answered 503 (their senders retry)."""
        return 0

    def run(self) -> None:
        """Take submissions until :meth:`stop`. Never raises for bad input.

        Raises:
            StorageError: the store failed (the submissions in flight were
                answered 503; nothing of them is durable).
            MemoryError: as for :meth:`MqttIngest.run`.
        """
        self.queue.open()  # after a failed run, what was queued meanwhile is taken now
        while not self._stop.is_set():
            due = self.ingest.ms_until_due(self._clock())
            timeout = 0.25 if due is None else min(0.25, due / 1000)
            select.select([self.queue.fileno()], [], [], timeout)
            items = self.queue.take()
            if items:
                self.handler.handle(self.ingest, items)
            self._commit_due(force=False)
            self._release_receipts()
            self._update_gauges()
        items = self.queue.take(last=True)
        if items:
            self.handler.handle(self.ingest, items)
        self._commit_due(force=True)
        self._release_receipts()
        self._update_gauges()
        _logger.info(
            "stopped: log has %d blocks, %d entries",
            self.ingest.store.size,
            self.ingest.store.entry_count,
        )

    def _commit_due(self, *, force: bool) -> None:
        now_ms = self._clock()
        if not (force or self.ingest.block_due(now_ms)):
            return
        for block in self.ingest.close_blocks(now_ms):
            done_ms = self._clock()
            self.metrics.committed.inc(len(block.received_ms))
            for received in block.received_ms:
                self.metrics.commit_latency.observe(max(0, done_ms - received) / 1000)
            if self._on_commit is not None:
                self._on_commit(block)

    def _release_receipts(self) -> None:
        """With mirrors: let the receipt book drop what a mirror now serves cosigned."""
        book = self.ingest.receipts
        if self._released is not None and book.held:
            book.release(min(self._released(), self.ingest.store.size))

    def _update_gauges(self) -> None:
        ingest, metrics = self.ingest, self.metrics
        metrics.block_height.set(ingest.store.size)
        metrics.log_entries.set(ingest.store.entry_count)
        metrics.pending.set(ingest.pending_count)
        if ingest.receipts.held:
            metrics.mirror_receipts_held.set(ingest.receipts.held_entries)
            metrics.mirror_released_size.set(ingest.receipts.released_size or 0)
        oldest = ingest.oldest_pending_ms()
        metrics.lag.set(0 if oldest is None else max(0, self._clock() - oldest) / 1000)
