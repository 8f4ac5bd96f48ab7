"""What every benchmark shares: the machine it ran on, figures, percentiles, the cache.

A benchmark module has ``run(*, quick: bool) -> list[Figure]`` (printing its
details as it goes) and a ``main()`` for running it alone; ``run_all.py``
runs them all and prints one summary. Nothing here is part of the test run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as ``python bench/x.py`` without an installed package
    sys.path.insert(0, str(REPO))

CACHE = REPO / "bench" / ".cache"
"""Built stores kept between runs (git-ignored); delete it to rebuild them."""

# PyNaCl bundles libsodium but does not expose its version; its changelog names it.
_BUNDLED_LIBSODIUM = {"1.4": "1.0.18", "1.5": "1.0.18-stable", "1.6": "1.0.20-stable"}


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure; ``goal``/``met`` when the issue sets a target for it."""

    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""

    def line(self) -> str:
        """The figure as one summary line."""
        verdict = "" if self.met is None else ("  goal met" if self.met else "  GOAL MISSED")
        goal = f"  (goal {self.goal})" if self.goal else ""
        note = f"  [{self.note}]" if self.note else ""
        return f"{self.name:<44} {_number(self.value):>12} {self.unit:<10}{goal}{verdict}{note}"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if value < 10 else f"{value:,.1f}"


def machine() -> dict[str, str]:
    """The facts every figure is printed with."""
    pynacl = metadata.version("pynacl")
    sodium = _BUNDLED_LIBSODIUM.get(".".join(pynacl.split(".")[:2]), "unknown")
    try:
        import plyvel

        leveldb = f"plyvel {plyvel.__version__}, LevelDB {plyvel.__leveldb_version__}"
    except ImportError:  # pragma: no cover - plyvel is a dependency
        leveldb = "plyvel missing"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count() or 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pynacl": f"PyNaCl {pynacl}, libsodium {sodium} (bundled)",
        "store": leveldb,
        "os": f"{platform.system()} {platform.release()}",
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine() -> None:
    """Print the machine block that heads every benchmark run."""
    for key, value in machine().items():
        print(f"  {key:<7} {value}")
    print()


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of an ascending, non-empty sequence (nearest rank)."""
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fresh_dir(name: str) -> Path:
    """An empty directory ``CACHE/name`` (on the repository's disk, so fsync is real)."""
    path = CACHE / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def main_for(title: str, run: Callable[..., list[Figure]]) -> None:
    """The ``main()`` of a benchmark run alone: ``--quick``, machine, figures."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    print(f"{title}{' (quick)' if args.quick else ''}")
    print_machine()
    figures = run(quick=args.quick)
    print()
    for figure in figures:
        print(figure.line())
