"""The ``farmtrace`` command: one entry point, a subcommand per job.

Each subcommand lives in its own module and registers itself through
``add_parser(subparsers)``; its handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from farmtrace import (
    _cmd_audit,
    _cmd_bridge,
    _cmd_broker,
    _cmd_demo,
    _cmd_deploy,
    _cmd_desk,
    _cmd_device,
    _cmd_event,
    _cmd_export,
    _cmd_fleet,
    _cmd_gateway,
    _cmd_keygen,
    _cmd_operator,
    _cmd_site,
    _cmd_tiles,
    _cmd_trace,
    _cmd_verify,
    _cmd_witness,
)

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
farmtrace: tamper-evident farm-to-table traceability.

Devices sign every sensor reading with their own Ed25519 key; the gateway
batches verified entries into hash-linked blocks whose headers are the leaves
of an RFC 6962 Merkle log with signed checkpoints. Anyone holding the log's
trust root can check all of it offline.
"""

_EPILOG = """\
examples:
  farmtrace demo                             a live demo farm: broker, gateway, devices, site
  farmtrace keygen --id barn1-temp           a device key (barn1-temp.key, mode 0600)
  farmtrace audit --data-dir demo-data/gateway   verify the demo log offline
  farmtrace site run --site-dir S --source http://127.0.0.1:8080   the consumer site
  farmtrace event packed --carcass 0001 --gtin 09506000134352 --serial S0001 ...
  farmtrace trace --data-dir demo-data/gateway --lot 09506000134352/L20261122
  farmtrace export epcis --data-dir demo-data/gateway --bird 0001
  farmtrace verify-batch HASH --url URL      verify one block through a site
  farmtrace witness serve --dir coop-witness   a witness that cosigns a log's checkpoints
  farmtrace fleet --url http://127.0.0.1:8080  every device: last seen, backlog, flags

Run 'farmtrace COMMAND --help' for a command's options and examples.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="farmtrace",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        *(_cmd_demo, _cmd_keygen, _cmd_gateway, _cmd_device, _cmd_operator, _cmd_event),
        *(_cmd_desk, _cmd_bridge, _cmd_broker, _cmd_site, _cmd_trace, _cmd_export),
        *(_cmd_audit, _cmd_verify, _cmd_witness, _cmd_deploy, _cmd_tiles, _cmd_fleet),
    ):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 failed check, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
