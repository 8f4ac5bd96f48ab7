"""Keeps the gateway's ingest loop running: a failed loop is restarted with backoff.

:meth:`MqttIngest.run` returns when it is stopped and raises only when the
store or memory failed (issue 11: no message can make it raise). Rather
than end the process, :class:`IngestSupervisor` records the failure (the
message in flight earns a strike; see :mod:`gateway.mqtt_ingest`), counts it
in ``farmtrace_ingest_restarts_total``, waits (0.5 s, doubling up to 30 s,
back to 0.5 s after a run that lasted longer than that), rebuilds the
ingest pipeline from the store (its in-memory state may be half-updated;
nothing unacknowledged is lost, the broker redelivers it) and runs the loop
again, until :meth:`MqttIngest.stop`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics

__all__ = ["IngestLoop", "IngestSupervisor"]


class IngestLoop(Protocol):
    """The loop owning an Ingest: ``MqttIngest``, or ``SubmitIngest`` (an operator-only log)."""

    ingest: Ingest

    @property
    def stopping(self) -> bool: ...

    def run(self) -> None: ...

    def wait_stop(self, timeout: float) -> bool: ...

    def note_failure(self, exc: BaseException) -> int: ...


_logger = logging.getLogger(__name__)


class IngestSupervisor:
    """Runs ``mqtt`` until it is stopped, restarting it after failures (module docstring).

    ``reopen`` builds a fresh :class:`Ingest` from the store (e.g.
    ``Ingest.open``); if it raises too, that counts as one more failure.
    """

    def __init__(
        self,
        mqtt: IngestLoop,
        reopen: Callable[[], Ingest],
        metrics: GatewayMetrics,
        *,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < backoff_min_s <= backoff_max_s:
            raise ValueError("backoff: expected 0 < min <= max")
        self.mqtt = mqtt
        self._reopen = reopen
        self.metrics = metrics
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self._monotonic = monotonic
        self.failures = 0
        self.last_error: BaseException | None = None

    def run(self) -> None:
        """Run the loop until it is stopped. Never raises for a failure of the loop."""
        delay = self.backoff_min_s
        while not self.mqtt.stopping:
            started = self._monotonic()
            try:
                self.mqtt.run()
                return
            except Exception as exc:
                self._failed(exc, "the ingest loop failed")
            if self._monotonic() - started > self.backoff_max_s:
                delay = self.backoff_min_s
            while not self.mqtt.wait_stop(delay):
                delay = min(delay * 2, self.backoff_max_s)
                try:
                    self.mqtt.ingest = self._reopen()
                    break
                except Exception as exc:
                    self._failed(exc, "cannot reopen the ingest pipeline")

    def _failed(self, exc: Exception, what: str) -> None:
        self.failures += 1
        self.last_error = exc
        self.metrics.ingest_restarts.inc()
        strikes = self.mqtt.note_failure(exc)
        in_flight = f"; the message in flight has failed {strikes} time(s)" if strikes else ""
        _logger.error("%s: %s: %s%s; restarting", what, type(exc).__name__, exc, in_flight)
        _logger.debug("failure details", exc_info=exc)
