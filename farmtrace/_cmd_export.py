"""``farmtrace export epcis``: a bird's, pack's or lot's lifecycle as GS1 EPCIS 2.0 JSON-LD."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chain.epcis import UnknownSubjectError
from chain.epcis.across import OtherLog
from chain.errors import FarmtraceError, GS1Error
from chain.gs1 import parse_gtin_pair
from farmtrace._events import now_ms
from farmtrace._exits import fail
from gateway.offline_reads import (
    NoCheckpointError,
    epcis_export,
    epcis_export_across,
    write_whole,
)
from readapi.crosslog import load_pins

__all__ = ["add_parser", "run_epcis"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_HELP = """\
Write the lifecycle of one bird, pack (GTIN + serial) or lot (GTIN + lot) as
a GS1 EPCIS 2.0 document (JSON-LD, CBV 2.0 vocabulary), read offline from a
log's data directory: hatched (commissioning), placed and moved (arriving at
a barn), vaccinated and treated (bizStep other), inspected, slaughtered (a
TransformationEvent), packed (packing; a lot's best-before date as the CBV
attribute cbvmda:bestBeforeDate), shipped, received and recalled, and the barn and tag readings of
each stay as sensor_reporting events with hourly min/mean/max.

Identifiers are URIs under --base-url, the consumer site's public URL: packs
and lots are its GS1 Digital Links (/01/<GTIN>/21/<serial>, /01/<GTIN>/10/<lot>),
a bird is <base>/bird/<id>. Every event names the signed entry it comes from
and the read API URLs of its block and proof (farmtrace: members), so that a
reader can check it. Only what the latest signed checkpoint covers is exported.

Across logs (docs/supply-chain.md section 7): repeat --data-dir, one per
party's log (a plant's, its farms', a distributor's ...), to write one
document holding each log's part of the story, every event naming its log
(farmtrace:log). A pack or lot is looked for in every log; a bird is the
first log's (bird ids are unique only within a log); then each event's
cross-log references (farmtrace:refs) lead to the referenced subject's story
in the other logs given. With several logs, URIs other than Digital Links
are under <base-url>/logs/<slug>, where a site following those logs mounts
each one. --pins (the verifier's pins file) names the slugs, and gives
every reference item a farmtrace:proof URL at the referenced log's own
first source; a received event then names each referenced party as a
sourceList item of type owning_party (its first source as its URI).

LevelDB admits one process at a time: stop the gateway, or export from a copy.
Exit status: 0 written, 1 the bird, pack or lot is not in the log (or the log
has no checkpoint yet), 2 usage error or unreadable store.
"""

_EXAMPLES = """\
examples:
  farmtrace export epcis --data-dir demo-data/gateway --bird 0001 --output bird-0001.jsonld
  farmtrace export epcis --data-dir farm --pack 09506000134352/S0001 \\
      --base-url https://trace.example.com
  farmtrace export epcis --data-dir farm --lot 09506000134352/L20260104 > lot.jsonld
  farmtrace export epcis --data-dir plant --data-dir farm-a --data-dir farm-b \
      --pins pins.json --pack 09506000134352/S0001 --base-url https://shop.example
"""


def add_parser(commands: Any) -> None:
    """Register the ``export`` subcommand group (``export epcis``)."""
    parser = commands.add_parser(
        "export",
        help="export lifecycles in standard formats",
        description="Export what the log says, in standard formats.",
    )
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    epcis = formats.add_parser(
        "epcis",
        help="a bird's, pack's or lot's lifecycle as GS1 EPCIS 2.0 JSON-LD",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    epcis.add_argument(
        "--data-dir",
        type=Path,
        action="append",
        required=True,
        help="the log's data directory; repeat it for a story across logs",
    )
    which = epcis.add_mutually_exclusive_group(required=True)
    which.add_argument("--bird", metavar="ID", help="a bird id, e.g. 0001")
    which.add_argument("--pack", metavar="GTIN/SERIAL", help="a pack, e.g. 09506000134352/S0001")
    which.add_argument("--lot", metavar="GTIN/LOT", help="a lot, e.g. 09506000134352/L20260104")
    epcis.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="the consumer site's public URL, for identifiers (default: %(default)s)",
    )
    epcis.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="pins file: slugs of the logs, and proof URLs and parties of referenced logs",
    )
    epcis.add_argument("--output", type=Path, help="file to write (default: standard output)")
    epcis.set_defaults(handler=run_epcis)


def run_epcis(args: argparse.Namespace) -> int:
    """Export and write the document; see the exit status in the command's help."""
    try:
        link = None
        if args.pack is not None:
            link = parse_gtin_pair(args.pack, "serial")
        elif args.lot is not None:
            link = parse_gtin_pair(args.lot, "lot")
    except GS1Error as exc:
        return fail("export epcis", str(exc), 2)
    subject = args.bird if link is None else link
    try:
        if len(args.data_dir) == 1 and args.pins is None:
            document = epcis_export(
                args.data_dir[0], subject, base_url=args.base_url, created_ms=now_ms()
            )
        else:
            pins = None if args.pins is None else load_pins(args.pins)
            document = epcis_export_across(
                args.data_dir,
                subject,
                base_url=args.base_url,
                created_ms=now_ms(),
                slugs=None if pins is None else {p.origin: p.slug for p in pins.parties},
                others=None
                if pins is None
                else {p.origin: OtherLog(p.sources[0]) for p in pins.parties},
            )
    except (UnknownSubjectError, NoCheckpointError) as exc:
        return fail("export epcis", str(exc), 1)
    except FarmtraceError as exc:
        return fail("export epcis", str(exc), 2)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    events = len(document["epcisBody"]["eventList"])
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_whole(args.output, text)
    except OSError as exc:
        return fail("export epcis", f"cannot write {args.output}: {exc}", 2)
    logs = len(args.data_dir)
    across = "" if logs == 1 else f" from {logs} logs"
    print(
        f"wrote {events} EPCIS events about {document['farmtrace:subject']}{across} "
        f"to {args.output}"
    )
    return 0
