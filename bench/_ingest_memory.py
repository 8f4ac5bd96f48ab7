"""Where the gateway's memory goes as its log grows: tracemalloc against RSS and LevelDB.

The gateway's ingest pipeline without MQTT: the benchmark fleet's pre-signed
readings go through :meth:`gateway.ingest.Ingest.offer`, ``flush`` and
``close_blocks`` in batches of 4,096 (as the MQTT loop does), blocks of
10,000. Every 100,000 readings it samples the process's RSS, the Python heap
as tracemalloc sees it (``--trace``; and its top growing lines at the end),
and the LevelDB side: its table files on disk (each open table keeps its
index block in LevelDB's table cache, up to ``max_open_files`` tables).

Run alone: ``.venv/bin/python bench/_ingest_memory.py [readings] [--trace]``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import time
import tracemalloc
from pathlib import Path

from _common import fresh_dir
from _ingest_procs import rss_mb, rss_parts_mb
from _ingest_readings import load_fleet, new_log

from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer

_BATCH = 4_096
_EVERY = 100_000


def _tables(log: Path) -> tuple[int, float]:
    files = list(log.glob("*.ldb"))
    return len(files), sum(f.stat().st_size for f in files) / 1e6


def _malloc_trim() -> None:
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readings", type=int, nargs="?", default=2_000_000)
    parser.add_argument("--trace", action="store_true", help="tracemalloc (slower)")
    parser.add_argument(
        "--trim",
        action="store_true",
        help="call glibc's malloc_trim(0) before each sample: RSS that it gives back was "
        "freed memory the allocator kept, not live data",
    )
    args = parser.parse_args()
    devices = 200
    per_device = -(-args.readings // devices)
    fleet, how = load_fleet(devices, 11_500 if per_device <= 11_500 else per_device)
    print(f"fleet: {how}")
    data_dir = DataDir(fresh_dir("ingest-memory") / "data")
    new_log(data_dir, fleet)
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    pid = os.getpid()
    if args.trace:
        tracemalloc.start(5)
    with Store.open(data_dir.log) as store:
        now = fleet.t0 + 60_000
        ingest = Ingest.open(store, trust, read_log_signer(data_dir), IngestConfig(), now)
        stream = (fleet.readings[d][i] for i in range(per_device) for d in range(devices))
        done, started, first = 0, time.perf_counter(), None
        print("readings    RSS MB  anon MB  file MB  py-heap MB  tables  tables MB")
        batch: list[bytes] = []
        for raw in stream:
            batch.append(raw)
            if len(batch) < _BATCH:
                continue
            for item in batch:
                ingest.offer(item, None, now)
            ingest.flush()
            if ingest.block_due(now + 2_000):
                for _ in ingest.close_blocks(now):
                    pass
            done += len(batch)
            batch = []
            if done // _EVERY != (done - _BATCH) // _EVERY:
                if args.trim:
                    _malloc_trim()
                heap = tracemalloc.get_traced_memory()[0] / 1e6 if args.trace else 0.0
                count, size = _tables(data_dir.log)
                anon, mapped = rss_parts_mb(pid)
                print(
                    f"{done:>9,} {rss_mb(pid):>8.1f} {anon:>8.1f} {mapped:>8.1f}"
                    f" {heap:>10.1f} {count:>7} {size:>9.0f}"
                )
                if first is None and args.trace:
                    first = tracemalloc.take_snapshot()
        print(f"{done:,} readings in {time.perf_counter() - started:.0f} s")
        if first is not None:
            last = tracemalloc.take_snapshot()
            for stat in last.compare_to(first, "lineno")[:8]:
                print("  ", stat)


if __name__ == "__main__":
    main()
