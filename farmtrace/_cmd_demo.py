"""``farmtrace demo``: a demo farm's log, built and audited in one go."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from chain.audit import audit_store
from chain.store import Store
from chain.trust import TrustRoot
from farmtrace.demo import DemoFarm, build_demo_log
from gateway.datadir import DataDir

_HELP = """\
Build a demo farm's signed history and audit it.

The farm has barns with temperature and humidity sensors, each with its own
Ed25519 key, registered in the log by the farm administrator. Six weeks of
readings every ten minutes are signed, committed in blocks with a signed
checkpoint each, and then the whole log is audited offline. (The live demo,
with MQTT devices streaming into a running gateway, replaces this.)
"""

_EXAMPLES = """\
examples:
  farmtrace demo --data-dir demo-data
  farmtrace demo --data-dir /tmp/farm --barns 4 --days 7 --fresh
then:
  farmtrace audit --data-dir demo-data
"""


def add_parser(commands: Any) -> None:
    """Register the ``demo`` subcommand."""
    parser = commands.add_parser(
        "demo",
        help="build a demo farm's log and audit it",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("demo-data"), help="(default: demo-data)"
    )
    parser.add_argument(
        "--barns", type=int, default=2, help="barns, each with 2 sensors (default: 2)"
    )
    parser.add_argument("--days", type=int, default=42, help="days of history (default: 42)")
    parser.add_argument("--fresh", action="store_true", help="delete DATA_DIR first if it exists")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build (unless already built) and audit the demo log."""
    data_dir = DataDir(args.data_dir)
    if args.fresh and data_dir.root.exists():
        shutil.rmtree(data_dir.root)
    if data_dir.log.exists():
        print(f"{data_dir.root} already holds a log; auditing it (use --fresh to rebuild)")
    else:
        started = time.monotonic()
        farm = DemoFarm(barns=args.barns, days=args.days)
        build_demo_log(data_dir, farm)
        print(
            f"built {farm.days} days of {farm.barns * 2} sensors' readings in "
            f"{data_dir.root} ({time.monotonic() - started:.1f} s)"
        )
    with Store.open(data_dir.log) as store:
        report = audit_store(store, TrustRoot.from_json(data_dir.trust.read_text()))
    print(report.to_text(), end="")
    print(f"\nnext: farmtrace audit --data-dir {data_dir.root}   (or --json)")
    return 0 if report.ok else 1
