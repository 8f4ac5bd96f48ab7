"""The ingest benchmark's measured phases: raw transport, then sustained and paced gateway ingest.

See ``bench/ingest.py`` for what each phase measures and why. Times are
``time.monotonic()``, which every process on the machine shares.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _common import fresh_dir, percentile
from _ingest_clients import Load, PublisherResult, publisher_main, subscriber_main
from _ingest_procs import (
    GatewayProcess,
    cpu_s,
    rss_mb,
    start_broker,
    tree_cpu_s,
    tree_pss_mb,
    tree_rss_mb,
)
from _ingest_readings import Fleet, new_log

from chain.store import Store
from gateway.datadir import DataDir

__all__ = ["FARM", "GatewayRun", "Plan", "Transport", "gateway_phases", "raw_transport"]

FARM = "benchfarm"
_CTX = multiprocessing.get_context("fork")
_COMMITTED = "farmtrace_entries_committed_total"


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a run is. Phases 1 and 2 send ``sustained`` readings per device."""

    devices: int
    processes: int
    sustained: int
    paced: int  # readings per device available to the paced phase
    paced_s: float
    paced_rate: float  # at most; the paced phase runs below the sustained rate
    outstanding: int  # phase 2: readings a device may be ahead of its receipts


@dataclass(frozen=True, slots=True)
class Transport:
    """A whole-run rate (first publish → last message), the 10-90% rate, and where CPU went."""

    rate: float
    mid_rate: float
    publishers_done_s: float
    elapsed_s: float
    consumer_cpu_s: float
    broker_cpu_s: float
    publishers_cpu_s: float


@dataclass(frozen=True, slots=True)
class GatewayRun:
    """The gateway's figures over phases 2 and 3."""

    ingest: Transport
    committed_when_publishers_done: float
    rss_mb: list[tuple[float, float]]  # (committed readings, gateway + workers RSS) samples
    pss_mb: list[tuple[float, float, float, float]]  # (committed, PSS, anonymous, file) of the tree
    main_rss_max_mb: float  # the gateway process alone
    broker_rss_max_mb: float
    paced_rate: float
    paced_sent: int
    latencies: list[float]  # sorted, seconds
    unconfirmed: int
    gateway_p50: str
    gateway_p99: str
    counters: dict[str, float]
    stored: int
    expected: int
    exit_code: int


def _loads(fleet: Fleet, plan: Plan, port: int, first: int, count: int, **kw: Any) -> list[Load]:
    loads = []
    for p in range(plan.processes):
        devices = range(p, plan.devices, plan.processes)
        messages = [fleet.readings[d][first : first + count] for d in devices]
        ids = [fleet.device_ids[d] for d in devices]
        loads.append(Load(port, FARM, ids, messages, [first + 1] * len(ids), **kw))
    return loads


class _Publishers:
    """Publisher processes for ``loads``: connected on construction, publishing after go()."""

    def __init__(self, loads: Sequence[Load]) -> None:
        self._ready, self._results, self._go = _CTX.Queue(), _CTX.Queue(), _CTX.Event()
        self._procs = [
            _CTX.Process(target=publisher_main, args=(load, self._ready, self._go, self._results))
            for load in loads
        ]
        for proc in self._procs:
            proc.start()
        for _ in self._procs:
            self._ready.get(timeout=60)

    def go(self) -> float:
        self._go.set()
        return time.monotonic()

    def results(self, tick: Callable[[], object] = lambda: None) -> list[PublisherResult]:
        """Every process's result (calling ``tick`` about twice a second while waiting)."""
        out: list[PublisherResult] = []
        deadline = time.monotonic() + 900
        while len(out) < len(self._procs):
            if time.monotonic() > deadline:
                raise RuntimeError("publishers did not finish")
            try:
                out.append(self._results.get(timeout=0.5))
            except queue.Empty:
                tick()
        for proc in self._procs:
            proc.join(10)
        return out


def _sample_until(total: int, read: Callable[[], float], every: float) -> list[tuple[float, float]]:
    """(time, count) samples of ``read()`` until it reaches ``total``; a minute's stall raises."""
    samples: list[tuple[float, float]] = []
    last_change = time.monotonic()
    while True:
        now, count = time.monotonic(), read()
        if samples and count != samples[-1][1]:
            last_change = now
        samples.append((now, count))
        if count >= total:
            return samples
        if now - last_change > 60:
            raise RuntimeError(f"stalled at {count:,.0f} of {total:,}")
        time.sleep(every)


def _transport(
    samples: list[tuple[float, float]], go: float, total: int, results: list[PublisherResult],
    consumer_cpu: float, broker_cpu: float,
) -> Transport:  # fmt: skip
    done = next(t for t, c in samples if c >= total)
    t10, c10 = next((t, c) for t, c in samples if c >= 0.1 * total)
    t90, c90 = next((t, c) for t, c in samples if c >= 0.9 * total)
    return Transport(
        rate=total / (done - go),
        mid_rate=(c90 - c10) / max(t90 - t10, 1e-9),
        publishers_done_s=max(r.last_ack for r in results) - go,
        elapsed_s=done - go,
        consumer_cpu_s=consumer_cpu,
        broker_cpu_s=broker_cpu,
        publishers_cpu_s=sum(r.cpu_s for r in results),
    )


def raw_transport(fleet: Fleet, plan: Plan) -> Transport:
    """Phase 1: the publishers to a subscriber that counts and discards, on a fresh broker."""
    broker = start_broker(fresh_dir("ingest-raw-broker"), FARM)
    try:
        count, subscribed, stop = _CTX.Value("q", 0, lock=False), _CTX.Event(), _CTX.Event()
        args = (broker.port, FARM, count, subscribed, stop)
        sub = _CTX.Process(target=subscriber_main, args=args)
        sub.start()
        assert sub.pid is not None
        if not subscribed.wait(30):
            raise RuntimeError("the raw subscriber did not subscribe")
        total = plan.devices * plan.sustained
        publishers = _Publishers(_loads(fleet, plan, broker.port, 0, plan.sustained))
        sub_cpu, broker_cpu = cpu_s(sub.pid), cpu_s(broker.pid)
        go = publishers.go()
        samples = _sample_until(total, lambda: count.value, 0.05)
        sub_cpu, broker_cpu = cpu_s(sub.pid) - sub_cpu, cpu_s(broker.pid) - broker_cpu
        stop.set()
        results = publishers.results()
        sub.join(10)
    finally:
        broker.stop()
    return _transport(samples, go, total, results, sub_cpu, broker_cpu)


def gateway_phases(fleet: Fleet, plan: Plan) -> GatewayRun:
    """Phases 2 and 3 against one ``farmtrace gateway run`` on a fresh data dir and broker."""
    root = fresh_dir("ingest-gateway")
    data_dir = DataDir(root / "data")
    new_log(data_dir, fleet)
    base = 1 + plan.devices  # genesis + registrations
    broker = start_broker(root / "broker", FARM)
    workers = os.environ.get("BENCH_VERIFY_WORKERS")  # e.g. 0: the gateway without workers
    extra = () if workers is None else ("--verify-workers", workers)
    gateway = GatewayProcess(data_dir.root, FARM, broker.url, *extra)
    rss: list[tuple[float, float]] = []
    pss: list[tuple[float, float, float, float]] = []
    broker_rss = [rss_mb(broker.pid)]
    main_rss = [rss_mb(gateway.pid)]

    def committed() -> float:
        value = gateway.metrics()[_COMMITTED]
        rss.append((value, tree_rss_mb(gateway.pid)))
        pss.append((value, *tree_pss_mb(gateway.pid)))
        main_rss.append(rss_mb(gateway.pid))
        broker_rss.append(rss_mb(broker.pid))
        return value

    try:
        total = plan.devices * plan.sustained
        window = {"watch_receipts": True, "outstanding": plan.outstanding}
        publishers = _Publishers(_loads(fleet, plan, broker.port, 0, plan.sustained, **window))
        committed()
        gw_cpu, broker_cpu = tree_cpu_s(gateway.pid), cpu_s(broker.pid)
        go = publishers.go()
        samples = _sample_until(total, committed, 0.25)
        gw_cpu, broker_cpu = tree_cpu_s(gateway.pid) - gw_cpu, cpu_s(broker.pid) - broker_cpu
        results = publishers.results()
        ingest = _transport(samples, go, total, results, gw_cpu, broker_cpu)
        pub_done = go + ingest.publishers_done_s
        at_done = next((c for t, c in samples if t >= pub_done), float(total))

        rate = min(plan.paced_rate, 0.75 * ingest.rate)
        per_process = {"rate": rate / plan.processes, "limit_s": plan.paced_s}
        loads = _loads(
            fleet, plan, broker.port, plan.sustained, plan.paced, watch_receipts=True, **per_process
        )
        publishers = _Publishers(loads)
        before = gateway.metrics()
        publishers.go()
        paced = publishers.results(tick=committed)
        after = gateway.metrics()
        committed()
    finally:
        exit_code = gateway.stop()
        broker.stop()
    with Store.open(data_dir.log) as store:
        stored = store.entry_count
    sent = sum(r.published for r in paced)
    counters = {k: v for k, v in after.items() if "_total" in k and v}
    return GatewayRun(
        ingest=ingest,
        committed_when_publishers_done=at_done,
        rss_mb=rss,
        pss_mb=pss,
        main_rss_max_mb=max(main_rss),
        broker_rss_max_mb=max(broker_rss),
        paced_rate=rate,
        paced_sent=sent,
        latencies=sorted(x for r in paced for x in r.latencies),
        unconfirmed=sum(r.unconfirmed for r in paced),
        gateway_p50=_histogram_quantile(before, after, 0.5),
        gateway_p99=_histogram_quantile(before, after, 0.99),
        counters=counters,
        stored=stored,
        expected=base + total + sent,
        exit_code=exit_code,
    )


def slope_mb_per_m(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of RSS (MB) against committed readings, in MB per million."""
    if len(points) < 3:
        return 0.0
    xs, ys = [c for c, _ in points], [r for _, r in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if var == 0
        else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 1e6
    )


def latency_quantiles(latencies: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p99, max) of sorted ``latencies`` in seconds (zeros when empty)."""
    if not latencies:
        return 0.0, 0.0, 0.0
    return percentile(latencies, 50), percentile(latencies, 99), latencies[-1]


def _histogram_quantile(before: dict[str, float], after: dict[str, float], q: float) -> str:
    """The commit-latency bucket the ``q`` quantile of the phase's observations falls in."""
    name = "farmtrace_commit_latency_seconds_bucket"
    buckets = sorted(
        (float(k.split('le="')[1].split('"')[0]), after[k] - before.get(k, 0.0))
        for k in after
        if k.startswith(name)
    )
    count = buckets[-1][1] if buckets else 0.0
    bound = next((le for le, c in buckets if count and c >= q * count), float("inf"))
    return f"<= {bound:g} s"
