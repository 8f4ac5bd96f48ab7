"""The static read path: replica sync from C2SP tlog-tiles via nginx vs from the read API.

1. The story farm's log (``bench/web.py``'s, about 1M entries, cached).
2. The "gateway": the read API (``readapi.create_app``, as the gateway serves
   it) over werkzeug in a separate process, counting every request it answers.
3. Raw limits in the same run: the Ed25519 verify rate on one core (what a
   replica's sync is bound by) before and after the syncs.
4. ``farmtrace tiles``' publisher copies the log into a directory (timed, for
   information); a real nginx (tests/nginx_static.py, 2 workers) serves it.
5. Replica sync, a fresh ``Replica`` (``sync_once()`` until caught up), from
   the read API and from ``tiles+http://nginx``, alternated twice (medians):
   entries/s, and the gateway's requests during the tiles syncs (goal: 0).
   Goal: tiles rate >= read API rate.
6. 50 concurrent readers (threads, each its own ``TileClient``) doing what a
   shopper's verification does: the checkpoint, one random block and its
   inclusion proof, repeated; reads/s, and the gateway's requests meanwhile
   (goal: 0). The same 50 readers against the read API, for comparison.

Run alone: ``.venv/bin/python bench/tiles_bench.py [--quick]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any

from _common import REPO, Figure, main_for
from audit_bench import _raw_rate, _signed_messages
from web import _FULL_FARM, _QUICK_FARM, _load, _Log, _scratch, _story_log
from werkzeug.serving import make_server

import readapi
from chain.store import Store
from chain.trust import TrustRoot
from consumer_web._replica import Replica
from readapi.client import ReadApiClient
from readapi.tile_client import open_client
from tiles import TilePublisher

sys.path.insert(0, str(REPO / "tests"))
from nginx_static import StaticNginx

_READERS = 50


def _serve_counting(log_dir: str, trust_json: str, conn: Connection) -> None:
    """The gateway's side (a child process): serve the read API, answer "count" with its count."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    trust = TrustRoot.from_json(trust_json)
    count, lock = [0], threading.Lock()
    with Store.open(log_dir) as store:
        source = readapi.LogInfo(trust.origin, trust.log_key, (), store, admins=trust.admins)
        app = readapi.create_app(source)

        def counted(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
            with lock:
                count[0] += 1
            return app(environ, start)  # type: ignore[no-any-return]

        server = make_server("127.0.0.1", 0, counted, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        conn.send(server.server_port)
        while conn.recv() == "count":
            conn.send(count[0])
        server.shutdown()
        thread.join()
        server.server_close()


class _Gateway:
    """The counting read API in a child process."""

    def __init__(self, log: _Log) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve_counting,
            args=(str(log.data_dir.log), log.trust.to_json(), theirs),
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self.url = f"http://127.0.0.1:{self._conn.recv()}"

    def requests(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _sync(log: _Log, url: str) -> float:
    """Seconds a fresh replica takes to catch up with ``url``."""
    site_dir = _scratch("tiles-replica-")
    try:
        replica = Replica(site_dir, [url], trust=log.trust)
        try:
            started = time.perf_counter()
            while (status := replica.sync_once()).tree_size < log.blocks:
                if status.sources[0].last_result != "ok":
                    raise RuntimeError(f"sync failed: {status.sources[0]}")
            elapsed = time.perf_counter() - started
            assert replica.store.entry_count == log.entries
        finally:
            replica.close()
    finally:
        shutil.rmtree(site_dir)
    return elapsed


def _readers(url: str, blocks: int, seconds: float) -> float:
    """Verification reads per second by :data:`_READERS` threads over ``seconds``."""
    done, lock, stop = [0], threading.Lock(), threading.Event()
    failures: list[BaseException] = []

    def read(n: int) -> None:
        client, rng = open_client(url, timeout=30), random.Random(n)
        try:
            while not stop.is_set():
                client.checkpoint()
                height = rng.randrange(blocks)
                client.block(height)
                client.inclusion(height, blocks)
                with lock:
                    done[0] += 1
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(_READERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} readers failed: {failures[0]!r}")
    return done[0] / (time.perf_counter() - started)


def _runs(rates: list[float]) -> str:
    return "median of " + ", ".join(f"{r:,.0f}" for r in rates)


def run(*, quick: bool = False) -> list[Figure]:
    """Sync a replica from the read API and from tiles via nginx; 50 readers; the figures."""
    print(f"  load average {_load()}")
    log = _story_log(_QUICK_FARM if quick else _FULL_FARM)
    print(f"  story log: {log.data_dir.root} ({log.how})")
    print(f"    {log.entries:,} entries in {log.blocks:,} blocks")
    messages = _signed_messages(log.data_dir, log.trust)
    raw_s, read_s = (0.5, 3.0) if quick else (2.0, 20.0)
    raws = [_raw_rate(messages, raw_s)]
    gateway = _Gateway(log)
    tiles_dir = _scratch("tiles-dir-")
    nginx = None
    try:
        started = time.perf_counter()
        TilePublisher(tiles_dir, log.trust, ReadApiClient(gateway.url, timeout=60)).publish_once()
        publish_s = time.perf_counter() - started
        size = sum(p.stat().st_size for p in tiles_dir.rglob("*") if p.is_file())
        print(f"  published tiles in {publish_s:.1f} s ({size / 1e6:,.0f} MB)")
        nginx = StaticNginx(tiles_dir, _scratch("tiles-nginx-"), workers=2).start()
        api_runs, tile_runs, during_sync = [], [], 0
        for _ in range(1 if quick else 2):  # alternated: the machine's load drifts
            api_runs.append(log.entries / _sync(log, gateway.url))
            before = gateway.requests()
            tile_runs.append(log.entries / _sync(log, f"tiles+{nginx.url}"))
            during_sync += gateway.requests() - before
            print(
                f"  replica sync: read API {api_runs[-1]:,.0f} entries/s, tiles via nginx "
                f"{tile_runs[-1]:,.0f} entries/s (gateway requests meanwhile {during_sync})"
            )
        api_rate, tiles_rate = statistics.median(api_runs), statistics.median(tile_runs)
        raws.append(_raw_rate(messages, raw_s))
        before = gateway.requests()
        tile_reads = _readers(f"tiles+{nginx.url}", log.blocks, read_s)
        during_reads = gateway.requests() - before
        api_reads = _readers(gateway.url, log.blocks, read_s)
        print(
            f"  {_READERS} readers: tiles {tile_reads:,.0f} reads/s (gateway requests "
            f"meanwhile {during_reads}), read API {api_reads:,.0f} reads/s"
        )
    finally:
        if nginx is not None:
            nginx.stop()
            shutil.rmtree(nginx.scratch)
        gateway.stop()
        shutil.rmtree(tiles_dir)
    raw = statistics.mean(raws)
    print(f"  raw verify {raws[0]:,.0f}/s before, {raws[1]:,.0f}/s after; load {_load()}")
    figures = [
        Figure("raw Ed25519 verify, one core", raw, "verifies/s", note="mean of before, after"),
        Figure("replica sync from the read API", api_rate, "entries/s", note=_runs(api_runs)),
        Figure("replica sync from tiles via nginx", tiles_rate, "entries/s", note=_runs(tile_runs)),
        Figure(
            "tiles sync / read API sync",
            tiles_rate / api_rate,
            "ratio",
            ">= 1",
            tiles_rate >= api_rate,
        ),
        Figure("tiles sync / raw verify, one core", tiles_rate / raw, "ratio"),
        Figure("publish the log as tiles", publish_s, "s", note=f"{size / 1e6:,.0f} MB"),
        Figure(
            "gateway requests during tiles sync", during_sync, "requests", "0", during_sync == 0
        ),
        Figure(
            f"gateway requests, {_READERS} tile readers",
            during_reads,
            "requests",
            "0",
            during_reads == 0,
        ),
        Figure(f"{_READERS} readers from tiles via nginx", tile_reads, "reads/s"),
        Figure(f"{_READERS} readers from the read API", api_reads, "reads/s"),
    ]
    if quick:
        figures = [dataclasses.replace(f, goal="", met=None, note="smoke run") for f in figures]
    return figures


if __name__ == "__main__":
    main_for("static read path: tiles via nginx vs the read API", run)
