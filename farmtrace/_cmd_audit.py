"""``farmtrace audit``: verify a whole log, offline (``--data-dir``) or live (``--url``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from chain.audit import AuditReport
from chain.errors import FarmtraceError, SourceError
from farmtrace._exits import fail
from gateway.datadir import DataDir
from readapi.base_url import base_url_problem
from readapi.crosslog import load_pins
from readapi.tile_client import TILES_SCHEME_PREFIX, open_client
from verify.crosslog_audit import CrossLogAuditReport, ReferenceCollector
from verify.crosslog_blame import KeptNotes
from verify.inputs import load_trust_root, load_witness_policy
from verify.live_audit import Progress, live_audit
from verify.offline import audit_log_dir
from verify.report import LiveAuditReport

_HELP = """\
Verify everything in a log: every entry's signature against the registration
in force when it was signed, every block's entries root, count, first index
and hash link, every index and Merkle node, every checkpoint's signature and
root, and the lifecycle of every bird, carcass and pack. Duplicated or
equivocating (signer, seq) pairs fail the audit; per-device sequence gaps
are reported, those a device declared in a signed gap entry (seqs it reserved
but never used, after a crash) apart from missing ones; a declaration that
names seqs the log holds fails the audit (false_gap).

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

Cross-log references (docs/supply-chain.md): an event may name an entry of
another party's log (a plant's slaughter names the farm's placement of the
bird). With --pins FILE (the logs you follow, each with its trust root,
witness policy and read-API sources, pinned out of band), every reference
of the audited log is checked against the other log's current cosigned
checkpoint, read from that log's own sources (never from the audited log):
the entry must still be there, be the one referenced, be included under a
checkpoint signed by the pinned key and cosigned by its pinned witnesses,
consistent with the tree the reference saw. Each reference that fails is a
failure with its reason, e.g.

  ref_entry_mismatch  forged: the other log has another entry at that index
  ref_rolled_back     the other log no longer shows the tree the reference saw
                      (its checkpoint is smaller, or not consistent with it)
  ref_unavailable     dangling: no source of the other log answered
  ref_unknown_log     a log the pins file does not list

For ref_rolled_back and ref_entry_mismatch the audit says who is to blame,
from the note the AUDITED log kept when its gateway checked the reference
(its store offline; GET /api/v1/refs/<sha256(origin)>/checkpoints/<size>
live): no such note signed by the other log's pinned key, cosigned by its
pinned witnesses, of the reference's size and root, and the audited log made
the reference up; such a note while the other log now shows a smaller or
inconsistent tree, and the other log rolled back or forked (both
checkpoints are in the --json report, member "blame" of the reference).

Without --pins, references are listed as not followed (a warning, not a
failure). Identical references are fetched once.

Recalls are listed as notices, not failures: the log's own (subjects,
entry, reason), and with --pins those the referenced logs' read APIs show
of each referenced subject or of what it went into or came from (one step:
a pack's carcasses, a placement's barn), e.g. "plant.example/log:
lot:09506000134352.L1 recalled at entry 42: Salmonella". The --json
report has them as "recalls".

witnesses.json:
  {"quorum": 2,
   "witnesses": [{"vkey": "coop.example/witness+1a2b3c4d+BE...", "url": "http://coop.example:7380"},
                 {"vkey": "retail.example/witness+5e6f7a8b+BA...", "url": "https://w.retail.example"},
                 {"vkey": "auditor.example/witness+9c0d1e2f+BC..."}]}

Exit status: 0 clean; 1 a check failed (each failure is listed, with its
block and entry when it has one; a cross-log reference that does not hold
is one, listed at the entry that makes it); 2 bad usage, or an input that could not
be read (trust root, policy, pins or state file, store, or a log that is
down; a referenced log that is down is a failure, ref_unavailable).
A store that is corrupt or unreadable, or that holds records farmtrace
never writes, still gets a report (NO VERDICT, reasons "unreadable" and
"unknown_record") with exit status 2.
"""

_EXAMPLES = """\
examples:
  farmtrace audit --data-dir demo-data/gateway
  farmtrace audit --data-dir /backup/farm --trust pinned-trust.json --json > report.json
  farmtrace audit --url https://farm.example --trust pinned-trust.json
  farmtrace audit --url http://127.0.0.1:8080 --trust trust.json \\
      --witnesses witnesses.json --state farm-audit.state
  farmtrace audit --data-dir plant-data --pins pins.json
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
        "--url",
        metavar="URL",
        help="a gateway's or site's read API, e.g. https://farm.example, or a tlog-tiles "
        "prefix, e.g. tiles+https://cdn.example/farm (see farmtrace tiles)",
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
    parser.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="the other logs you follow (trust roots, witnesses, sources): check every "
        "cross-log reference against them",
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
        help="seconds to wait for each HTTP answer (--url or --pins; default 30)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _bars(args: argparse.Namespace) -> Progress:
    @contextmanager
    def progress(what: str, total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
        disable = True if args.no_progress else None
        with tqdm(
            total=total, desc=what, unit=unit, disable=disable, file=sys.stderr, leave=False
        ) as bar:
            yield bar.update

    return progress


def _kept_notes(args: argparse.Namespace) -> KeptNotes | None:
    """Where the audited log's kept notes of other logs are read (None: its store)."""
    if args.url is None:
        return None
    if args.url.startswith(TILES_SCHEME_PREFIX):
        return KeptNotes.unavailable("a tlog-tiles prefix serves no kept notes")
    return KeptNotes.at_url(args.url, timeout=args.timeout)


def run(args: argparse.Namespace) -> int:
    """Audit and print the report; exit 0 clean, 1 failed, 2 bad usage or unreadable input."""
    if args.jobs is not None and args.jobs < 1:
        return fail("audit", f"--jobs must be at least 1, got {args.jobs}")
    if args.url is None:
        for name in ("witnesses", "state"):
            if getattr(args, name) is not None:
                return fail("audit", f"--{name} needs --url (a live audit)")
    elif args.trust is None:
        return fail("audit", "--url needs --trust: pin your own copy of the log's trust root")
    else:
        problem = base_url_problem(args.url.removeprefix(TILES_SCHEME_PREFIX))
        if problem is not None:
            return fail("audit", problem)
        if not args.timeout > 0:
            return fail("audit", f"--timeout must be positive, got {args.timeout}")
    if args.pins is not None and not args.timeout > 0:
        return fail("audit", f"--timeout must be positive, got {args.timeout}")
    collector = ReferenceCollector(_kept_notes(args))
    try:
        pins = None if args.pins is None else load_pins(args.pins)
        if args.url is None:
            data_dir = DataDir(args.data_dir)
            trust = load_trust_root(args.trust or data_dir.trust)
            report: AuditReport | LiveAuditReport = audit_log_dir(
                data_dir.log, trust, jobs=args.jobs, progress=_bars(args), on_audited=collector
            )
        else:
            trust = load_trust_root(args.trust)
            policy = None if args.witnesses is None else load_witness_policy(args.witnesses)
            report = live_audit(
                open_client(args.url, timeout=args.timeout),
                trust,
                policy=policy,
                state_path=args.state,
                jobs=args.jobs,
                progress=_bars(args),
                on_audited=collector,
            )
    except SourceError as exc:
        return fail("audit", f"no verdict, the log could not be read: {exc}")
    except FarmtraceError as exc:
        return fail("audit", str(exc))
    section = collector.section(pins, timeout=args.timeout, progress=_bars(args))
    recalls = collector.recalls(pins, section=section, timeout=args.timeout)
    combined = CrossLogAuditReport(report, section, recalls)
    print(combined.to_json() if args.json else combined.to_text(), end="\n" if args.json else "")
    return int(combined.exit_code)
