"""``farmtrace operator add|retire``: a person who signs at a desk, from key to log-in and back.

The command line over :mod:`provisioning.people`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chain.entries import ROLES
from chain.errors import FarmtraceError
from farmtrace._events import add_signer_options, error_text, now_ms
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import mqtt_url_of
from gateway.broker_accounts import AccountError
from provisioning.people import AdminAccess, IncompleteError, NewPerson, add_person, retire_person
from signer.mqtt_url import parse_mqtt_url
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


def _access(args: argparse.Namespace) -> AdminAccess:
    """The admin's options as :class:`provisioning.people.AdminAccess`.

    Raises:
        ValueError: a malformed MQTT URL.
    """
    return AdminAccess(
        farm=args.farm,
        key_file=args.key,
        state_dir=args.state_dir,
        mqtt=mqtt_url_of(args),
        broker_admin=None if args.broker_admin is None else parse_mqtt_url(args.broker_admin),
        credentials=args.credentials,
        timeout=args.timeout,
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _failed(command: str, exc: Exception) -> int:
    """The exit code for what :mod:`provisioning.people` raised: 1 unconfirmed, 2 bad input."""
    if isinstance(exc, IncompleteError):
        cause = exc.__cause__ or exc
        return fail(
            command,
            f"registered, but no {exc.missing}: {error_text(cause)}",
            1 if isinstance(cause, AccountError) else 2,
        )
    if isinstance(exc, NotConnectedError | PermissionError | AccountError):
        return fail(command, str(exc), 1)
    if isinstance(exc, TimeoutError):
        return fail(command, f"{exc}: the gateway may have rejected it (its /metrics say why)", 1)
    return fail(command, error_text(exc), 2)


def run_add(args: argparse.Namespace) -> int:
    """Key, registration (confirmed by hash), then the desk log-in. Exit 1 unconfirmed, 2 bad."""
    person = NewPerson(args.id, tuple(args.role), args.desk_dir, args.name, args.user)
    ts = now_ms() if args.ts is None else args.ts
    try:
        added = add_person(_access(args), person, ts=ts, say=_say)
    except (ValueError, OSError, FarmtraceError) as exc:
        return _failed("operator add", exc)
    print(f"desk log-in: {added.user}  password: {added.password}  (shown once)")
    return 0


def run_retire(args: argparse.Namespace) -> int:
    """Desk log-ins removed, then the revocation (confirmed by hash). Exit 1 unconfirmed, 2 bad."""
    ts = now_ms() if args.ts is None else args.ts
    try:
        retire_person(_access(args), args.id, args.desk_dir, ts=ts, say=_say)
    except (ValueError, OSError, FarmtraceError) as exc:
        return _failed("operator retire", exc)
    return 0
