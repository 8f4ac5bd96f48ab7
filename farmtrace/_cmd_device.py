"""``farmtrace device``: init and run a device; register, add, retire or replace one."""

from __future__ import annotations

import argparse
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.keyfile import load_key
from devices.run import SamplingError, run_until_stopped
from devices.service import load_settings, open_identity
from farmtrace._cmd_device_admin import add_parsers as add_admin_parsers
from farmtrace._events import now_ms
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import add_tls_options, mqtt_url_of
from farmtrace._serving import stop_on_signals
from provisioning.registrations import EntrySigner, register_device_key
from signer.identity import KEY_FILE, DeviceIdentity
from signer.mqtt_url import parse_mqtt_url, with_tls_files
from signer.registration import parse_public_key, receipt_text

__all__ = ["add_parser"]

_EXAMPLES_INIT = """\
examples:
  farmtrace device init --state-dir /var/lib/farmtrace-device --device-id barn1-temp
"""

_EXAMPLES_RUN = """\
examples:
  farmtrace device run --config /etc/farmtrace/device.toml
  farmtrace device run --state-dir st/b1-temp --device-id b1-temp \\
      --mqtt mqtt://localhost --farm demo-farm --duration 600
  farmtrace device run --state-dir st/b1-temp --serial /dev/ttyUSB0 --farm demo-farm
  farmtrace device run --state-dir /var/lib/farmtrace-device --mqtt mqtt://barn1-temp:pw@gw.local \\
      --farm farm1 --sensor ds18b20 --subject barn:b1 --interval 60

device.toml holds the same settings (each command-line option overrides it):
  state_dir = "/var/lib/farmtrace-device"
  mqtt = "mqtts://barn1-temp:secret@gateway.local:8883"  # or: serial = "/dev/ttyAMA0"
  ca_file = "/etc/farmtrace/farm-ca.pem"  # mqtts: the CA of the broker's certificate
  cert_file = "/var/lib/farmtrace-device/tls.pem"  # mqtts: a client certificate, if required
  key_file = "/var/lib/farmtrace-device/tls.key"
  farm = "farm1"
  sensor = "ds18b20"            # "ds18b20:28-0316a2794aff" for one of several, or "sim"
  subject = "barn:b1"
  interval = 60                 # seconds between DS18B20 readings
"""

_EXAMPLES_REGISTER = """\
examples:
  farmtrace device register --operator-key gw/keys/admin.key --operator-state gw/keys/admin.state \\
      --device-id barn1-temp --pubkey=<base64url key> --kind temperature \\
      --mqtt mqtt://admin:pw@gateway.local --farm farm1
"""


def add_parser(commands: Any) -> None:
    """Register the ``device`` subcommand group."""
    parser = commands.add_parser(
        "device",
        help="run a device; add, replace or retire one on a running farm",
        description="A device signs each reading with its own key and sends it to the gateway.",
        epilog=_EXAMPLES_RUN.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    init = actions.add_parser(
        "init",
        help="create a device key and seq state; print the public key",
        description="Create a device's state directory: its key, and its seq counter at 0.",
        epilog=_EXAMPLES_INIT,
        formatter_class=fmt,
    )
    init.add_argument("--state-dir", type=Path, required=True)
    init.add_argument("--device-id", required=True, help="e.g. barn1-temp (an MQTT topic level)")
    init.set_defaults(handler=run_init)

    run = actions.add_parser(
        "run",
        help="sample, sign and send readings",
        description="Run one device: sample its sensor, sign each reading, keep it in the "
        "outbox and send it over MQTT or a serial line until the gateway's receipt covers it.",
        epilog=_EXAMPLES_RUN,
        formatter_class=fmt,
    )
    run.add_argument("--config", type=Path, help="a device.toml with the settings below")
    run.add_argument("--state-dir", type=Path, help="key, seq and outbox directory")
    run.add_argument("--device-id", help="create the identity with this id if there is none")
    run.add_argument(
        "--mqtt", help="broker URL mqtt[s]://[user[:password]@]host[:port] (mqtts: TLS, 8883)"
    )
    add_tls_options(run, dests=("ca_file", "cert_file", "key_file"))
    run.add_argument("--serial", help="serial port or pyserial URL (instead of --mqtt)")
    run.add_argument("--farm", help="farm id (the MQTT topic level)")
    run.add_argument(
        "--sensor",
        help="sim (default) | sim:<model device id, e.g. b1-temp> | ds18b20 | ds18b20:28-<12 hex>",
    )
    run.add_argument("--subject", help="subject of DS18B20 readings, e.g. barn:b1")
    run.add_argument(
        "--interval", type=float, help="seconds between DS18B20 or sim:<model> readings (60)"
    )
    run.add_argument(
        "--speed",
        type=float,
        help="simulated seconds per real second (sim; 1); above 1 the readings' timestamps run "
        "ahead of the clock and the gateway refuses those past its --max-future-ms as clock_skew",
    )
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.set_defaults(handler=run_device)

    reg = actions.add_parser(
        "register",
        help="sign a device registration with an operator key and wait for its receipt",
        description="Sign a 'device' registration entry as an operator (admin or farm role), "
        "publish it on the operator's entry topic and wait for the gateway's receipt.",
        epilog=_EXAMPLES_REGISTER,
        formatter_class=fmt,
    )
    reg.add_argument("--operator-key", type=Path, required=True, help="operator key file")
    reg.add_argument(
        "--operator-state", type=Path, required=True, help="the operator's seq state directory"
    )
    reg.add_argument("--device-id", required=True)
    reg.add_argument(
        "--pubkey",
        required=True,
        help="the device's base64url public key; write --pubkey=KEY, as a key may start with -",
    )
    reg.add_argument("--kind", action="append", help="a reading kind it may report (repeatable)")
    reg.add_argument("--label", help="a human label, e.g. 'barn 1 thermometer'")
    reg.add_argument("--ts", type=int, help="valid from (ms since the epoch; default: now)")
    reg.add_argument("--mqtt", required=True, help="broker URL, mqtt[s]://...")
    add_tls_options(reg)
    reg.add_argument("--farm", required=True)
    reg.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    reg.set_defaults(handler=run_register)
    add_admin_parsers(actions)


def run_init(args: argparse.Namespace) -> int:
    """Create the identity; print id and public key. Exit 2 if one exists or on a bad id."""
    try:
        if (args.state_dir / KEY_FILE).exists():
            raise FileExistsError(0, "already holds a device key", str(args.state_dir))
        with DeviceIdentity.open_or_create(args.state_dir, args.device_id) as identity:
            print(f"id      {identity.id}")
            print(f"pubkey  {identity.key.public_key_b64}")
        return 0
    except FileExistsError as exc:
        return fail("device init", f"{exc.filename} {exc.strerror}")
    except FarmtraceError as exc:
        return fail("device init", exc)


def run_device(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT (or --duration). Exit 2 on a usage or state error."""
    try:
        settings = load_settings(args.config, vars(args))
        url = None
        if settings.mqtt is not None:
            url = with_tls_files(
                parse_mqtt_url(settings.mqtt),
                settings.ca_file,
                settings.cert_file,
                settings.key_file,
            )
        identity = open_identity(settings)
    except FileNotFoundError as exc:
        print(f"farmtrace device run: {exc.strerror}: {exc.filename}", file=sys.stderr)
        print(
            "  create one with: farmtrace device init --state-dir DIR --device-id ID",
            file=sys.stderr,
        )
        return 2
    except (ValueError, OSError, tomllib.TOMLDecodeError, FarmtraceError) as exc:
        return fail("device run", exc)
    stop = threading.Event()
    with identity:
        try:
            ran = run_until_stopped(
                identity,
                settings,
                url,
                stop,
                now_ms=now_ms(),
                on_running=lambda: stop_on_signals(stop, settings.duration),
            )
        except SamplingError as exc:
            return fail("device run", exc, 1)
        except (ValueError, OSError, FarmtraceError) as exc:
            return fail("device run", exc)
    print(f"recorded {ran.recorded}; kept {ran.awaiting} awaiting receipts")
    return 0


def run_register(args: argparse.Namespace) -> int:
    """Sign, publish, wait for the receipt; print the block. Exit 1 on timeout, 2 on bad input."""
    ts = args.ts if args.ts is not None else now_ms()
    try:
        key = load_key(args.operator_key)
        url = mqtt_url_of(args)
        pubkey = parse_public_key(args.pubkey, "--pubkey")
        signer = EntrySigner(key, args.operator_state, url, args.farm, args.timeout)
        sent = register_device_key(
            signer, args.device_id, pubkey, args.kind, args.label, ts=ts, say=print
        )
    except (TimeoutError, PermissionError) as exc:
        return fail("device register", exc, 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail("device register", exc)
    print(receipt_text(sent, key.id))
    return 0
