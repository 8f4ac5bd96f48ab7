"""Consumer site: replica sync rate, lifecycle page server time, page weight.

1. The story farm's log (``demo.story_farm``): 420 tagged birds, 42 days,
   100 of them slaughtered and packed at the end, about 1M entries; built once
   (about 90 s on two cores) and cached in ``bench/.cache/``.
2. Replica sync: that log served by ``readapi.create_app`` over werkzeug in a
   separate process, followed by a fresh ``consumer_web._replica.Replica``
   (``sync_once()`` until caught up): entries/s and blocks/s of wall-clock
   time. Raw limits measured in the same run: the Ed25519 verify rate on one
   core (as ``audit_bench`` measures it, before and after the sync) and the
   rate at which ``Store.append_block`` (synced, as the replica's store is)
   takes the same blocks with nothing verified.
3. Server time of the pack page ``/01/<gtin>/21/<serial>``, ``/bird/<id>`` and
   ``/api/v1/birds/<id>/lifecycle`` through Flask's test client over the
   synced replica: the first request of a site whose caches are empty (the
   OS page cache is warm), the time ``Lifecycle.warm()`` takes (what the site's
   warming thread does at start), then on the warmed site 200 requests for
   one packed bird, and a first view (its story not built yet) of each other
   single-bird pack, of 100 other birds' pages and of 100 more birds' JSON.
   Goal: p95 <= 50 ms.
4. Page weight: a pack page and every file it loads (stylesheets, scripts,
   images, and the ES modules ``verify.js`` imports, transitively) as served,
   and gzip-compressed for information. Goal: <= 300 KB.

Run alone: ``.venv/bin/python bench/web.py [--quick]``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import multiprocessing
import os
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from _common import CACHE, Figure, fresh_dir, main_for, percentile
from _ingest_procs import cpu_s
from audit_bench import _raw_rate, _signed_messages
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

import readapi
from chain.block import BlockHeader
from chain.entries import parse_entry
from chain.store import Store
from chain.trust import TrustRoot
from consumer_web import create_app
from consumer_web._replica import Replica
from demo.story_farm import StoryFarm, build_story_log
from gateway.datadir import DataDir

_TIME_GOAL_MS = 50.0
_WEIGHT_GOAL_KB = 300.0
_FULL_FARM = StoryFarm(days=42, birds=420, shelf_birds=100, lot_birds=3)
_QUICK_FARM = StoryFarm(days=4, birds=12, shelf_birds=8, lot_birds=3)


@dataclass(frozen=True, slots=True)
class _Log:
    """The cached story log and what the benchmark needs from its manifest."""

    data_dir: DataDir
    trust: TrustRoot
    packs: tuple[tuple[str, str], ...]  # (Digital Link path, bird) of single-bird packs
    birds: tuple[str, ...]
    entries: int
    blocks: int
    how: str


def _story_log(farm: StoryFarm) -> _Log:
    """The cached story log of ``farm``, built if missing or built from another farm."""
    name = f"web-story-{farm.birds}b{farm.days}d-{farm.block_size}"
    marker, shape = CACHE / f"{name}.json", dataclasses.asdict(farm)
    built = json.loads(marker.read_text()) if marker.exists() else None
    if built is None or built["farm"] != shape or not (CACHE / name).exists():
        marker.unlink(missing_ok=True)
        print(f"  building the story log {CACHE / name} (once; cached afterwards)", flush=True)
        started = time.perf_counter()
        manifest = build_story_log(DataDir(fresh_dir(name)), farm, jobs=2)
        built = {
            "farm": shape,
            "seconds": time.perf_counter() - started,
            "packs": [[p.link.path, p.bird] for p in manifest.packs],
            "birds": list(manifest.birds),
            "entries": manifest.entries,
            "blocks": manifest.blocks,
        }
        marker.write_text(json.dumps(built))
        how = f"built now in {built['seconds']:.0f} s"
    else:
        how = f"cached, built in {built['seconds']:.0f} s"
    data_dir = DataDir(CACHE / name)
    return _Log(
        data_dir,
        TrustRoot.from_json(data_dir.trust.read_text()),
        tuple((path, bird) for path, bird in built["packs"]),
        tuple(built["birds"]),
        built["entries"],
        built["blocks"],
        how,
    )


# -- replica sync ------------------------------------------------------------------


def _serve(log_dir: str, trust_json: str, conn: Connection) -> None:
    """The gateway's side (a child process): serve the read API until told to stop."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    trust = TrustRoot.from_json(trust_json)
    with Store.open(log_dir) as store:
        source = readapi.LogInfo(trust.origin, trust.log_key, (), store, admins=trust.admins)
        server = make_server("127.0.0.1", 0, readapi.create_app(source), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        conn.send(server.server_port)
        conn.recv()
        server.shutdown()
        thread.join()
        server.server_close()


def _scratch(prefix: str) -> Path:
    """A new empty directory in the cache (on the repository's disk, so fsync is real),
    unique to this run: two runs at once must not share one."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=CACHE))


def _raw_append(log: _Log) -> tuple[float, float]:
    """(entries/s, parse seconds per entry) of ``Store.append_block`` taking the log's blocks.

    Blocks are read and their entries parsed off the clock; only the synced
    append (link and entries-root checks, duplicate lookups, index records,
    one fsync'd batch) is timed.
    """
    target = _scratch("web-raw-append-")
    appending = parsing = 0.0
    with Store.open(log.data_dir.log) as source, Store.open(target, origin=log.trust.origin) as to:
        for height in range(source.size):
            t0 = time.perf_counter()
            header = BlockHeader.from_bytes(source.block_raw(height))
            entries = [parse_entry(raw) for raw in source.block_entries(height)]
            t1 = time.perf_counter()
            to.append_block(header, entries)
            parsing, appending = parsing + t1 - t0, appending + time.perf_counter() - t1
    shutil.rmtree(target)
    return log.entries / appending, parsing / log.entries


def _sync(log: _Log, site_dir: Path) -> tuple[Replica, float, float, float]:
    """A replica in ``site_dir`` synced from a server process; (it, seconds, CPU s here, there)."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(
        target=_serve, args=(str(log.data_dir.log), log.trust.to_json(), theirs), daemon=True
    )
    server.start()
    theirs.close()  # so that recv() raises EOFError if the server dies instead of hanging
    try:
        port = ours.recv()
        assert server.pid is not None
        replica = Replica(site_dir, [f"http://127.0.0.1:{port}"], trust=log.trust)
        cpu_here, cpu_there = time.process_time(), cpu_s(server.pid)
        started = time.perf_counter()
        while (status := replica.sync_once()).tree_size < log.blocks:
            source = status.sources[0]
            if source.last_result != "ok":
                raise RuntimeError(f"sync failed: {source}")
        elapsed = time.perf_counter() - started
        cpu_here, cpu_there = time.process_time() - cpu_here, cpu_s(server.pid) - cpu_there
        ours.send("stop")
        server.join(30)
    finally:
        if server.is_alive():
            server.kill()
            server.join()
    assert replica.store.entry_count == log.entries
    return replica, elapsed, cpu_here, cpu_there


# -- server time -------------------------------------------------------------------


def _app(replica: Replica) -> Flask:
    app: Flask = create_app({"TESTING": True, "SITE_DATA": replica, "WARM_CACHE": False})
    return app


def _get(client: FlaskClient, path: str) -> tuple[float, bytes]:
    """(milliseconds, body) of one GET, which must answer 200."""
    started = time.perf_counter()
    response = client.get(path)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    return ms, response.get_data()


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p50, p95, p99 = (percentile(ordered, q) for q in (50, 95, 99))
    return f"p50 {p50:.1f}, p95 {p95:.1f}, p99 {p99:.1f}, max {ordered[-1]:.1f} ms"


def _p95(times: list[float]) -> float:
    return percentile(sorted(times), 95)


def _server_times(replica: Replica, log: _Log, repeats: int, mix: int) -> list[Figure]:
    pack, bird = log.packs[0]
    pages: dict[str, Callable[[str, str], str]] = {
        "pack page": lambda path, _: path,
        "bird page": lambda _, b: f"/bird/{b}",
        "lifecycle JSON": lambda _, b: f"/api/v1/birds/{b}/lifecycle",
    }
    figures: list[Figure] = []
    for name, url in pages.items():  # a new site each: nothing in its caches
        cold = _app(replica)
        ms, _ = _get(cold.test_client(), url(pack, bird))
        cold.extensions["farmtrace_site"].close()
        print(f"  {name}, first request of a cold site: {ms:.0f} ms")
        figures.append(Figure(f"{name}, cold site (first request)", ms, "ms"))
    app = _app(replica)
    life = app.extensions["farmtrace_site"].lifecycle
    started = time.perf_counter()
    loaded = life.warm()
    warm_s = time.perf_counter() - started
    print(
        f"  warming the cache: {loaded} subjects, {life.cache.readings:,} readings, {warm_s:.1f} s"
    )
    figures.append(Figure("warming the site's cache", warm_s, "s", note=f"{loaded} subjects"))
    client = app.test_client()
    goal = f"p95 <= {_TIME_GOAL_MS:.0f} ms"
    for name, url in pages.items():
        first, _ = _get(client, url(pack, bird))
        times = [_get(client, url(pack, bird))[0] for _ in range(repeats)]
        print(f"  {name}, one bird: first {first:.1f} ms, then {repeats} times: {_summary(times)}")
        p95 = _p95(times)
        figures.append(
            Figure(
                f"{name}, same bird p95",
                p95,
                "ms",
                goal,
                p95 <= _TIME_GOAL_MS,
                f"first {first:.0f} ms",
            )
        )
    # First views of many birds, each page kind on birds no other kind has asked for.
    shelf = list(log.packs[1:])
    packed = {b for _, b in log.packs}
    others = [b for b in log.birds if b not in packed]
    random.Random(7).shuffle(others)
    sets = {
        "pack page": shelf[:mix],
        "bird page": [("", b) for b in others[:mix]],
        "lifecycle JSON": [("", b) for b in others[mix : 2 * mix]],
    }
    for name, url in pages.items():
        chosen = sets[name]
        times = [_get(client, url(path, b))[0] for path, b in chosen]
        if not times:
            continue
        print(f"  {name}, first view of {len(times)} other birds: {_summary(times)}")
        p95 = _p95(times)
        figures.append(
            Figure(
                f"{name}, {len(times)} birds first view p95",
                p95,
                "ms",
                goal,
                p95 <= _TIME_GOAL_MS,
                f"p50 {percentile(sorted(times), 50):.0f} ms",
            )
        )
    app.extensions["farmtrace_site"].close()
    return figures


# -- page weight ---------------------------------------------------------------------


class _Assets(HTMLParser):
    """The URLs of the files a page loads: stylesheets, icons, scripts, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("href") and (found.get("rel") or "") != "alternate":
            self.urls.append(str(found["href"]))
        elif tag in ("script", "img") and found.get("src"):
            self.urls.append(str(found["src"]))


_IMPORT = re.compile(r"""(?:\b(?:import|from)\s+|\bimport\s*\(\s*)["'](\.{0,2}/[^"']+)["']""")
"""Module specifiers of static ``import``/``export ... from`` and of dynamic ``import()``."""


def _page_weight(client: FlaskClient, path: str) -> tuple[int, int, list[str]]:
    """(bytes, gzip bytes, one line per file) of ``path`` and everything it loads."""
    _, html = _get(client, path)
    parser = _Assets()
    parser.feed(html.decode("utf-8"))
    queue, seen = list(parser.urls), {path}
    files = [(path, html)]
    while queue:
        url = urlsplit(queue.pop(0)).path
        if url in seen:
            continue
        seen.add(url)
        _, body = _get(client, url)
        files.append((url, body))
        if url.endswith(".js"):
            queue += [urljoin(url, m) for m in _IMPORT.findall(body.decode("utf-8"))]
    total = sum(len(body) for _, body in files)
    zipped = sum(len(gzip.compress(body, 6)) for _, body in files)
    lines = [
        f"{url:<40} {len(body):>9,} B  gzip {len(gzip.compress(body, 6)):>8,} B"
        for url, body in files
    ]
    return total, zipped, lines


# -- the benchmark -------------------------------------------------------------------


def _sync_figures(log: _Log, site_dir: Path, quick: bool) -> tuple[Replica, list[Figure]]:
    """Raw limits, then the replica synced into ``site_dir``; it and the figures."""
    raw_seconds = 0.5 if quick else 2.0
    messages = _signed_messages(log.data_dir, log.trust)
    raws = [_raw_rate(messages, raw_seconds)]
    append_rate, parse_s = _raw_append(log)
    print(f"  raw verify {raws[0]:,.0f}/s; raw synced append {append_rate:,.0f} entries/s")
    print(f"    (append_block only; parse_entry, untimed: {parse_s * 1e6:.1f} us/entry)")
    replica, seconds, cpu_here, cpu_there = _sync(log, site_dir)
    raws.append(_raw_rate(messages, raw_seconds))
    raw, rate, cores = statistics.mean(raws), log.entries / seconds, os.cpu_count() or 1
    blocks = f"{log.blocks / seconds:,.1f} blocks/s"
    print(f"  replica sync: {log.entries:,} entries in {seconds:.1f} s: {rate:,.0f}/s, {blocks}")
    print(
        f"  raw verify after {raws[1]:,.0f}/s; CPU per entry: replica "
        f"{cpu_here / log.entries * 1e6:.0f} us, server {cpu_there / log.entries * 1e6:.0f} us"
    )
    print(
        f"  sync / raw verify {rate / raw:.3f}, / ({cores} x raw verify) "
        f"{rate / (cores * raw):.3f}, / raw append {rate / append_rate:.3f}"
    )
    return replica, [
        Figure("raw Ed25519 verify, one core", raw, "verifies/s", note="mean of before, after"),
        Figure("raw synced Store.append_block", append_rate, "entries/s", note="not verified"),
        Figure("replica sync", rate, "entries/s", note=blocks),
        Figure("replica sync / raw verify, one core", rate / raw, "ratio"),
        Figure(f"replica sync / ({cores} x raw verify)", rate / (cores * raw), "ratio"),
        Figure("replica sync / raw append", rate / append_rate, "ratio"),
    ]


def _weight_figure(replica: Replica, path: str) -> Figure:
    app = _app(replica)
    try:
        total, zipped, lines = _page_weight(app.test_client(), path)
    finally:
        app.extensions["farmtrace_site"].close()
    for line in lines:
        print(f"    {line}")
    kb, gz = total / 1024, zipped / 1024
    print(f"  page weight: {len(lines)} files, {kb:,.1f} KB as served, {gz:,.1f} KB gzipped")
    goal = f"<= {_WEIGHT_GOAL_KB:.0f} KB"
    return Figure("pack page weight", kb, "KB", goal, kb <= _WEIGHT_GOAL_KB, f"gzip {gz:.0f} KB")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(*, quick: bool = False) -> list[Figure]:
    """Build or reuse the log, sync a replica from it, time its pages, weigh one; the figures."""
    print(f"  load average {_load()} (other jobs on the machine skew every figure)")
    log = _story_log(_QUICK_FARM if quick else _FULL_FARM)
    print(f"  story log: {log.data_dir.root} ({log.how})")
    print(f"    {log.entries:,} entries in {log.blocks:,} blocks, {len(log.birds)} birds")
    site_dir = _scratch("web-replica-")
    try:
        replica, figures = _sync_figures(log, site_dir, quick)
        try:
            figures += _server_times(replica, log, 20 if quick else 200, 5 if quick else 100)
            figures.append(_weight_figure(replica, log.packs[0][0]))
        finally:
            replica.close()
    finally:
        shutil.rmtree(site_dir)
    print(f"  load average {_load()} at the end")
    if quick:  # a tiny farm: the goals are for six weeks of data
        figures = [
            dataclasses.replace(f, goal="", met=None, note=f.note or "smoke run") for f in figures
        ]
    return figures


if __name__ == "__main__":
    main_for("consumer site: replica sync, page server time, page weight", run)
