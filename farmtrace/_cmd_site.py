"""``farmtrace site``: set up and run the consumer site (a verified replica with pages)."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from chain.errors import FarmtraceError
from chain.trust import TrustRoot
from consumer_web import SiteConfig, create_app

__all__ = ["add_parser"]

_logger = logging.getLogger(__name__)

_INIT_HELP = """\
Create a site directory that pins a log's trust root. The trust root
(trust.json, made by 'gateway init') names the log's origin, its checkpoint
key and its genesis administrators: the site verifies everything it copies
against it, so get it from the farm out of band, not from the gateway you
follow.
"""

_RUN_HELP = """\
Run the consumer site: follow one or more gateways' read API (design.md
section 5) into a local LevelDB replica, verifying every checkpoint
signature, consistency proof, block link, entries root and entry signature
before storing anything, and serve

  /01/<GTIN-14>/21/<serial>   a pack's page (the GS1 Digital Link in its QR code)
  /01/<GTIN-14>/10/<lot>      a lot's page
  /bird/<id>                  a bird's lifecycle: timeline, barn charts, proofs
  /batch/<block hash>         a batch and its verification
  /checkpoint, /api/v1/...    the same read API as the gateway, from the replica
  /metrics                    Prometheus metrics (sync results, conflicts)

If every source is down the site keeps serving what it verified, marked "as
of" the last confirmation. A source that shows a history inconsistent with
the one accepted (a fork or a rollback) is refused and the conflict is shown
on every page and counted in /metrics.
"""

_EXAMPLES = """\
examples:
  farmtrace site init --site-dir site --trust gw/trust.json
  farmtrace site run --site-dir site --source http://127.0.0.1:8080 --port 8000
  farmtrace site run --site-dir site --source http://gw1:8080 --source http://gw2:8080 \\
      --public-url https://trace.example.com
"""


def add_parser(commands: Any) -> None:
    """Register the ``site`` subcommand group."""
    parser = commands.add_parser(
        "site",
        help="set up and run the consumer site",
        description="The consumer site: a verified replica of the log, with pages for shoppers.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create a site directory pinning a log's trust root",
        description=_INIT_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--site-dir", type=Path, required=True, help="directory to create")
    init.add_argument("--trust", type=Path, required=True, help="the log's trust.json")
    init.set_defaults(handler=run_init)

    run = actions.add_parser(
        "run",
        help="follow gateways and serve the consumer pages",
        description=_RUN_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--site-dir", type=Path, required=True, help="made by 'site init'")
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="URL",
        help="a gateway's (or another site's) base URL; repeat for several",
    )
    run.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    run.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    run.add_argument(
        "--public-url", help="the site's public origin, used in QR codes (default: the request's)"
    )
    run.add_argument(
        "--sync-interval",
        type=float,
        default=5.0,
        help="seconds between sync rounds (default: %(default)s)",
    )
    run.set_defaults(handler=run_site)


def run_init(args: argparse.Namespace) -> int:
    """Create the site directory. Exit 2 if it already pins a trust root or an input is bad."""
    target = args.site_dir / "trust.json"
    try:
        TrustRoot.from_json(args.trust.read_text(encoding="utf-8"))
        if target.exists():
            raise FileExistsError(f"{target} exists: the site already pins a trust root")
        args.site_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.trust, target)
    except (FarmtraceError, OSError) as exc:
        print(f"farmtrace site init: {exc}", file=sys.stderr)
        return 2
    print(f"site directory {args.site_dir} pins {target}")
    return 0


def run_site(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; exit 0 after a clean stop, 2 on bad input."""
    config = SiteConfig(
        site_dir=args.site_dir,
        sources=tuple(args.source),
        sync_interval=args.sync_interval,
        public_url=args.public_url,
    )
    try:
        app = create_app(config)
    except (FarmtraceError, OSError, ValueError) as exc:
        print(f"farmtrace site run: {exc}", file=sys.stderr)
        return 2
    site = app.extensions["farmtrace_site"]
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        site.close()
        print(
            f"farmtrace site run: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, name="shutdown").start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    print(f"site running: http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        site.close()
    return 0
