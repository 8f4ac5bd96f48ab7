"""``farmtrace audit``: verify a whole log offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from chain.audit import audit_store
from chain.errors import FarmtraceError
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir

_HELP = """\
Verify everything in a log's data directory, offline: every entry's signature
against the registration in force when it was signed, every block's entries
root, count, first index and hash link, every index and stored Merkle node,
and every checkpoint's signature and root. Duplicated or equivocating
(signer, seq) pairs fail the audit; per-device sequence gaps are reported.

The trust root (the log's origin, checkpoint key and genesis administrators)
is read from --trust. Pin your own copy: the default, <data-dir>/trust.json,
is only as trustworthy as whoever handed you the directory.

LevelDB admits one process at a time: stop the gateway, or audit a copy.
Exit status: 0 clean, 1 something failed (listed with its block and entry),
2 the store or trust root could not be read.
"""

_EXAMPLES = """\
examples:
  farmtrace audit --data-dir demo-data/gateway
  farmtrace audit --data-dir /backup/farm --trust pinned-trust.json --json > report.json
"""


def add_parser(commands: Any) -> None:
    """Register the ``audit`` subcommand."""
    parser = commands.add_parser(
        "audit",
        help="verify a whole log offline",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="the log's data directory")
    parser.add_argument("--trust", type=Path, help="trust root file (default: DATA_DIR/trust.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--jobs", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Audit and print the report; exit 0 clean, 1 failed, 2 unreadable input."""
    data_dir = DataDir(args.data_dir)
    trust_path = args.trust or data_dir.trust
    try:
        trust = TrustRoot.from_json(trust_path.read_text())
    except (OSError, FarmtraceError) as exc:
        print(f"farmtrace audit: cannot read the trust root {trust_path}: {exc}", file=sys.stderr)
        return 2
    try:
        store = Store.open(data_dir.log)
    except FarmtraceError as exc:
        print(f"farmtrace audit: {exc}", file=sys.stderr)
        return 2
    try:
        total: int | None = store.entry_count
    except FarmtraceError:
        total = None  # the audit reports the corrupt count
    with (
        store,
        tqdm(
            total=total,
            unit=" entries",
            disable=True if args.no_progress else None,
            file=sys.stderr,
            leave=False,
        ) as bar,
    ):
        report = audit_store(store, trust, jobs=args.jobs, progress=bar.update)
    print(report.to_json() if args.json else report.to_text(), end="" if not args.json else "\n")
    return 0 if report.ok else 1
