"""``farmtrace tiles``: publish a log as C2SP tlog-tiles static files for nginx or a CDN."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError, MalformedError, SourceError, StorageError
from chain.trust import TrustRoot
from farmtrace._exits import fail
from farmtrace._serving import stop_on_signals
from readapi.base_url import base_url_problem
from readapi.client import ReadApiClient
from tiles import Published, S3Options, TilePublisher, TileStore, follow, open_store
from verify.inputs import load_trust_root

_HELP = """\
Copy a log from a read API (the gateway's, or a site's) into a directory or
an S3-compatible bucket of C2SP tlog-tiles files (checkpoint, tile/<L>/<N>,
tile/entries/<N>) plus block/<N> (each block's entries), for nginx, the
bucket or a CDN to serve with immutable caching. Readers (farmtrace audit
--url, farmtrace site --source) then use the URL tiles+https://HOST/PREFIX
and never reach the farm.

Nothing is published unless the checkpoint is signed by the pinned log key
(--trust), every new block links to the one before and holds the entries its
header commits to, and the headers' tree has the checkpoint's root. Files
are written atomically, immutable ones once; the checkpoint file last. A
bucket's objects get the Cache-Control and Content-Type nginx would give.
S3 credentials come from the standard places (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials) or --s3-credentials.

Exit status: 0 published; 1 the source's log failed a check (rollback, fork,
bad block); 2 bad usage, or the source or the store could not be used (an
immutable file of other bytes already there, refused credentials).
"""

_EXAMPLES = """\
examples:
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --dir /srv/tiles
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --dir /srv/tiles --follow 10
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --to s3://farm-tiles/farm
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --to s3://tiles/farm \\
      --s3-endpoint https://minio.farm.example:9000 --s3-credentials /etc/farmtrace/s3.ini
"""


def add_parser(commands: Any) -> None:
    """Register the ``tiles`` subcommand."""
    parser = commands.add_parser(
        "tiles",
        help="publish a log as C2SP tlog-tiles static files",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the read API to copy, e.g. the gateway's")
    parser.add_argument("--trust", type=Path, required=True, help="the log's pinned trust root")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", type=Path, help="the directory to write the tiles into")
    where.add_argument(
        "--to", metavar="URL", help="s3://BUCKET/PREFIX (or a directory) to write the tiles into"
    )
    s3 = parser.add_argument_group("S3-compatible buckets (with --to s3://...)")
    s3.add_argument(
        "--s3-endpoint", metavar="URL", help="a non-AWS store's endpoint (MinIO, Ceph, Garage)"
    )
    s3.add_argument(
        "--s3-region", metavar="NAME", help="the bucket's region (default: the AWS configuration's)"
    )
    s3.add_argument(
        "--s3-credentials",
        type=Path,
        metavar="FILE",
        help="an INI file as ~/.aws/credentials (keys never go in arguments)",
    )
    s3.add_argument(
        "--s3-profile",
        metavar="NAME",
        default="default",
        help="its section to use (default: default)",
    )
    parser.add_argument(
        "--follow",
        type=float,
        metavar="SECONDS",
        help="keep publishing, a round every SECONDS, until SIGTERM or Ctrl-C",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each answer (default 30)"
    )
    parser.set_defaults(handler=run)


def _print(result: Published | FarmtraceError) -> None:
    if isinstance(result, Published):
        print(
            f"published {result.size} blocks ({result.size - result.old_size} new, "
            f"{result.files} files written)",
            flush=True,
        )
    else:
        print(f"farmtrace tiles: not published: {result}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Publish once (or follow); exit 0 published, 1 a failed check, 2 unusable inputs."""
    problem = base_url_problem(args.url)
    if problem is not None:
        return fail("tiles", problem)
    if not args.timeout > 0 or (args.follow is not None and not args.follow > 0):
        return fail("tiles", "--timeout and --follow must be positive")
    to = str(args.dir) if args.dir is not None else args.to
    s3_given = any(v is not None for v in (args.s3_endpoint, args.s3_region, args.s3_credentials))
    if s3_given and not to.startswith("s3://"):
        return fail("tiles", "--s3-* options need --to s3://BUCKET[/PREFIX]")
    if args.s3_endpoint is not None:
        problem = base_url_problem(args.s3_endpoint, "--s3-endpoint")
        if problem is not None:
            return fail("tiles", problem)
    options = S3Options(
        endpoint_url=args.s3_endpoint,
        region=args.s3_region,
        credentials_file=args.s3_credentials,
        profile=args.s3_profile,
        timeout_s=args.timeout,
    )
    try:
        trust = load_trust_root(args.trust)
        store = open_store(to, options)
    except (MalformedError, StorageError) as exc:
        return fail("tiles", str(exc))
    with store:
        return _publish(store, trust, args)


def _publish(store: TileStore, trust: TrustRoot, args: argparse.Namespace) -> int:
    publisher = TilePublisher(store, trust, ReadApiClient(args.url, timeout=args.timeout))
    if args.follow is not None:
        stop = threading.Event()
        stop_on_signals(stop)
        follow(publisher, stop, interval_s=args.follow, on_round=_print)
        return 0
    try:
        result = publisher.publish_once()
    except FarmtraceError as exc:
        unusable = isinstance(exc, (SourceError, StorageError))
        return fail("tiles", f"not published: {exc}", 2 if unusable else 1)
    _print(result)
    return 0
