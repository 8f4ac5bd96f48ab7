"""Trace time on a farm of the demo's size (issue: "in under one second on the demo farm").

Builds a 100-bird, 42-day story farm
(about 270,000 entries, more than the live demo's 170,000) and times
:func:`chain.trace.trace` from a lot, a pack, a bird and a barn over the whole
period, each with a fresh index, as ``farmtrace trace`` runs it. The raw
limit printed beside it: a full scan of the event index, parsing every event.
Usage: ``.venv/bin/python bench/trace_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import Figure, print_machine

from chain.entries import parse_entry
from chain.store import Store
from chain.trace import trace
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir


def _farm(quick: bool, root: Path) -> tuple[DataDir, StoryManifest]:
    farm = (
        StoryFarm(days=4, birds=20, shelf_birds=12, lot_birds=3)
        if quick
        else StoryFarm(days=42, birds=100, shelf_birds=60, lot_birds=10)
    )
    data_dir = DataDir(root / "farm")
    started = time.perf_counter()
    manifest = build_story_log(data_dir, farm, jobs=2)
    print(f"   built {manifest.entries:,} entries in {time.perf_counter() - started:.0f} s")
    return data_dir, manifest


def run(quick: bool = False) -> list[Figure]:
    """Time one trace from each kind of start; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        return _run(quick, *_farm(quick, Path(tmp)))


def _run(quick: bool, data_dir: DataDir, m: StoryManifest) -> list[Figure]:
    starts = {
        "lot": (m.lots[0].subject, None),
        "pack": (m.packs[0].subject, None),
        "bird": (f"bird:{m.birds[1]}", None),
        "barn, whole period": (f"barn:{m.barns[0]}", (m.start_ms, m.end_ms)),
    }
    figures = []
    with Store.open(data_dir.log) as store:
        began = time.perf_counter()
        for index in store.event_indexes():
            parse_entry(store.entry(index))
        scan = time.perf_counter() - began
        print(f"   raw: parse every event ({len(store.event_indexes()):,}) in {scan * 1000:.0f} ms")
        for name, (start, window) in starts.items():
            began = time.perf_counter()
            result = trace(store, start, window=window)
            seconds = time.perf_counter() - began
            assert result.found
            print(
                f"   trace from a {name}: {seconds * 1000:.0f} ms ({seconds / scan:.1f} x raw scan)"
            )
            figures.append(
                Figure(
                    f"trace from a {name}, {m.entries:,} entries",
                    seconds * 1000,
                    "ms",
                    goal="< 1000 ms" if not quick else "",
                    met=(seconds < 1.0) if not quick else None,
                )
            )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print_machine()
    for figure in run(quick=args.quick):
        print(figure.line())
