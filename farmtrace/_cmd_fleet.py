"""``farmtrace fleet``: every registered device as the gateway sees it (issue 12)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chain.errors import SourceError
from farmtrace._exits import fail
from readapi.fleet import fetch_fleet, fleet_table

_HELP = """\
List every registered device with what the gateway knows of it: when it was
last heard from (any message), its last reading's time, readings in the
last hour, its expected reporting interval (observed from its readings'
timestamps; '?' marks the gateway's default), the outbox backlog and oldest
unsent reading its status reports, its firmware, seq gaps (declared by gap
entries / missing), rejections by reason, and flags:

  silent            nothing heard for longer than its interval + the grace
                    (gateway run --silent-grace, default 60 s)
  offline           its retained status says offline (e.g. its last will)
  backlog_growing   its outbox grew across its last statuses
  seq_missing       seqs neither in the log nor declared by a gap entry
  rejected          some of its messages were refused (see REJECTED)
  unregistered      an id that is not a registered device published

Only a gateway serves the fleet view (GET /api/v1/fleet); a consumer site
does not. Exit status: 0 listed (flags or not); 2 the gateway could not be
asked or answered badly.
"""

_EXAMPLES = """\
examples:
  farmtrace fleet --url http://127.0.0.1:8080
  farmtrace fleet --url http://gateway.farm.lan:8080 --json
"""


def add_parser(commands: Any) -> None:
    """Register the ``fleet`` subcommand."""
    parser = commands.add_parser(
        "fleet",
        help="list every device: last seen, readings per hour, backlog, gaps, flags",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the gateway's HTTP address")
    parser.add_argument("--json", action="store_true", help="print the gateway's JSON as is")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait (default: %(default)s)"
    )
    parser.set_defaults(handler=run_fleet)


def run_fleet(args: argparse.Namespace) -> int:
    """Print the fleet view. Exit 0, or 2 if the gateway could not be asked."""
    try:
        view = fetch_fleet(args.url, timeout=args.timeout)
    except SourceError as exc:
        return fail("fleet", exc)
    if args.json:
        sys.stdout.write(view.to_json().decode() + "\n")
    else:
        print(fleet_table(view))
    return 0
