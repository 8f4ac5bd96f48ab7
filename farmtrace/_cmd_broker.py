"""``farmtrace broker config``: write a farm's Mosquitto config, password file and ACL."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from farmtrace._exits import fail
from gateway.broker_setup import BrokerRequest, configure_broker, registered_signers
from gateway.dynsec_file import DYNSEC_FILE
from gateway.mosquitto import MosquittoNotInstalledError, find_mosquitto

__all__ = ["add_parser", "run_config"]

_CONFIG_HELP = """\
Write a Mosquitto config for one farm into --out: mosquitto.conf, passwd
(Mosquitto's PBKDF2 hashes, mode 0600), acl, and credentials.json (mode 0600:
each user's password and broker URL, for configuring devices and the gateway).

Every device, serial bridge and operator logs in with its own id as username;
the ACL lets it publish only farmtrace/<farm>/<its id>/{entry,status} and read
only its own receipts. The gateway user reads every entry and status and
writes receipts. Anonymous clients are refused.

Run it again with the same --out to add (--device) or remove (--remove) users:
existing passwords are kept. A running broker picks up the new passwd and acl
on SIGHUP. docs/broker.md explains every setting.
"""

_CONFIG_EXAMPLES = """\
examples:
  farmtrace broker config --farm demo --out broker --device barn1-temp --device barn1-hum
  farmtrace broker config --farm demo --out broker --devices-from-log /var/lib/farmtrace
  farmtrace broker config --farm demo --out broker --device feeder-7        (add one more)
  farmtrace broker config --farm demo --out /etc/mosquitto/farmtrace --bind 0.0.0.0 \\
      --state-dir /var/lib/mosquitto --tls-ca ca.pem --tls-cert broker.pem --tls-key broker.key
"""


_GROUP_EXAMPLES = """\
examples:
  farmtrace broker config --farm demo --out broker --device barn1-temp
"""


def add_parser(commands: Any) -> None:
    """Register the ``broker`` subcommand group."""
    parser = commands.add_parser(
        "broker",
        help="configure the farm's MQTT broker (Mosquitto)",
        description="Configure the Mosquitto broker that devices and the gateway share.",
        epilog=_GROUP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    config = actions.add_parser(
        "config",
        help="write mosquitto.conf, passwd, acl and credentials.json",
        description=_CONFIG_HELP,
        epilog=_CONFIG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config.add_argument("--farm", required=True, help="farm id (the topic level after farmtrace/)")
    config.add_argument("--out", type=Path, required=True, help="directory to write the files to")
    config.add_argument("--port", type=int, default=1883, help="plain MQTT port (default: 1883)")
    config.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    config.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="ID",
        help="a device, bridge or operator id to give a login (repeatable)",
    )
    config.add_argument(
        "--devices-from-log",
        type=Path,
        metavar="DATA_DIR",
        help="also every device and operator registered (and not revoked) in this gateway's log",
    )
    config.add_argument(
        "--remove", action="append", default=[], metavar="ID", help="take a user's login away"
    )
    config.add_argument(
        "--gateway-user", default="gateway", help="the gateway's MQTT username (default: gateway)"
    )
    config.add_argument(
        "--state-dir",
        type=Path,
        help="where Mosquitto saves sessions and queued messages (default: OUT/state)",
    )
    config.add_argument(
        "--run-as",
        metavar="USER",
        help="account Mosquitto drops to when started as root (its default: mosquitto)",
    )
    config.add_argument("--tls-ca", type=Path, help="CA certificate for client certificates")
    config.add_argument("--tls-cert", type=Path, help="the broker's certificate (PEM)")
    config.add_argument("--tls-key", type=Path, help="the broker's private key (PEM)")
    config.add_argument("--tls-port", type=int, default=8883, help="TLS port (default: 8883)")
    config.add_argument(
        "--dynsec",
        action="store_true",
        help="keep the logins in Mosquitto's dynamic security plugin, so that `farmtrace "
        "device add/retire/replace` change them on the running broker (docs/broker.md)",
    )
    config.add_argument(
        "--accounts-user",
        default="broker-admin",
        help="with --dynsec: the login that adds and deletes logins (default: broker-admin)",
    )
    config.set_defaults(handler=run_config)


def run_config(args: argparse.Namespace) -> int:
    """Write the broker files; exit 0, or 2 with a message on a bad option or file."""
    try:
        registered = (
            [] if args.devices_from_log is None else registered_signers(args.devices_from_log)
        )
        setup = configure_broker(
            BrokerRequest(
                farm=args.farm,
                out=args.out,
                add=tuple(args.device),
                remove=tuple(args.remove),
                **{name: getattr(args, name) for name in _REQUEST_OPTIONS},
            ),
            registered=registered,
        )
    except (ValueError, FarmtraceError, OSError) as exc:
        return fail("broker config", exc)
    settings, files = setup.settings, setup.files
    print(f"wrote {files.config}")
    if settings.dynsec_plugin is not None:
        path = files.config.with_name(DYNSEC_FILE)
        print(f"wrote {path} (mode 0600; logins added, none removed; the broker owns it)")
    else:
        print(f"wrote {files.password_file} (mode 0600, {len(settings.users)} users)")
        print(f"wrote {files.acl_file}")
    print(f"wrote {setup.credentials} (mode 0600: the passwords; give each device its own)")
    if setup.new_users:
        print(f"new users: {', '.join(setup.new_users)}")
    if setup.removed_users:
        print(f"removed users: {', '.join(setup.removed_users)}")
    print(f"farm {settings.farm}: listening on {settings.bind}:{settings.port}", end="")
    print(f", TLS on port {settings.tls_port}" if settings.tls else "")
    try:
        mosquitto = find_mosquitto()
    except MosquittoNotInstalledError:
        mosquitto = "mosquitto"
        print("mosquitto is not installed here: sudo apt-get install mosquitto")
    print("run the broker with:")
    print(f"  {mosquitto} -c {files.config}")
    if settings.dynsec_plugin is not None:
        print("add devices to the running broker with: farmtrace device add (docs/operators.md)")
    else:
        print("after adding or removing users, reload a running broker with: kill -HUP <its pid>")
    if os.geteuid() == 0 and settings.run_as != "root":
        account = settings.run_as or "mosquitto"
        if settings.dynsec_plugin is not None:  # the plugin rewrites its file beside the config
            print(
                f"note: started as root, mosquitto drops to user {account!r} before reading and "
                f"rewriting {DYNSEC_FILE} and writing its state: chown {account} "
                f"{files.config.parent} {files.config.with_name(DYNSEC_FILE)} "
                f"{settings.state_dir} (or use --run-as)"
            )
        else:
            print(
                f"note: started as root, mosquitto drops to user {account!r} before reading "
                f"passwd and acl and writing its state: chown {account} {files.password_file} "
                f"{files.acl_file} {settings.state_dir} (or use --run-as)"
            )
    return 0


_REQUEST_OPTIONS = (
    *("gateway_user", "port", "bind", "state_dir", "run_as"),
    *("tls_ca", "tls_cert", "tls_key", "tls_port", "dynsec", "accounts_user"),
)
