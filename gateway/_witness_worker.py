"""A witness's push loop: one thread per witness (see :mod:`gateway.witnessing`).

The thread sleeps until told of a new checkpoint (or for ``poll_s``), pushes
the newest stored checkpoint through its :class:`WitnessSession`, counts and
logs the outcome (once a minute per kind of trouble), hands cosignatures on,
and backs off exponentially, with jitter, after a failure or a refusal.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chain.store import Store
from gateway._witness_session import Attempt, Retry, WitnessSession, backoff_delay
from gateway.metrics import GatewayMetrics

__all__ = ["WitnessWorker", "WitnessingConfig"]

_logger = logging.getLogger("gateway.witnessing")  # one logger for the operator to follow
_REPEAT_LOG_S = 60.0


@dataclass(frozen=True, slots=True)
class WitnessingConfig:
    """How the pusher talks to witnesses.

    ``timeout_s`` bounds connecting to a witness and each read; failures back
    off from ``backoff_min_s`` to ``backoff_max_s``; ``poll_s`` is how often a
    worker looks for a new checkpoint without being notified (a safety net);
    ``scan_limit`` how many checkpoints back a restart looks for the
    published one.
    """

    timeout_s: float = 10.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    poll_s: float = 5.0
    scan_limit: int = 4096

    def __post_init__(self) -> None:
        if min(self.timeout_s, self.backoff_min_s, self.poll_s) <= 0 or self.scan_limit < 0:
            raise ValueError("witness timeout, backoff and poll times must be positive")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("the longest witness backoff must not be below the shortest")


class WitnessWorker:
    """One witness's thread: waits for a checkpoint, pushes it, acts on the attempt.

    Each attempt that brought a cosignature goes to ``deliver``. The thread
    ends once ``stop`` is set (set :attr:`wake` and close the transport too,
    to end a wait or a request at once). ``ceiling`` (None: no limit) returns
    the biggest size that may be pushed (a mirror holds that many blocks,
    :mod:`gateway.mirror_gate`): the newest stored checkpoint up to it is.
    """

    def __init__(
        self,
        session: WitnessSession,
        store: Store,
        config: WitnessingConfig,
        metrics: GatewayMetrics,
        stop: threading.Event,
        deliver: Callable[[WitnessWorker, Attempt], None],
        ceiling: Callable[[], int] | None = None,
    ) -> None:
        self.session = session
        self._ceiling = ceiling
        self.store = store
        self.config = config
        self.metrics = metrics
        self._stop = stop
        self._deliver = deliver
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"witness-{session.name}", daemon=True)
        self._failures = 0
        self._logged: tuple[object, float, int] = (None, 0.0, 0)
        self._rand = random.Random()

    def run(self) -> None:
        """Push until stopped; never raises."""
        while not self._stop.is_set():
            self.wake.clear()
            try:
                latest = self._newest()
                if latest is None or not self.session.wants(latest[0]):
                    self.wake.wait(self.config.poll_s)
                    continue
                attempt = self.session.push(*latest)
            except Exception:  # a store failure: never let the thread die
                _logger.exception("witness %s: push failed", self.session.name)
                self._back_off()
                continue
            self._record(attempt)
            if attempt.cosignatures:
                self._deliver(self, attempt)
            if attempt.retry is Retry.BACKOFF:
                self._back_off()
            else:
                self._failures = 0

    def _newest(self) -> tuple[int, str] | None:
        """The newest stored checkpoint that may be pushed, or None."""
        latest = self.store.latest_checkpoint()
        if latest is None or self._ceiling is None:
            return latest
        ceiling = self._ceiling()
        if latest[0] <= ceiling:
            return latest
        try:  # one is stored per block; a recovered store has none below its first
            return (ceiling, self.store.checkpoint(ceiling)) if ceiling > 0 else None
        except KeyError:
            return None

    def _back_off(self) -> None:
        self._failures += 1
        config = self.config
        delay = backoff_delay(
            self._failures, config.backoff_min_s, config.backoff_max_s, self._rand.random
        )
        self._stop.wait(delay)

    def _record(self, attempt: Attempt) -> None:
        if self._stop.is_set():  # interrupted by stop(): not the witness's doing
            return
        metrics, name = self.metrics, self.session.name
        metrics.witness_requests.labels(name, attempt.outcome).inc()
        if attempt.refusal is not None:
            metrics.witness_refusals.labels(name, attempt.refusal).inc()
        if attempt.outcome == "cosigned":
            if self._failures:
                _logger.info(
                    "witness %s is back: cosigned size %d after %d failed attempts",
                    name,
                    attempt.size,
                    self._failures,
                )
            self._logged = (None, 0.0, 0)
            return
        if attempt.outcome == "size_conflict" and attempt.retry is Retry.AGAIN:
            _logger.debug("witness %s %s", name, attempt.message)
            return
        self._log(attempt)

    def _log(self, attempt: Attempt) -> None:
        """Log once per kind of trouble per minute, with how many were not logged."""
        key = (attempt.outcome, attempt.refusal, attempt.witness_size)
        last_key, last_time, suppressed = self._logged
        now = time.monotonic()
        if key == last_key and now - last_time < _REPEAT_LOG_S:
            self._logged = (last_key, last_time, suppressed + 1)
            return
        more = f" ({suppressed} more like it since)" if suppressed and key == last_key else ""
        what = f"refused this log ({attempt.refusal})" if attempt.refusal else attempt.outcome
        _logger.log(
            attempt.level,
            "witness %s %s pushing checkpoint %d from size %d: %s%s",
            self.session.name,
            what,
            attempt.size,
            attempt.old_size,
            attempt.message,
            more,
        )
        self._logged = (key, now, 0)
