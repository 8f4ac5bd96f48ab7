"""``farmtrace device add | retire | replace``: a device's registration and broker login at once.

The command line over :mod:`provisioning.devices`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from farmtrace._events import now_ms
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import add_tls_options, mqtt_url_of
from gateway.broker_accounts import AccountError
from provisioning.devices import NewDevice, OperatorAccess, add_device, retire_device
from signer.mqtt_url import parse_mqtt_url

__all__ = ["add_parsers"]

_OPERATOR = """\
      --operator-key keys/manager.key --operator-state st/manager \\
      --broker-admin mqtt://broker-admin@gw.local --credentials broker/credentials.json
"""

_EXAMPLES_ADD = (
    """\
examples:
  farmtrace device add --device-id b1-temp2 --kind temperature --subject barn:b1 \\
      --state-dir st/b1-temp2 --farm farm1 \\
"""
    + _OPERATOR
    + "  farmtrace device run --config st/b1-temp2/device.toml\n"
)

_EXAMPLES_RETIRE = (
    """\
examples:
  farmtrace device retire --device-id b1-temp2 --farm farm1 \\
"""
    + _OPERATOR
)

_EXAMPLES_REPLACE = (
    """\
examples:
  farmtrace device replace --device-id b1-temp2 --new-device-id b1-temp3 \\
      --kind temperature --subject barn:b1 --state-dir st/b1-temp3 --farm farm1 \\
"""
    + _OPERATOR
)


def add_parsers(actions: Any) -> None:
    """Add ``add``, ``retire`` and ``replace`` to the ``device`` subcommand group."""
    fmt = argparse.RawDescriptionHelpFormatter
    add = actions.add_parser(
        "add",
        help="register a new device and give it a broker login, on a running farm",
        description="Create (or take) a device's key, create its login on the running broker, "
        "sign its registration as an operator and wait until the gateway has committed it. "
        "With --state-dir, writes STATE_DIR/device.toml for `farmtrace device run --config`.",
        epilog=_EXAMPLES_ADD,
        formatter_class=fmt,
    )
    add.add_argument("--device-id", required=True, help="e.g. b1-temp (an MQTT topic level)")
    _add_new_device_options(add)
    _add_operator_options(add)
    add.set_defaults(handler=run_add)

    retire = actions.add_parser(
        "retire",
        help="revoke a device's registration and delete its broker login",
        description="Delete the device's login on the running broker (its connection is cut), "
        "then sign the revocation of its registration and wait until it is committed. "
        "Readings it signed before now still count; later ones are refused.",
        epilog=_EXAMPLES_RETIRE,
        formatter_class=fmt,
    )
    retire.add_argument("--device-id", required=True)
    _add_operator_options(retire)
    retire.set_defaults(handler=run_retire)

    replace = actions.add_parser(
        "replace",
        help="hand a device's subjects to a new device (new key), retire the old one",
        description="`device add` for --new-device-id with the given kinds, subjects and "
        "location, then `device retire` for --device-id: the subjects' history continues "
        "across the swap.",
        epilog=_EXAMPLES_REPLACE,
        formatter_class=fmt,
    )
    replace.add_argument("--device-id", required=True, help="the device taken out")
    replace.add_argument("--new-device-id", required=True, help="the device put in")
    _add_new_device_options(replace)
    _add_operator_options(replace)
    replace.set_defaults(handler=run_replace)


def _add_new_device_options(parser: argparse.ArgumentParser) -> None:
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--state-dir", type=Path, help="create the device's key and seq state here")
    key.add_argument("--pubkey", help="or the key the device made itself: --pubkey=KEY")
    parser.add_argument("--kind", action="append", required=True, help="reading kind (repeatable)")
    parser.add_argument(
        "--subject", action="append", required=True, help="e.g. barn:b1 or bird:* (repeatable)"
    )
    parser.add_argument("--location", help="the subject it is installed at (default: --subject)")
    parser.add_argument("--label", help="a human label, e.g. 'barn 1 thermometer'")


def _add_operator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--farm", required=True, help="farm id (the MQTT topic level)")
    parser.add_argument("--operator-key", type=Path, required=True, help="admin or farm operator")
    parser.add_argument(
        "--operator-state", type=Path, required=True, help="the operator's seq state directory"
    )
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="send the operator's entry as this login, mqtt[s]://USER[:PW]@host:port (default: a "
        "one-off login for the operator's topics, made and deleted by the accounts user, "
        "so that no session of the operator is knocked off)",
    )
    add_tls_options(parser)
    parser.add_argument(
        "--broker-admin",
        required=True,
        metavar="URL",
        help="mqtt://USER[:PW]@host:port of the broker's accounts user (docs/broker.md); "
        "plain MQTT: give the broker's loopback listener",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        help="a JSON file of passwords for URLs without one: `farmtrace broker config`'s "
        "credentials.json, or the demo's broker/demo-credentials.json (keeps them out of `ps`)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")


def _access(args: argparse.Namespace) -> OperatorAccess:
    """The operator's options as :class:`provisioning.devices.OperatorAccess`.

    Raises:
        ValueError: a malformed MQTT URL, or an ``mqtts://`` one for the accounts user.
    """
    admin = parse_mqtt_url(args.broker_admin)
    if admin.tls:
        raise ValueError(
            f"--broker-admin {admin}: expected mqtt:// (the accounts user logs in without TLS, "
            "on the broker's loopback listener), found mqtts://"
        )
    return OperatorAccess(
        farm=args.farm,
        key_file=args.operator_key,
        state_dir=args.operator_state,
        broker_admin=admin,
        mqtt=None if args.mqtt is None else mqtt_url_of(args),
        credentials=args.credentials,
        timeout=args.timeout,
    )


def run_add(args: argparse.Namespace) -> int:
    """Add one device. Exit 0 once committed; 1 on a timeout or refusal; 2 on bad input."""
    return _add(args, args.device_id, "device add")


def run_retire(args: argparse.Namespace) -> int:
    """Retire one device. Exit 0 once committed; 1 on a timeout or refusal; 2 on bad input."""
    return _retire(args, args.device_id, "device retire")


def run_replace(args: argparse.Namespace) -> int:
    """Add the new device, then retire the old one; stop at the first failure."""
    code = _add(args, args.new_device_id, "device replace")
    return code if code else _retire(args, args.device_id, "device replace")


def _add(args: argparse.Namespace, dev: str, command: str) -> int:
    device = NewDevice(
        dev,
        tuple(args.kind),
        tuple(args.subject),
        args.state_dir,
        args.pubkey,
        args.location,
        args.label,
    )
    try:
        added = add_device(_access(args), device, ts=now_ms(), say=print)
    except (AccountError, TimeoutError, PermissionError) as exc:
        return fail(command, exc, 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, exc)
    if added.config is not None:
        print(f"wrote {added.config} (mode 0600: holds the login); run the device with:")
        print(f"  farmtrace device run --config {added.config}")
    else:
        print("what the device needs (its login's password is shown once):")
        print(json.dumps(added.settings, sort_keys=True))
    return 0


def _retire(args: argparse.Namespace, dev: str, command: str) -> int:
    try:
        retire_device(_access(args), dev, ts=now_ms(), say=print)
    except (AccountError, TimeoutError, PermissionError) as exc:
        return fail(command, exc, 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, exc)
    return 0
