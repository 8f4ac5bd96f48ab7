"""The ingest supervisor's restart policy, with a stand-in loop (a pure unit test)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from chain.errors import StorageError
from gateway.ingest import Ingest
from gateway.metrics import GatewayMetrics
from gateway.mqtt_ingest import MqttIngest
from gateway.supervisor import IngestSupervisor


class FakeLoop:
    """Fails with each of ``failures`` in turn, then returns (as a stopped loop does)."""

    def __init__(self, failures: list[BaseException], stop_after_waits: int | None = None) -> None:
        self.failures = failures
        self.runs = 0
        self.waits: list[float] = []
        self.noted: list[BaseException] = []
        self.ingest: Any = None
        self.stopping = False
        self._stop_after = stop_after_waits

    def run(self) -> None:
        self.runs += 1
        if self.failures:
            raise self.failures.pop(0)

    def wait_stop(self, timeout: float) -> bool:
        self.waits.append(timeout)
        if self._stop_after is not None and len(self.waits) >= self._stop_after:
            self.stopping = True
        return self.stopping

    def note_failure(self, exc: BaseException) -> int:
        self.noted.append(exc)
        return 1


def supervise(loop: FakeLoop, reopen: Any = None, **kwargs: Any) -> IngestSupervisor:
    metrics = GatewayMetrics()
    opened: list[object] = []

    def default_reopen() -> Ingest:
        opened.append(object())
        return cast(Ingest, opened[-1])

    supervisor = IngestSupervisor(
        cast(MqttIngest, loop),
        reopen or default_reopen,
        metrics,
        backoff_min_s=0.5,
        backoff_max_s=4.0,
        monotonic=lambda: 0.0,
        **kwargs,
    )
    supervisor.run()
    return supervisor


def restarts(supervisor: IngestSupervisor) -> float:
    return supervisor.metrics.ingest_restarts._value.get()  # type: ignore[attr-defined,no-any-return]


def test_failures_restart_the_loop_with_doubling_backoff() -> None:
    errors: list[BaseException] = [StorageError("disk"), RuntimeError("bug")] + [
        MemoryError() for _ in range(4)
    ]
    loop = FakeLoop(list(errors))
    supervisor = supervise(loop)
    assert loop.runs == 7  # six failures, then a clean return
    assert loop.waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert loop.noted == errors
    assert supervisor.failures == 6 and restarts(supervisor) == 6
    assert isinstance(supervisor.last_error, MemoryError)
    assert loop.ingest is not None  # rebuilt from the store before each restart


def test_a_stop_during_the_backoff_ends_the_supervisor() -> None:
    loop = FakeLoop([RuntimeError("bug")] * 3, stop_after_waits=1)
    supervise(loop)
    assert loop.runs == 1 and loop.waits == [0.5]


def test_a_reopen_that_fails_is_retried_with_backoff() -> None:
    attempts: list[int] = []

    def reopen() -> Ingest:
        attempts.append(1)
        if len(attempts) < 3:
            raise StorageError("store busy")
        return cast(Ingest, object())

    loop = FakeLoop([RuntimeError("bug")])
    supervisor = supervise(loop, reopen)
    assert len(attempts) == 3 and loop.runs == 2
    assert loop.waits == [0.5, 1.0, 2.0]
    assert supervisor.failures == 3


def test_keyboard_interrupt_is_not_swallowed() -> None:
    with pytest.raises(KeyboardInterrupt):
        supervise(FakeLoop([KeyboardInterrupt()]))
