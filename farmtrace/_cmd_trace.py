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
from chain.trace_text import across_text, trace_text
from farmtrace._exits import fail
from gateway.offline_reads import trace_data_dir
from gateway.offline_trace import trace_local_copies

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

With --pins, the trace crosses logs: give one --data-dir per log (a
gateway's data directory or a consumer site's directory with its replica),
each pinned in the pins file. It follows the cross-log references events
carry, downstream (the plant's slaughter of a farm's bird, the shop's
receipt of a distributor's shipment) and upstream, and lists recalls in
every log. Each reference crossed is checked against the pins and the other
log's local copy; one that does not hold is flagged with its reason,
followed downstream (a recall reaches too much rather than too little) and
not upstream. A pack or lot is traced in every log that names it; a bird or
barn in the log --log names (default: the first --data-dir).

LevelDB admits one process at a time: stop the gateway, or trace a copy.
Exit status: 0 traced, 1 the logs say nothing about it, 2 bad arguments or
an unreadable store.
"""

_EXAMPLES = """\
examples:
  farmtrace trace --data-dir demo-data/gateway --lot 09506000134352/L20260212
  farmtrace trace --data-dir demo-data/gateway --pack 09506000134352/S0001 --json
  farmtrace trace --data-dir demo-data/gateway --bird 0007
  farmtrace trace --data-dir demo-data/gateway --barn b1 \\
      --from 2026-01-05T00:00Z --to 2026-01-12T00:00Z
  farmtrace trace --pins pins.json --data-dir plant --data-dir farm-a --data-dir shop \\
      --lot 09506000134352/L20260212
  farmtrace trace --pins pins.json --data-dir farm-a --data-dir plant --log farm-a.example/log \\
      --barn b1 --from 2026-01-05T00:00Z --to 2026-01-12T00:00Z --json
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
    parser.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        required=True,
        help="the log's data directory; with --pins, one per log (repeat)",
    )
    parser.add_argument("--pins", type=Path, help="trace across the pinned logs given")
    parser.add_argument("--log", metavar="ORIGIN", help="with --pins: the log of a bird or barn")
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
        if args.pins is None and (len(args.data_dir) > 1 or args.log is not None):
            raise _Usage("several --data-dir, or --log, trace across logs: give --pins")
    except _Usage as exc:
        return fail("trace", exc)
    if args.pins is not None:
        return _across(args, start, window)
    try:
        traced = trace_data_dir(args.data_dir[0], start, window=window, feed=not args.no_feed)
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


def _across(args: argparse.Namespace, start: str, window: tuple[int, int] | None) -> int:
    try:
        traced = trace_local_copies(
            args.pins, args.data_dir, start, log=args.log, window=window, feed=not args.no_feed
        )
    except FarmtraceError as exc:
        return fail("trace", exc)
    result = traced.result
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
    elif result.found:
        print(across_text(result, traced.seconds, traced.names), end="")
    if not result.found:
        return fail("trace", f"the logs say nothing about {start}", 1)
    return 0
