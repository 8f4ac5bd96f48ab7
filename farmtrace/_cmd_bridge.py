"""``farmtrace bridge``: forward devices' signed lines from a serial port to MQTT, and back."""

from __future__ import annotations

import argparse
import threading
from typing import Any

import serial

from chain.errors import MalformedError
from chain.jws import check_id
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import add_tls_options, mqtt_url_of
from farmtrace._serving import stop_on_signals
from signer.bridge import Bridge
from signer.serial_link import open_port

__all__ = ["add_parser"]

_HELP = """\
Read one signed entry (a compact JWS) per line from a serial port and publish
it unchanged on farmtrace/<farm>/<device>/entry, the device being the JWS
header's kid; write each receipt the gateway publishes for those devices back
down the line. The bridge holds no keys and verifies nothing: garbled or
overlong lines are dropped and counted, and the device sends them again.
"""

_EXAMPLES = """\
examples:
  farmtrace bridge --serial /dev/ttyUSB0 --mqtt mqtt://bridge:secret@localhost --farm farm1
  farmtrace bridge --serial socket://192.0.2.7:7000 --mqtt mqtt://localhost:1883 --farm demo-farm
"""


def add_parser(commands: Any) -> None:
    """Register the ``bridge`` subcommand."""
    parser = commands.add_parser(
        "bridge",
        help="forward a serial line's entries to MQTT and receipts back",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--serial", required=True, help="serial port or pyserial URL")
    parser.add_argument("--baud", type=int, default=115200, help="baud rate (115200)")
    parser.add_argument(
        "--mqtt", required=True, help="mqtt[s]://[user[:password]@]host[:port] (mqtts: TLS)"
    )
    add_tls_options(parser)
    parser.add_argument("--farm", required=True, help="farm id (the MQTT topic level)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Bridge until SIGTERM/SIGINT (or --duration). Exit 2 on bad arguments or port."""
    try:
        url = mqtt_url_of(args)  # unusable TLS files fail here, before the port is opened
        check_id(args.farm, "farm")
        port = open_port(args.serial, baudrate=args.baud)
    except (ValueError, MalformedError, serial.SerialException) as exc:
        return fail("bridge", exc)
    stop = threading.Event()
    stop_on_signals(stop, args.duration)
    bridge = Bridge(port, url, args.farm)
    try:
        bridge.run(stop)
    finally:
        port.close()
    dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(bridge.dropped.items()))
    print(
        f"forwarded {bridge.forwarded} entries, {bridge.receipts_down} receipts; "
        f"dropped {dropped or 'nothing'}"
    )
    return 0
