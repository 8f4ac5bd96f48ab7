"""``farmtrace audit``: verify a whole log, offline (``--data-dir``) or live (``--url``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from chain.audit import audit_store
from chain.errors import FarmtraceError, SourceError
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from farmtrace._serving import check_url
from gateway.datadir import DataDir
from readapi.client import ReadApiClient
from verify.live_audit import live_audit

_HELP = """\
Verify everything in a log: every entry's signature against the registration
in force when it was signed, every block's entries root, count, first index
and hash link, every index and Merkle node, every checkpoint's signature and
root, and the lifecycle of every bird, carcass and pack. Duplicated or
equivocating (signer, seq) pairs fail the audit; per-device sequence gaps
are reported.

Two ways to get the log:

  --data-dir DIR  a gateway's data directory, offline. LevelDB admits one
                  process at a time: stop the gateway, or audit a copy. The
                  trust root defaults to DIR/trust.json, which is only as
                  trustworthy as whoever handed you the directory.

  --url URL       a running gateway or site, through its read API. The
                  served checkpoint must be signed by the key in YOUR copy
                  of the trust root (--trust, required); every block is
                  copied into a temporary store, each one checked against
                  that checkpoint as it arrives, and the copy is then
                  audited as above.

A log's owner holds its signing key and could rewrite its history, or
restore an old backup, and sign again. Witnesses are what stop that: each
cosigns a checkpoint only if it extends the last one it saw. With
--witnesses (a policy: which witness keys you trust, how many must cosign,
and where each can be asked), the live audit also

  * requires the served checkpoint to be cosigned by a quorum of them;
  * asks each witness with a url for the latest checkpoint it cosigned
    (GET URL/latest-checkpoint?origin=...): a size bigger than the log now
    holds means the log was rolled back; another root at that size means
    its history was forked. A witness that cannot be asked (down, or it
    never cosigned this log) is a warning, unless fewer than the quorum
    could be checked: then the audit fails, as a rollback or fork could
    not be ruled out.

Without --witnesses, the report says so: a rewritten history could pass.

--state FILE remembers the last checkpoint a live audit verified (the
signed note, replaced atomically; with --witnesses, only one the quorum
cosigned); the next run must find the log consistent with it: a smaller
checkpoint is a rollback, another root at that size a fork.

witnesses.json:
  {"quorum": 2,
   "witnesses": [{"vkey": "coop.example/witness+1a2b3c4d+BE...", "url": "http://coop.example:7380"},
                 {"vkey": "retail.example/witness+5e6f7a8b+BA...", "url": "https://w.retail.example"},
                 {"vkey": "auditor.example/witness+9c0d1e2f+BC..."}]}

Exit status: 0 clean; 1 a check failed (each failure is listed, with its
block and entry when it has one); 2 bad usage, or an input that could not
be read (trust root, policy or state file, store, or a log that is down).
"""

_EXAMPLES = """\
examples:
  farmtrace audit --data-dir demo-data/gateway
  farmtrace audit --data-dir /backup/farm --trust pinned-trust.json --json > report.json
  farmtrace audit --url https://farm.example --trust pinned-trust.json
  farmtrace audit --url http://127.0.0.1:8080 --trust trust.json \\
      --witnesses witnesses.json --state farm-audit.state
"""


def add_parser(commands: Any) -> None:
    """Register the ``audit`` subcommand."""
    parser = commands.add_parser(
        "audit",
        help="verify a whole log, offline or through its read API",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="the log's data directory (offline)"
    )
    source.add_argument(
        "--url", metavar="URL", help="a gateway's or site's read API, e.g. https://farm.example"
    )
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="trust root file, pinned out of band (required with --url; "
        "default with --data-dir: DIR/trust.json)",
    )
    parser.add_argument(
        "--witnesses", type=Path, metavar="FILE", help="witness policy file (--url only)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="file remembering the last verified checkpoint (--url only)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds to wait for each HTTP answer (--url only; default 30)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _error(message: str) -> int:
    print(f"farmtrace audit: {message}", file=sys.stderr)
    return 2


def _read_trust(path: Path) -> TrustRoot | str:
    try:
        return TrustRoot.from_json(path.read_text())
    except (OSError, UnicodeDecodeError, FarmtraceError) as exc:
        return f"cannot read the trust root {path}: {exc}"


def run(args: argparse.Namespace) -> int:
    """Audit and print the report; exit 0 clean, 1 failed, 2 bad usage or unreadable input."""
    if args.jobs is not None and args.jobs < 1:
        return _error(f"--jobs must be at least 1, got {args.jobs}")
    if args.url is not None:
        return _run_live(args)
    for name in ("witnesses", "state"):
        if getattr(args, name) is not None:
            return _error(f"--{name} needs --url (a live audit)")
    return _run_offline(args)


def _run_offline(args: argparse.Namespace) -> int:
    data_dir = DataDir(args.data_dir)
    trust = _read_trust(args.trust or data_dir.trust)
    if isinstance(trust, str):
        return _error(trust)
    try:
        store = Store.open(data_dir.log)
    except FarmtraceError as exc:
        return _error(str(exc))
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


def _run_live(args: argparse.Namespace) -> int:
    if args.trust is None:
        return _error("--url needs --trust: pin your own copy of the log's trust root")
    problem = check_url(args.url)
    if problem is not None:
        return _error(problem)
    if not args.timeout > 0:
        return _error(f"--timeout must be positive, got {args.timeout}")
    trust = _read_trust(args.trust)
    if isinstance(trust, str):
        return _error(trust)
    policy = None
    if args.witnesses is not None:
        try:
            policy = WitnessPolicy.from_json(args.witnesses.read_text())
        except (OSError, UnicodeDecodeError, FarmtraceError) as exc:
            return _error(f"cannot read the witness policy {args.witnesses}: {exc}")

    @contextmanager
    def progress(what: str, total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
        disable = True if args.no_progress else None
        with tqdm(
            total=total, desc=what, unit=unit, disable=disable, file=sys.stderr, leave=False
        ) as bar:
            yield bar.update

    client = ReadApiClient(args.url, timeout=args.timeout)
    try:
        report = live_audit(
            client, trust, policy=policy, state_path=args.state, jobs=args.jobs, progress=progress
        )
    except SourceError as exc:
        return _error(f"no verdict, the log could not be read: {exc}")
    except FarmtraceError as exc:
        return _error(str(exc))
    print(report.to_json() if args.json else report.to_text(), end="\n" if args.json else "")
    return 0 if report.ok else 1
