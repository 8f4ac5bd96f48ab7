"""The WitnessPusher on a real LevelDB store, with spec witnesses reached without a network."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from farm_logs import LogFactory
from gw_witness_fakes import InProcess
from spec_witness import SpecWitness

from chain.checkpoint import verify_cosignatures
from chain.witness_policy import Witness, WitnessPolicy
from gateway._witness_http import Reply
from gateway.metrics import GatewayMetrics
from gateway.witnessing import WitnessingConfig, WitnessPusher

FAST = WitnessingConfig(timeout_s=2, backoff_min_s=0.05, backoff_max_s=0.2, poll_s=0.05)


_STARTED: list[WitnessPusher] = []


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[LogFactory]:
    log = LogFactory(tmp_path / "log")
    log.register("d1")
    yield log
    while _STARTED:  # stopped before the store closes, even when a test failed
        _STARTED.pop().stop()
    log.close()


def witnesses(factory: LogFactory, count: int = 2) -> list[SpecWitness]:
    found = []
    for i in range(count):
        witness = SpecWitness(f"w{i}.test/witness")
        witness.trust_log(factory.trust.log_key)
        found.append(witness)
    return found


def pusher_for(
    factory: LogFactory,
    spec: list[SpecWitness],
    quorum: int,
    transport: Callable[[SpecWitness], Any] = InProcess,
) -> WitnessPusher:
    policy = WitnessPolicy(quorum, tuple(Witness(w.vkey, f"http://{w.name}") for w in spec))
    by_name = {w.name: w for w in spec}
    pusher = WitnessPusher(
        factory.store,
        policy,
        GatewayMetrics(),
        FAST,
        transport=lambda w, _timeout: transport(by_name[w.name]),
    )
    _STARTED.append(pusher)
    return pusher


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def grow(factory: LogFactory, blocks: int) -> None:
    for _ in range(blocks):
        factory.commit([factory.reading("d1")])


def test_cosignatures_of_all_witnesses_are_merged_into_the_stored_note(
    factory: LogFactory,
) -> None:
    spec = witnesses(factory, 3)
    pusher = pusher_for(factory, spec, quorum=3)
    pusher.start()
    try:
        for _ in range(5):
            grow(factory, 1)
            pusher.notify()
        size = factory.store.size
        wait_for(lambda: pusher.published_size == size)
        published = pusher.published_checkpoint()
        assert published is not None and published[0] == size
        assert set(verify_cosignatures(published[1], [w.vkey for w in spec])) == {
            w.name for w in spec
        }
        assert published[1] == factory.store.checkpoint(size)
    finally:
        pusher.stop()
    metrics = pusher.metrics.render().decode()
    for w in spec:
        assert f'farmtrace_witness_cosigned_size{{witness="{w.name}"}} {float(size)}' in metrics
        refusals = f'farmtrace_witness_refusals_total{{reason="inconsistent",witness="{w.name}"}}'
        assert f"{refusals} 0.0" in metrics


def test_without_a_quorum_the_newest_signed_checkpoint_is_served(factory: LogFactory) -> None:
    good, misconfigured = witnesses(factory, 2)
    misconfigured.logs.clear()  # it answers 404: it does not follow this log
    pusher = pusher_for(factory, [good, misconfigured], quorum=2)
    pusher.start()
    try:
        grow(factory, 2)
        pusher.notify()
        wait_for(lambda: any(r.status == 404 for r in misconfigured.requests))
        wait_for(lambda: any(r.status == 200 for r in good.requests))
        assert pusher.published_size is None
        assert pusher.published_checkpoint() == factory.store.latest_checkpoint()
    finally:
        pusher.stop()
    text = pusher.metrics.render().decode()
    label = f'{{outcome="unknown_log",witness="{misconfigured.name}"}}'
    assert float(text.split(f"farmtrace_witness_requests_total{label} ")[1].split()[0]) >= 1


def test_the_published_checkpoint_is_found_again_after_a_restart(factory: LogFactory) -> None:
    spec = witnesses(factory, 2)
    pusher = pusher_for(factory, spec, quorum=2)
    pusher.start()
    grow(factory, 2)
    pusher.notify()
    cosigned = factory.store.size
    wait_for(lambda: pusher.published_size == cosigned)
    pusher.stop()
    grow(factory, 3)  # checkpoints no witness saw
    for w in spec:
        w.logs.clear()
    again = pusher_for(factory, spec, quorum=2)
    assert again.published_size == cosigned
    published = again.published_checkpoint()
    assert published is not None and published[0] == cosigned < factory.store.size
    assert len(verify_cosignatures(published[1], [w.vkey for w in spec])) == 2


def test_the_served_checkpoint_never_steps_back_while_witnesses_catch_up(
    factory: LogFactory,
) -> None:
    (witness,) = witnesses(factory, 1)
    first = factory.store.size
    served: list[int] = []

    class BlockLandsMeanwhile(InProcess):
        calls = 0

        def post(self, path: str, body: bytes) -> Reply:
            BlockLandsMeanwhile.calls += 1
            if BlockLandsMeanwhile.calls == 1:  # a block is committed while the witness works
                grow(factory, 1)
            else:  # the cosignature on `first` is stored by now: what is served?
                wait_for(lambda: witness.name in factory.store.checkpoint(first))
                latest = pusher.published_checkpoint()
                assert latest is not None
                served.append(latest[0])
            return super().post(path, body)

    pusher = pusher_for(factory, [witness], quorum=1, transport=BlockLandsMeanwhile)
    pusher.start()
    try:
        pusher.notify()
        wait_for(lambda: pusher.published_size == first + 1)
    finally:
        pusher.stop()
    assert [r.status for r in witness.requests] == [200, 200]
    assert served == [first + 1]  # not `first`, which is cosigned but older than what was served


def test_stop_interrupts_a_witness_that_never_answers(factory: LogFactory) -> None:
    (witness,) = witnesses(factory, 1)
    entered = threading.Event()

    class Hangs:
        def __init__(self, _witness: SpecWitness) -> None:
            self.closed = threading.Event()

        def post(self, path: str, body: bytes) -> Reply:
            entered.set()
            self.closed.wait(30)
            raise ConnectionResetError("closed while waiting")

        def close(self) -> None:
            self.closed.set()

    pusher = pusher_for(factory, [witness], quorum=1, transport=Hangs)
    pusher.start()
    assert entered.wait(5)
    started = time.monotonic()
    pusher.stop()
    assert time.monotonic() - started < 2
