"""Run every benchmark (ledger core, gateway ingest, consumer site); one summary (``make bench``).

Usage: ``.venv/bin/python bench/run_all.py [--quick]``. Benchmarks are not
part of the test run. Built stores are cached in ``bench/.cache/`` (the first
full run builds a 10^6-block store, a few minutes, signs the ingest
benchmark's 1.3M readings, about 40 s, and builds the site benchmark's
1M-entry story farm log, about 2 minutes, and the ten 100k-entry farm logs
of the trace across logs, a few minutes; later runs reuse them).
Results of a full run on the reference machine are in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import time

import audit_bench
import ingest
import proof_bench
import serving_bench
import store_bench
import tiles_bench
import trace_across
import trace_bench
import web
from _common import Figure, print_machine

_BENCHMARKS = (
    ("store append rate (synced writes)", store_bench.run),
    ("proof time", proof_bench.run),
    ("audit rate vs. raw Ed25519 verify rate", audit_bench.run),
    ("gateway ingest vs. raw MQTT transport", ingest.run),
    ("consumer site: replica sync, page server time, page weight", web.run),
    ("trace on a farm of the demo's size", trace_bench.run),
    ("trace and recall across logs, 10 farms x 100k entries", trace_across.run),
    ("pack pages for 50 clients: Werkzeug, waitress, nginx TLS", serving_bench.run),
    ("static read path: tiles via nginx vs the read API", tiles_bench.run),
)


def main() -> int:
    """Run the benchmarks; exit 0 (missed goals are reported, not failures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds each")
    args = parser.parse_args()
    print(f"farmtrace benchmarks{' (quick)' if args.quick else ''}")
    print_machine()
    figures: list[Figure] = []
    started = time.perf_counter()
    for title, run in _BENCHMARKS:
        print(f"== {title}")
        t0 = time.perf_counter()
        figures += run(quick=args.quick)
        print(f"   ({time.perf_counter() - t0:.0f} s)\n")
    print(f"== summary ({time.perf_counter() - started:.0f} s)")
    print_machine()
    for figure in figures:
        print(figure.line())
    checked = [f for f in figures if f.met is not None]
    missed = [f.name for f in checked if not f.met]
    if not checked:
        print("\nno goal checked (the goals are for a full run)")
    else:
        print(f"\ngoals missed: {', '.join(missed)}" if missed else "\nevery goal met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
