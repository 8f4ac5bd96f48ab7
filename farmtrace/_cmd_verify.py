"""``farmtrace verify-batch``: check one block (batch) of a log through a site's read API."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chain.errors import MalformedError
from farmtrace._exits import fail
from readapi.base_url import base_url_problem
from readapi.client import ReadApiClient
from verify.batch import SiteUnavailableError, verify_batch
from verify.inputs import load_trust_root, parse_block_hash

_HELP = """\
Check that a block (a "batch", named by the hash printed on a label or a
page) is really in the farm's log, asking a site's read API for the data and
trusting nothing it says: only the trust root you pinned (--trust).

Checks, each reported OK or FAILED (with expected and calculated values):
  checkpoint     the site's latest checkpoint is signed by the pinned log key
  block header   the header served hashes to BLOCK_HASH and is of this log
  entries root   the entries served are exactly those the header commits to
  inclusion      the header is a leaf of the checkpoint's Merkle tree
  registrations  every registration of the block's signers (and, in turn, of
                 whoever registered them) is in that checkpoint and signed by
                 an authorised key, back to the trust root's administrators
  signatures     every entry is signed by its signer's registered key, with
                 the authority to sign it at that time

Not checked: witness cosignatures (no witness keys are pinned), and that the
site listed every registration of a signer (it could hide a revocation): an
audit of a full copy of the log (farmtrace audit) replays every registration.

Exit status: 0 verified; 1 a check failed, which includes a site that has no
block with this hash or has not yet covered it with a checkpoint; 2 bad
usage, an unreadable trust root, or a site that is down or failed (5xx).
"""

_EXAMPLES = """\
examples:
  farmtrace verify-batch 3f5d0c...e81a --url https://farm.example
  farmtrace verify-batch 3f5d0c...e81a --url http://127.0.0.1:8080 --trust pinned.json --json
"""


def add_parser(commands: Any) -> None:
    """Register the ``verify-batch`` subcommand."""
    parser = commands.add_parser(
        "verify-batch",
        help="verify one block of a log through a site's read API",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("block_hash", metavar="BLOCK_HASH", help="the block's hex SHA-256")
    parser.add_argument(
        "--url", required=True, help="the site or gateway to ask, e.g. https://farm.example"
    )
    parser.add_argument(
        "--trust",
        type=Path,
        default=Path("trust.json"),
        help="the log's trust root, pinned out of band (default: ./trust.json)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Verify and print the report; exit 0 verified, 1 a check failed, 2 no verdict."""
    try:
        block_hash = parse_block_hash(args.block_hash)
        url_problem = base_url_problem(args.url)
        if url_problem is not None:
            return fail("verify-batch", url_problem)
        if not args.timeout > 0:
            return fail("verify-batch", f"--timeout must be positive, got {args.timeout}")
        trust = load_trust_root(args.trust)
        report = verify_batch(ReadApiClient(args.url, timeout=args.timeout), trust, block_hash)
    except MalformedError as exc:
        return fail("verify-batch", str(exc))
    except SiteUnavailableError as exc:
        return fail("verify-batch", f"no verdict, the site could not be asked: {exc}")
    print(report.to_json() if args.json else report.to_text(), end="\n" if args.json else "")
    return 0 if report.ok else 1
