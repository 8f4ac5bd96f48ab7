"""``farmtrace tiles``: publish a log as C2SP tlog-tiles static files for nginx or a CDN."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError, MalformedError, SourceError, StorageError
from farmtrace._exits import fail
from farmtrace._serving import stop_on_signals
from readapi.base_url import base_url_problem
from readapi.client import ReadApiClient
from tiles import Published, TilePublisher, follow
from verify.inputs import load_trust_root

_HELP = """\
Copy a log from a read API (the gateway's, or a site's) into a directory of
C2SP tlog-tiles files (checkpoint, tile/<L>/<N>, tile/entries/<N>) plus
block/<N> (each block's entries), for nginx, an S3 bucket or a CDN to serve
with immutable caching. Readers (farmtrace audit --url, farmtrace site
--source) then use the URL tiles+https://HOST/PREFIX and never reach the farm.

Nothing is published unless the checkpoint is signed by the pinned log key
(--trust), every new block links to the one before and holds the entries its
header commits to, and the headers' tree has the checkpoint's root. Files
are written atomically, immutable ones once; the checkpoint file last.

Exit status: 0 published; 1 the source's log failed a check (rollback, fork,
bad block); 2 bad usage or the source/directory could not be used.
"""

_EXAMPLES = """\
examples:
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --dir /srv/tiles
  farmtrace tiles --url http://127.0.0.1:8080 --trust trust.json --dir /srv/tiles --follow 10
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
    parser.add_argument("--dir", type=Path, required=True, help="where to write the tiles")
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
    try:
        trust = load_trust_root(args.trust)
    except MalformedError as exc:
        return fail("tiles", str(exc))
    publisher = TilePublisher(args.dir, trust, ReadApiClient(args.url, timeout=args.timeout))
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
