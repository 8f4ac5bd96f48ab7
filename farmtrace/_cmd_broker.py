"""``farmtrace broker config``: write a farm's Mosquitto config, password file and ACL."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.store import Store
from gateway.broker_config import BrokerSettings, TlsFiles, new_password, write_broker_files
from gateway.datadir import DataDir
from gateway.mosquitto import MosquittoNotInstalledError, find_mosquitto

__all__ = ["add_parser", "registered_signers", "run_config"]

CREDENTIALS = "credentials.json"

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
    config.set_defaults(handler=run_config)


def registered_signers(data_dir: Path) -> list[str]:
    """Ids of every device and operator registered and not revoked in a gateway's log.

    Raises:
        StorageError: the log cannot be opened (missing, or in use by a running gateway).
        MalformedEntryError: a registration entry does not parse (a corrupt log).
    """
    current: dict[str, bool] = {}
    with Store.open(DataDir(data_dir).log) as store:
        for index in store.registration_indexes():
            entry = parse_entry(store.entry(index))
            subject = entry.payload["dev" if entry.type == "device" else "op"]
            current[str(subject)] = entry.payload["action"] != "revoke"
    return sorted(signer for signer, active in current.items() if active)


def run_config(args: argparse.Namespace) -> int:
    """Write the broker files; exit 0, or 2 with a message on a bad option or file."""
    try:
        return _run_config(args)
    except (ValueError, FarmtraceError, OSError) as exc:
        print(f"farmtrace broker config: {exc}", file=sys.stderr)
        return 2


def _run_config(args: argparse.Namespace) -> int:
    out: Path = args.out.absolute()
    credentials_path = out / CREDENTIALS
    passwords = _load_credentials(credentials_path, args.farm)
    wanted = set(passwords) | set(args.device) | {args.gateway_user}
    if args.devices_from_log is not None:
        wanted |= set(registered_signers(args.devices_from_log))
    if args.gateway_user in args.remove:
        raise ValueError(f"cannot remove the gateway user {args.gateway_user!r}")
    wanted -= set(args.remove)
    tls_given = [args.tls_ca, args.tls_cert, args.tls_key]
    if any(tls_given) and not all(tls_given):
        raise ValueError("TLS needs all three of --tls-ca, --tls-cert and --tls-key")
    users = {user: passwords.get(user) or new_password() for user in sorted(wanted)}
    settings = BrokerSettings(
        farm=args.farm,
        state_dir=(args.state_dir or out / "state").absolute(),
        port=args.port,
        bind=args.bind,
        users=users,
        gateway_user=args.gateway_user,
        tls=TlsFiles(*(p.absolute() for p in tls_given)) if all(tls_given) else None,
        tls_port=args.tls_port,
        run_as=args.run_as,
    )
    files = write_broker_files(settings, out)
    _write_credentials(credentials_path, settings)
    new = sorted(set(users) - set(passwords))
    removed = sorted(set(passwords) - set(users))
    print(f"wrote {files.config}")
    print(f"wrote {files.password_file} (mode 0600, {len(users)} users)")
    print(f"wrote {files.acl_file}")
    print(f"wrote {credentials_path} (mode 0600: the passwords; give each device its own)")
    if new:
        print(f"new users: {', '.join(new)}")
    if removed:
        print(f"removed users: {', '.join(removed)}")
    print(f"farm {settings.farm}: listening on {settings.bind}:{settings.port}", end="")
    print(f", TLS on port {settings.tls_port}" if settings.tls else "")
    try:
        mosquitto = find_mosquitto()
    except MosquittoNotInstalledError:
        mosquitto = "mosquitto"
        print("mosquitto is not installed here: sudo apt-get install mosquitto")
    print("run the broker with:")
    print(f"  {mosquitto} -c {files.config}")
    print("after adding or removing users, reload a running broker with: kill -HUP <its pid>")
    if os.geteuid() == 0 and settings.run_as != "root":
        account = settings.run_as or "mosquitto"
        print(
            f"note: started as root, mosquitto drops to user {account!r} before reading passwd "
            f"and acl and writing its state: chown {account} {files.password_file} "
            f"{files.acl_file} {settings.state_dir} (or use --run-as)"
        )
    return 0


def _load_credentials(path: Path, farm: str) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        stored_farm, passwords = doc["farm"], doc["passwords"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a credentials file of this command: {exc}") from exc
    if stored_farm != farm:
        raise ValueError(f"{path} holds farm {stored_farm!r}, not {farm!r}; use another --out")
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        raise ValueError(f"{path}: passwords must map user ids to strings")
    return dict(passwords)


def _write_credentials(path: Path, settings: BrokerSettings) -> None:
    host = "127.0.0.1" if settings.bind in ("0.0.0.0", "::") else settings.bind
    doc = {
        "farm": settings.farm,
        "gateway_user": settings.gateway_user,
        "passwords": dict(settings.users),
        "urls": {
            user: f"mqtt://{user}:{quote(password, safe='')}@{host}:{settings.port}"
            for user, password in settings.users.items()
        },
    }
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
