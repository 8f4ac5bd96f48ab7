"""``farmtrace operator add|retire``: a person who signs at a desk, from key to log-in and back.

With ``--broker-admin``, the person's own broker login is created (or
deleted) on the running broker too (:mod:`gateway.broker_accounts`), its
password kept beside the person's key for the desk.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from chain.entries import ROLES, operator_payload
from chain.errors import FarmtraceError
from chain.keyfile import SignerKey, load_key
from desk.people import (
    add_person_login,
    new_person_key,
    person_key,
    remove_person_logins,
    save_person_mqtt_password,
)
from farmtrace._events import add_signer_options, error_text, now_ms
from farmtrace._exits import fail
from gateway.broker_accounts import AccountError, BrokerAccounts, BrokerAdmin
from gateway.broker_config import new_password
from signer.mqtt_url import MqttUrl, parse_mqtt_url
from signer.registration import receipt_text, sign_and_send
from signer.transport import NotConnectedError

__all__ = ["add_people_parsers"]

_ADMIN = "--key gw/keys/admin.key --state-dir gw/keys/admin.state --mqtt mqtt://admin:PW@gw.local"

_EXAMPLES_ADD = f"""\
examples:
  farmtrace operator add --id vet2 --role vet --name "Dr. Li, poultry vet" \\
      --desk-dir /var/lib/farmtrace-desk --farm farm1 {_ADMIN}

Makes a key for vet2 in DESK_DIR/operators/vet2/, has the admin sign its
registration, waits until the gateway committed that very entry, then adds
the desk log-in vet2 (or --user) and prints its password once (with
--broker-admin, first the broker login vet2, whose password the desk keeps
in DESK_DIR/operators/vet2/mqtt-password). A running
desk lets vet2 in at once and shows it only the events its roles allow.
The admin's --state-dir may be in use by a running program (a desk, the
demo): seqs are allocated atomically across processes.
"""

_EXAMPLES_RETIRE = f"""\
examples:
  farmtrace operator retire --id vet2 --desk-dir /var/lib/farmtrace-desk --farm farm1 {_ADMIN}

Removes vet2's desk log-ins first (a running desk refuses them, and ends
their sessions, from its next request) and, with --broker-admin, its broker
login (its connection is cut), then has the admin sign the
revocation and waits until the gateway committed it: from then on the
gateway refuses what vet2 signs. Its key stays, to verify what it signed.
"""


def add_people_parsers(actions: Any) -> None:
    """Register ``operator add`` and ``operator retire`` under the ``operator`` group."""
    fmt = argparse.RawDescriptionHelpFormatter
    add = actions.add_parser(
        "add",
        help="give a person a key, register it with roles, and a desk log-in",
        description="Add a person who signs at a desk as an operator of their own.",
        epilog=_EXAMPLES_ADD,
        formatter_class=fmt,
    )
    add.add_argument("--id", required=True, help="the operator's id, e.g. vet2")
    add.add_argument(
        "--role", action="append", required=True, choices=sorted(ROLES), help="repeatable"
    )
    add.add_argument("--name", help="who it is, e.g. 'Dr. Li, poultry vet'")
    add.add_argument("--desk-dir", type=Path, required=True, help="the desk's directory")
    add.add_argument("--user", help="the desk log-in's name (default: the operator id)")
    _add_broker_options(add)
    add_signer_options(add, "the admin")
    add.set_defaults(handler=run_add)

    retire = actions.add_parser(
        "retire",
        help="remove a person's desk log-ins and revoke its key",
        description="Retire a person added with 'operator add'.",
        epilog=_EXAMPLES_RETIRE,
        formatter_class=fmt,
    )
    retire.add_argument("--id", required=True, help="the operator's id")
    retire.add_argument("--desk-dir", type=Path, required=True, help="the desk's directory")
    _add_broker_options(retire)
    add_signer_options(retire, "the admin")
    retire.set_defaults(handler=run_retire)


def _add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker-admin",
        metavar="URL",
        help="mqtt://USER[:PW]@host:port of the broker's accounts user: also create (delete) "
        "the person's broker login (docs/broker.md)",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        help="a JSON file of passwords for URLs without one (farmtrace broker config's "
        "credentials.json, the demo's broker/demo-credentials.json)",
    )


def _url(args: argparse.Namespace, text: str) -> MqttUrl:
    """``text`` parsed, its password from ``--credentials`` if it has none."""
    url = parse_mqtt_url(text)
    if url.password is None and args.credentials is not None:
        doc = json.loads(args.credentials.read_text())
        passwords = doc.get("passwords", doc) if isinstance(doc, dict) else {}
        found = passwords.get(url.username) if isinstance(passwords, dict) else None
        if isinstance(found, str):
            url = dataclasses.replace(url, password=found)
    return url


def _broker_admin(args: argparse.Namespace) -> BrokerAdmin | None:
    if args.broker_admin is None:
        return None
    url = _url(args, args.broker_admin)
    if url.username is None or url.password is None:
        raise ValueError("--broker-admin: expected mqtt://USER:PW@host[:port], or --credentials")
    return BrokerAdmin(url.host, url.port, url.username, url.password)


def _key_at_desk(desk_dir: Path, operator: str) -> SignerKey:
    """The person's key at the desk: the one left by an earlier, unconfirmed add, or a new one."""
    try:
        return person_key(desk_dir, operator)
    except FileNotFoundError:
        return new_person_key(desk_dir, operator)


def _send(args: argparse.Namespace, command: str, build: Any) -> int | None:
    """Sign ``build(seq)`` as the admin and wait for its receipt; None on success, else the exit."""
    try:
        admin = load_key(args.key)
        sent = sign_and_send(
            admin,
            args.state_dir,
            _url(args, args.mqtt),
            args.farm,
            build,
            timeout=args.timeout,
            on_signed=lambda seq: print(f"signed as {admin.id}, seq {seq}", flush=True),
        )
    except NotConnectedError as exc:
        return fail(command, str(exc), 1)
    except TimeoutError as exc:
        return fail(command, f"{exc}: the gateway may have rejected it (its /metrics say why)", 1)
    except PermissionError as exc:
        return fail(command, str(exc), 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, error_text(exc), 2)
    print(receipt_text(sent, admin.id))
    return None


def run_add(args: argparse.Namespace) -> int:
    """Key, registration (confirmed by hash), then the desk log-in. Exit 1 unconfirmed, 2 bad."""
    roles = list(dict.fromkeys(args.role))
    ts = now_ms() if args.ts is None else args.ts
    try:
        key = _key_at_desk(args.desk_dir, args.id)
        broker = _broker_admin(args)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail("operator add", error_text(exc), 2)
    failed = _send(
        args,
        "operator add",
        lambda seq: operator_payload(
            "register", args.id, seq, ts, pubkey=key.public_key, roles=roles, name=args.name
        ),
    )
    if failed is not None:
        return failed
    try:
        if broker is not None:
            mqtt_password = new_password()
            with BrokerAccounts(broker, args.farm) as accounts:
                accounts.create(args.id, mqtt_password)
            save_person_mqtt_password(args.desk_dir, args.id, mqtt_password)
            print(f"created broker login {args.id!r}")
        password = add_person_login(args.desk_dir, args.id, args.user)
    except AccountError as exc:
        return fail("operator add", f"registered, but no broker login: {error_text(exc)}", 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail("operator add", f"registered, but no desk log-in: {error_text(exc)}", 2)
    print(f"desk log-in: {args.user or args.id}  password: {password}  (shown once)")
    return 0


def run_retire(args: argparse.Namespace) -> int:
    """Desk log-ins removed, then the revocation (confirmed by hash). Exit 1 unconfirmed, 2 bad."""
    ts = now_ms() if args.ts is None else args.ts
    try:
        broker = _broker_admin(args)
        gone = remove_person_logins(args.desk_dir, args.id)
        print(f"desk log-ins removed: {', '.join(gone) or 'none'}")
        if broker is not None:
            with BrokerAccounts(broker, args.farm) as accounts:
                if accounts.exists(args.id):
                    accounts.delete(args.id)
            print(f"broker login {args.id!r} deleted (its connection is cut)")
    except AccountError as exc:
        return fail("operator retire", error_text(exc), 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail("operator retire", error_text(exc), 2)
    failed = _send(
        args, "operator retire", lambda seq: operator_payload("revoke", args.id, seq, ts)
    )
    return 0 if failed is None else failed
