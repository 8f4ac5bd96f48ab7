"""``farmtrace trace``: where a lot, a pack, a bird or a barn's birds went, and came from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.gs1 import pack_subject, parse_gtin_pair
from chain.jws import check_id
from chain.trace import parse_time
from chain.trace_text import trace_text
from farmtrace._exits import fail
from gateway.offline_reads import trace_data_dir

__all__ = ["add_parser", "run"]

_HELP = """\
Trace one starting point through a log's data directory, offline:
downstream, the birds concerned (for a barn, those in it during the
window), their carcasses and cuts, the packs and lots they went into, and
where those were shipped and received; upstream, the packing and slaughter
behind a pack or lot, each bird's hatchery, vaccinations, inspections and
stays in barns, the barns' inspections during those stays, the devices that
describe the barns and birds, and the refills of the barns' feed hoppers
(the log records no feed deliveries: a refill is the closest thing). Every
recall that concerns any of it is listed first. Each line names the log
entry it rests on, so that it can be proven.

LevelDB admits one process at a time: stop the gateway, or trace a copy.
Exit status: 0 traced, 1 the log says nothing about it, 2 bad arguments or
an unreadable store.
"""

_EXAMPLES = """\
examples:
  farmtrace trace --data-dir demo-data/gateway --lot 09506000134352/L20260212
  farmtrace trace --data-dir demo-data/gateway --pack 09506000134352/S0001 --json
  farmtrace trace --data-dir demo-data/gateway --bird 0007
  farmtrace trace --data-dir demo-data/gateway --barn b1 \\
      --from 2026-01-05T00:00Z --to 2026-01-12T00:00Z
"""


class _Usage(Exception):
    """A bad argument: exit 2 with the message."""


def add_parser(commands: Any) -> None:
    """Register the ``trace`` subcommand."""
    parser = commands.add_parser(
        "trace",
        help="trace a lot, pack, bird or barn up- and downstream",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="the log's data directory")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--lot", metavar="GTIN/LOT", help="a lot: its GTIN and lot number")
    start.add_argument("--pack", metavar="GTIN/SERIAL", help="a pack: its GTIN and serial")
    start.add_argument("--bird", metavar="ID", help="a bird by its id")
    start.add_argument("--barn", metavar="ID", help="a barn by its id (with --from and --to)")
    parser.add_argument("--from", dest="start", metavar="ISO", help="barn window start (UTC)")
    parser.add_argument("--to", dest="end", metavar="ISO", help="barn window end, exclusive")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-feed", action="store_true", help="skip the feed refills")
    parser.set_defaults(handler=run)


def _start(args: argparse.Namespace) -> tuple[str, tuple[int, int] | None]:
    """The trace start and window the arguments name; raises _Usage."""
    if args.barn is None and (args.start is not None or args.end is not None):
        raise _Usage("--from and --to bound a barn's window: use them with --barn")
    try:
        for option, key in (("lot", "lot"), ("pack", "serial")):
            value = getattr(args, option)
            if value is not None:
                return pack_subject(parse_gtin_pair(value, key)), None
        if args.bird is not None:
            return f"bird:{check_id(args.bird, '--bird')}", None
        if args.start is None or args.end is None:
            raise _Usage("--barn needs its window: --from ISO --to ISO")
        window = (parse_time(args.start), parse_time(args.end))
        if window[0] >= window[1]:
            raise _Usage(f"--from {args.start} is not before --to {args.end}")
        return f"barn:{check_id(args.barn, '--barn')}", window
    except FarmtraceError as exc:
        raise _Usage(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Trace and print; exit 0 traced, 1 nothing known about it, 2 bad arguments or store."""
    try:
        start, window = _start(args)
    except _Usage as exc:
        return fail("trace", exc)
    try:
        traced = trace_data_dir(args.data_dir, start, window=window, feed=not args.no_feed)
    except FarmtraceError as exc:
        return fail("trace", exc)
    result = traced.result
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
    elif result.found:
        print(trace_text(result, traced.seconds), end="")
    if not result.found:
        return fail("trace", f"the log says nothing about {start}", 1)
    return 0
