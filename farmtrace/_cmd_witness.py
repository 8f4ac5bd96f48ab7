"""``farmtrace witness``: set up, run and inspect a C2SP tlog-witness."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from consumer_web import VERIFIER_ASSETS
from farmtrace._exits import fail
from farmtrace._serving import add_server_options, serve, server_settings
from witness import WitnessConfig, create_app, init_witness_dir, read_states, status_document
from witness.setup import add_log_from, log_of_trust_root

__all__ = ["add_parser"]

_logger = logging.getLogger(__name__)

_DESCRIPTION = """\
A witness (c2sp.org/tlog-witness) is a small server run by someone other
than the farm (a co-op, a retailer, a regulator) beside the farm's log. The
gateway sends it each new signed checkpoint with a consistency proof; the
witness cosigns it only if the log's key signed it and the proof shows the
log grew append-only from the last checkpoint the witness cosigned. Shoppers'
verifiers that require cosignatures from k of n independent witnesses cannot
be shown a forked, edited or rolled-back log unless k witnesses collude.

A witness directory holds:
  witness.key    the witness's cosigner key (type 0x04), mode 0600: keep it secret
  witness.json   its name, its verifier key, and the logs it follows
                 (origin -> the log's checkpoint verifier keys)
  witness.lock   held by the one process serving the directory
  state/         the latest checkpoint cosigned per log (survives kill -9)
  evidence/      refused log-signed checkpoints that may prove a log lied
"""

_EXAMPLES = """\
examples:
  farmtrace witness init --dir coop-witness --name coop.example/witness \\
      --trust farm-data/trust.json
  farmtrace witness add-log --dir coop-witness --trust other-farm/trust.json
  farmtrace witness add-log --dir coop-witness --origin farm2.example/log \\
      --log-key 'farm2.example/log+1a2b3c4d+AX...'
  farmtrace witness serve --dir coop-witness --host 0.0.0.0 --port 7380
  farmtrace witness show --dir coop-witness          # the verifier key to publish
  farmtrace witness show --dir coop-witness --json   # what it cosigned, per log

Give the verifier key that 'init' and 'show' print to the farm and to
verifiers: it goes into their witnesses.json, with this witness's URL.
"""

_SERVE_HELP = """\
Serve the witness over HTTP until SIGTERM or Ctrl-C:

  POST /add-checkpoint                 C2SP tlog-witness submissions (from the gateway)
  GET  /<sha256(O) hex>/checkpoint     the latest checkpoint cosigned for the log of
                                       origin O, a signed note with the log's and this
                                       witness's signatures (tlog-witness monitoring)
  GET  /latest-checkpoint?origin=O     the same, by origin (farmtrace's older path)
  GET  /                               JSON status: name, vkey, each log's size and root
  GET  /metrics                        Prometheus metrics (requests by outcome, sizes)
  GET  /verify?pack=URL                a verifier page: checks a pack's record in the
                                       browser against this witness's own anchors
  GET  /anchors.json                   those anchors: this witness's key, the logs it
                                       follows and their keys

The first line on standard output is 'listening on http://HOST:PORT'
(with --port 0 the port is a free one). Restart after 'add-log'.
"""


def add_parser(commands: Any) -> None:
    """Register the ``witness`` subcommand group."""
    parser = commands.add_parser(
        "witness",
        help="run a C2SP tlog-witness that cosigns a log's checkpoints",
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name,
            help=help_text,
            description=description,
            epilog=_EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--dir", type=Path, required=True, help="the witness directory")
        return sub

    init = action(
        "init",
        "create a witness directory and its cosigner key",
        "Create a witness directory with a new cosigner key (printed: publish it).",
    )
    init.add_argument("--name", required=True, help="the witness's name, e.g. coop.example/witness")
    init.add_argument(
        "--trust",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a log's trust.json (origin and log key) to follow; repeat for several",
    )
    init.set_defaults(handler=run_init)

    add = action(
        "add-log",
        "follow one more log",
        "Trust a log's checkpoint key for its origin (restart 'serve' to apply).",
    )
    add.add_argument("--trust", type=Path, metavar="FILE", help="the log's trust.json")
    add.add_argument("--origin", help="the log's origin (with --log-key)")
    add.add_argument("--log-key", help="the log's checkpoint verifier key (with --origin)")
    add.set_defaults(handler=run_add_log)

    serve = action("serve", "run the witness's HTTP server", _SERVE_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=7380, help="0 picks a free port (default: %(default)s)"
    )
    add_server_options(serve)
    serve.set_defaults(handler=run_serve)

    show = action(
        "show", "print the verifier key (or the state)", "Print the witness's verifier key."
    )
    show.add_argument(
        "--json", action="store_true", help="print the status JSON (every log's size and root)"
    )
    show.set_defaults(handler=run_show)


def run_init(args: argparse.Namespace) -> int:
    """Create the directory and print the verifier key. Exit 2 on bad input or an existing key."""
    try:
        logs = [log_of_trust_root(path) for path in args.trust]
        config = init_witness_dir(args.dir, args.name, logs)
    except (FarmtraceError, OSError) as exc:
        return fail("witness init", exc)
    print(config.vkey)
    for origin in config.logs:
        print(f"following {origin}", file=sys.stderr)
    return 0


def run_add_log(args: argparse.Namespace) -> int:
    """Add a trusted log. Exit 2 on bad input."""
    try:
        origin, log_key, added = add_log_from(args.dir, args.trust, args.origin, args.log_key)
    except (ValueError, FarmtraceError, OSError) as exc:
        return fail("witness add-log", exc)
    state = "now follows" if added else "already followed"
    print(f"{args.dir}: {state} {origin} with key {log_key.split('+')[1]}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the verifier key, or the status JSON. Exit 2 if the directory is bad."""
    try:
        config = WitnessConfig.load(args.dir)
        states = read_states(args.dir) if args.json else {}
    except FarmtraceError as exc:
        return fail("witness show", exc)
    print(json.dumps(status_document(config, states), indent=2) if args.json else config.vkey)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; exit 0 after a clean stop, 2 on bad input."""
    try:
        settings = server_settings(args)
        app = create_app(args.dir, verifier_assets=VERIFIER_ASSETS)
    except (FarmtraceError, ValueError, FileNotFoundError) as exc:
        return fail("witness serve", exc)
    service = app.extensions["farmtrace_witness"]

    def listening(url: str) -> None:
        print(f"listening on {url}", flush=True)
        _logger.info(
            "witness %s listening on %s, following %s",
            service.config.name,
            url,
            ", ".join(sorted(service.config.logs)) or "no log yet",
        )

    code = serve("witness serve", app, args.host, args.port, listening, service.close, settings)
    _logger.info("witness stopped")
    return code
