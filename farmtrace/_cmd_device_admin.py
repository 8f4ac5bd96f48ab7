"""``farmtrace device add | retire | replace``: a device's registration and broker login at once.

The registration is signed by an operator (admin or farm role) and
confirmed by the gateway's receipt naming it by hash
(:mod:`signer.device_lifecycle`); the login is created or deleted on the
running broker through Mosquitto's dynamic security plugin
(:mod:`gateway.broker_accounts`), which touches no other login.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.keyfile import load_key
from farmtrace._exits import fail
from gateway.broker_accounts import AccountError, BrokerAccounts, BrokerAdmin
from gateway.broker_config import new_password
from signer.device_lifecycle import (
    DevicePlan,
    device_settings,
    device_toml,
    register_device,
    retire_device,
)
from signer.identity import KEY_FILE, DeviceIdentity
from signer.mqtt_url import MqttUrl, parse_mqtt_url
from signer.registration import parse_public_key, receipt_text

__all__ = ["add_parsers"]

CONFIG_FILE = "device.toml"

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
        help="send the operator's entry as this login, mqtt://USER[:PW]@host:port (default: a "
        "one-off login for the operator's topics, made and deleted by the accounts user, "
        "so that no session of the operator is knocked off)",
    )
    parser.add_argument(
        "--broker-admin",
        required=True,
        metavar="URL",
        help="mqtt://USER[:PW]@host:port of the broker's accounts user (docs/broker.md)",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        help="a JSON file of passwords for URLs without one: `farmtrace broker config`'s "
        "credentials.json, or the demo's broker/demo-credentials.json (keeps them out of `ps`)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")


def _admin(args: argparse.Namespace, passwords: dict[str, str]) -> BrokerAdmin:
    url = _with_password(parse_mqtt_url(args.broker_admin), passwords, "--broker-admin")
    return BrokerAdmin(url.host, url.port, str(url.username), str(url.password))


def _with_password(url: MqttUrl, passwords: dict[str, str], option: str) -> MqttUrl:
    if url.password is None and url.username in passwords:
        url = dataclasses.replace(url, password=passwords[url.username])
    if url.username is None or url.password is None:
        raise ValueError(
            f"{option}: expected mqtt://USER:PASSWORD@host[:port], or USER's password "
            "in --credentials"
        )
    return url


def _passwords(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    doc = json.loads(path.read_text())
    passwords = doc.get("passwords", doc) if isinstance(doc, dict) else None
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        raise ValueError(f"{path}: expected a JSON object of user names to passwords")
    return passwords


@contextmanager
def _operator_login(
    args: argparse.Namespace,
    passwords: dict[str, str],
    accounts: BrokerAccounts,
    admin: BrokerAdmin,
    operator: str,
) -> Iterator[MqttUrl]:
    """The login that sends the operator's entry: --mqtt's, or a one-off one deleted after.

    The one-off login has the operator's topics, not its user name: a second
    session as the operator would knock its own (the demo's, a desk's) off.
    """
    if args.mqtt is not None:
        yield _with_password(parse_mqtt_url(args.mqtt), passwords, "--mqtt")
        return
    user, password = f"{operator[:50]}.cli-{secrets.token_hex(4)}", new_password()
    accounts.create(user, password, topics_of=operator)
    try:
        yield MqttUrl(admin.host, admin.port, user, password)
    finally:
        accounts.delete(user, delete_role=False)


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
    try:
        key = load_key(args.operator_key)
        passwords = _passwords(args.credentials)
        admin = _admin(args, passwords)
        pubkey = (
            parse_public_key(args.pubkey, "--pubkey")
            if args.pubkey is not None
            else _device_key(args.state_dir, dev)
        )
        plan = DevicePlan(
            dev,
            pubkey,
            args.farm,
            tuple(args.kind),
            tuple(args.subject),
            args.location or args.subject[0],
            args.label,
        )
        password = new_password()
        with BrokerAccounts(admin, args.farm) as accounts:
            accounts.create(dev, password)
            print(f"created broker login {dev!r}")
            try:
                with _operator_login(args, passwords, accounts, admin, key.id) as url:
                    sent = register_device(
                        key,
                        args.operator_state,
                        url,
                        plan,
                        ts=int(time.time() * 1000),
                        timeout=args.timeout,
                        on_signed=lambda seq: print(
                            f"signed registration of {dev} as {key.id}, seq {seq}"
                        ),
                    )
            except TimeoutError:  # it may still be committed: keep the login
                raise
            except (ValueError, OSError, FarmtraceError):  # not committed: take the login back
                accounts.delete(dev)
                print(f"deleted broker login {dev!r} again")
                raise
    except (AccountError, TimeoutError, PermissionError) as exc:
        return fail(command, exc, 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, exc)
    print(receipt_text(sent, key.id))
    device_url = MqttUrl(admin.host, admin.port, dev, password)
    if args.state_dir is not None:
        config = args.state_dir / CONFIG_FILE
        _write_private(config, device_toml(args.state_dir, dev, args.farm, device_url, None))
        print(f"wrote {config} (mode 0600: holds the login); run the device with:")
        print(f"  farmtrace device run --config {config}")
    else:
        print("what the device needs (its login's password is shown once):")
        print(json.dumps(device_settings(device_url, args.farm), sort_keys=True))
    return 0


def _retire(args: argparse.Namespace, dev: str, command: str) -> int:
    try:
        key = load_key(args.operator_key)
        passwords = _passwords(args.credentials)
        admin = _admin(args, passwords)
        with BrokerAccounts(admin, args.farm) as accounts:
            try:
                accounts.delete(dev)
                print(f"deleted broker login {dev!r} (its connection is cut)")
            except AccountError as exc:
                if exc.reason != "not_found":
                    raise
                print(f"no broker login {dev!r} (already deleted)")
            with _operator_login(args, passwords, accounts, admin, key.id) as url:
                sent = retire_device(
                    key,
                    args.operator_state,
                    url,
                    args.farm,
                    dev,
                    ts=int(time.time() * 1000),
                    timeout=args.timeout,
                    on_signed=lambda seq: print(
                        f"signed revocation of {dev} as {key.id}, seq {seq}"
                    ),
                )
    except (AccountError, TimeoutError, PermissionError) as exc:
        return fail(command, exc, 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, exc)
    print(receipt_text(sent, key.id))
    return 0


def _device_key(state_dir: Path, dev: str) -> bytes:
    """The public key in ``state_dir``, created (with seq state at 0) if there is none."""
    if (state_dir / KEY_FILE).exists():
        with DeviceIdentity.open(state_dir) as identity:
            if identity.id != dev:
                raise ValueError(f"{state_dir} holds device {identity.id!r}, not {dev!r}")
            return identity.key.public_key
    with DeviceIdentity.open_or_create(state_dir, dev) as identity:
        return identity.key.public_key


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
