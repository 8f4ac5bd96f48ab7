"""Publish -> receipt latency alone: the paced phase of ``bench/ingest.py`` at a rate you choose.

``bench/ingest.py`` paces at 0.75 x the sustained rate it has just measured,
after 2M readings (~18 min). This runs only the paced phase, on a fresh log,
broker and gateway per run, so that a change to the gateway's latency can be
measured in minutes and compared A/B in one session on a busy machine::

    .venv/bin/python bench/ingest_paced.py --rate 3000 --seconds 20 --runs 2 \\
        --repo /tmp/before --repo .

Each ``--repo`` is a checkout the gateway process runs from (e.g. ``git
archive HEAD`` unpacked elsewhere); the runs alternate between them (A, B, A,
B, ...) with the same pre-signed readings, rate and fleet. Every run first
publishes ``--warmup`` seconds' worth at the same rate, not measured (the
gateway starts its signature workers with the first batch). Each run prints
publish -> receipt p50/p99/max (as each device sees it: its retained receipt
topic), the gateway's own receive -> checkpoint histogram, the CPU time per
reading of the gateway (with its workers), the broker and the publishers, and
the load average: rates and latencies move with the machine's load, CPU time
per reading much less.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, fresh_dir, percentile, print_machine
from _ingest_phases import FARM, Plan, _loads, _Publishers
from _ingest_procs import GatewayProcess, cpu_s, start_broker, tree_cpu_s
from _ingest_readings import load_fleet, new_log

from chain.store import Store
from gateway.datadir import DataDir

_HISTOGRAM = "farmtrace_commit_latency_seconds_bucket"


@dataclass(frozen=True, slots=True)
class PacedRun:
    """One paced run's figures."""

    repo: Path
    sent: int
    latencies: list[float]  # sorted, seconds
    unconfirmed: int
    buckets: list[tuple[float, float]]  # (le, observations in the run), cumulative
    gateway_us: float  # CPU per reading: gateway process and its descendants
    broker_us: float
    publishers_us: float
    load: tuple[float, float]  # 1-minute load average before, after
    stored_ok: bool


def paced_run(repo: Path, devices: int, rate: float, seconds: float, warmup: float,
              processes: int, workers: int | None) -> PacedRun:  # fmt: skip
    """One paced phase against a gateway run from ``repo`` on a fresh data dir and broker,
    after ``warmup`` seconds at the same rate that are not measured. Every device publishes
    the same number of readings in each phase (a device whose seqs had a hole would never
    get a receipt covering the next ones)."""
    warm = math.ceil(rate * warmup / devices)
    measured = math.ceil(rate * seconds / devices)
    per_device = math.ceil((warm + measured) / 500) * 500
    fleet, _ = load_fleet(devices, per_device)
    root = fresh_dir("ingest-paced")
    data_dir = DataDir(root / "data")
    new_log(data_dir, fleet)
    broker = start_broker(root / "broker", FARM)
    extra = () if workers is None else ("--verify-workers", str(workers))
    gateway = GatewayProcess(data_dir.root, FARM, broker.url, *extra, repo=repo)
    plan = Plan(devices, processes, 0, per_device, seconds, rate, outstanding=0)
    pace = {"watch_receipts": True, "rate": rate / processes}
    try:
        warm_sent = 0
        if warm:  # e.g. the signature workers start with the first batch
            warmers = _Publishers(_loads(fleet, plan, broker.port, 0, warm, **pace))
            warmers.go()
            warm_sent = sum(r.published for r in warmers.results())
        publishers = _Publishers(_loads(fleet, plan, broker.port, warm, measured, **pace))
        load_before = os.getloadavg()[0]
        before = gateway.metrics()
        gw_cpu, broker_cpu = tree_cpu_s(gateway.pid), cpu_s(broker.pid)
        publishers.go()
        results = publishers.results()
        gw_cpu, broker_cpu = tree_cpu_s(gateway.pid) - gw_cpu, cpu_s(broker.pid) - broker_cpu
        after = gateway.metrics()
        load_after = os.getloadavg()[0]
    finally:
        exit_code = gateway.stop()
        broker.stop()
    sent = sum(r.published for r in results)
    with Store.open(data_dir.log) as store:
        stored = store.entry_count
    per = 1e6 / max(sent, 1)
    return PacedRun(
        repo=repo,
        sent=sent,
        latencies=sorted(x for r in results for x in r.latencies),
        unconfirmed=sum(r.unconfirmed for r in results),
        buckets=sorted(
            (float(k.split('le="')[1].split('"')[0]), after[k] - before.get(k, 0.0))
            for k in after
            if k.startswith(_HISTOGRAM)
        ),
        gateway_us=gw_cpu * per,
        broker_us=broker_cpu * per,
        publishers_us=sum(r.cpu_s for r in results) * per,
        load=(load_before, load_after),
        stored_ok=exit_code == 0 and stored == 1 + devices + sent + warm_sent,
    )


def describe(run: PacedRun) -> str:
    """The run as two lines."""
    lat = run.latencies or [0.0]
    total = run.buckets[-1][1] if run.buckets else 0.0
    spread = ", ".join(
        f"<={le:g}: {count / total:.1%}" for le, count in run.buckets if total and le <= 5
    )
    return (
        f"  {run.repo}: {run.sent:,} readings; publish -> receipt p50 {percentile(lat, 50):.3f} s, "
        f"p99 {percentile(lat, 99):.3f} s, max {lat[-1]:.3f} s; {run.unconfirmed} never receipted"
        f"{'' if run.stored_ok else '; STORE INCOMPLETE OR UNCLEAN STOP'}\n"
        f"    CPU per reading: gateway {run.gateway_us:.0f} us, broker {run.broker_us:.0f} us, "
        f"publishers {run.publishers_us:.0f} us; load {run.load[0]:.1f} -> {run.load[1]:.1f}; "
        f"gateway receive -> checkpoint: {spread}"
    )


def main() -> None:
    """Parse the options, run the paced phases alternating between repos, print each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=3000, help="readings/s (all publishers)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5, help="seconds paced, not measured")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4, help="publisher processes")
    parser.add_argument("--workers", type=int, default=None, help="gateway --verify-workers")
    parser.add_argument("--runs", type=int, default=1, help="runs per repo, alternated")
    parser.add_argument("--repo", type=Path, action="append", help="default: this checkout")
    args = parser.parse_args()
    repos = [r.resolve() for r in args.repo] if args.repo else [REPO]
    print(f"paced ingest at {args.rate:,.0f} readings/s for {args.seconds:g} s, "
          f"{args.devices} devices")  # fmt: skip
    print_machine()
    for _ in range(args.runs):
        for repo in repos:
            run = paced_run(
                repo, args.devices, args.rate, args.seconds, args.warmup, args.processes,
                args.workers,
            )  # fmt: skip
            print(describe(run), flush=True)


if __name__ == "__main__":
    main()
