"""``farmtrace operator register|revoke|add|retire``: the admin says who may sign which events."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.entries import ROLES
from chain.errors import FarmtraceError
from chain.keyfile import load_key
from chain.registry import EVENT_ROLES
from farmtrace._cmd_operator_people import add_people_parsers
from farmtrace._events import add_signer_options, error_text, now_ms, sending_route
from farmtrace._exits import fail
from provisioning.registrations import EntrySigner, register_operator, revoke_operator
from signer.registration import Sent, parse_public_key, read_public_key_file, receipt_text
from signer.transport import NotConnectedError

__all__ = ["add_parser"]

_ADMIN = (
    "--key gw/keys/admin.key --state-dir gw/keys/admin.state "
    "--mqtt mqtt://admin:PW@gw.local --farm farm1"
)

_HELP = (
    """\
Operators are the people and organisations who record a bird's lifecycle
(hatchery, farm, vet, processing plant, distributor, retailer), each with
its own Ed25519 key. The farm's administrator registers an operator's
public key and roles in the log (an 'operator' entry signed with the admin's
key), and may revoke it; from then on the gateway refuses what it signs.

Roles and the events they may sign:
"""
    + "\n".join(
        f"  {role:<12}{', '.join(e for e, roles in EVENT_ROLES.items() if role in roles) or '-'}"
        for role in sorted(ROLES)
    )
    + """
  (admin also registers operators; admin and farm register devices)
"""
)

_EXAMPLES_REGISTER = f"""\
examples:
  farmtrace keygen --id vet-anna          (on the vet's machine; prints the public key)
  farmtrace operator register --id vet-anna --pubkey=<key> --role vet \\
      --name "Dr. Anna Chen, poultry veterinarian" {_ADMIN}
  farmtrace operator register --id riverside --pubkey-file riverside.pub --role plant \\
      --role distributor --name "Riverside Processing Plant" {_ADMIN}

A --pubkey-file is a key file from farmtrace keygen, a copy of it without the
"seed", or a text file holding the base64url public key.
"""

_EXAMPLES_REVOKE = f"""\
examples:
  farmtrace operator revoke --id vet-anna {_ADMIN}
  farmtrace operator revoke --id vet-anna --ts 2026-11-24T08:00:00Z {_ADMIN}

What the operator signed before --ts still counts; from --ts on the gateway
refuses its entries.
"""


def add_parser(commands: Any) -> None:
    """Register the ``operator`` subcommand group."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = commands.add_parser(
        "operator",
        help="register, revoke, add or retire an operator (hatchery, farm, vet, ...) as the admin",
        description=_HELP,
        epilog=_EXAMPLES_REGISTER.split("\n\n")[0],
        formatter_class=fmt,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    reg = actions.add_parser(
        "register",
        help="register an operator's key and roles in the log",
        description=_HELP,
        epilog=_EXAMPLES_REGISTER,
        formatter_class=fmt,
    )
    reg.add_argument("--id", required=True, help="the operator's id, e.g. vet-anna")
    key = reg.add_mutually_exclusive_group(required=True)
    key.add_argument(
        "--pubkey", help="its base64url public key; write --pubkey=KEY, as a key may start with -"
    )
    key.add_argument("--pubkey-file", type=Path, help="a file holding its public key")
    reg.add_argument(
        "--role",
        action="append",
        required=True,
        choices=sorted(ROLES),
        help="a role it holds (repeatable)",
    )
    reg.add_argument("--name", help="who it is, for people: e.g. 'Sunrise Hatchery'")
    add_signer_options(reg, "the admin", submit=True)
    reg.set_defaults(handler=run_register)

    rev = actions.add_parser(
        "revoke",
        help="revoke an operator: the gateway refuses what it signs from then on",
        description="Sign an operator revocation as the admin and wait for its receipt.",
        epilog=_EXAMPLES_REVOKE,
        formatter_class=fmt,
    )
    rev.add_argument("--id", required=True, help="the operator's id")
    add_signer_options(rev, "the admin", submit=True)
    rev.set_defaults(handler=run_revoke)
    add_people_parsers(actions)


def run_register(args: argparse.Namespace) -> int:
    """Sign the registration, publish, wait for the receipt. Exit 1 on no receipt, 2 bad input."""
    try:
        if args.pubkey_file is not None:
            pubkey = read_public_key_file(args.pubkey_file, args.id)
        else:
            pubkey = parse_public_key(args.pubkey, "--pubkey")
    except (ValueError, OSError) as exc:
        return fail("operator register", error_text(exc), 2)
    ts = now_ms() if args.ts is None else args.ts
    return _sign_and_send(
        args,
        "operator register",
        lambda signer: register_operator(
            signer, args.id, pubkey, args.role, args.name, ts=ts, say=print
        ),
    )


def run_revoke(args: argparse.Namespace) -> int:
    """Sign the revocation, publish, wait for the receipt. Exit 1 on no receipt, 2 bad input."""
    ts = now_ms() if args.ts is None else args.ts
    return _sign_and_send(
        args,
        "operator revoke",
        lambda signer: revoke_operator(signer, args.id, ts=ts, say=print),
    )


def _sign_and_send(
    args: argparse.Namespace, command: str, send: Callable[[EntrySigner], Sent]
) -> int:
    try:
        key = load_key(args.key)
        url, farm = sending_route(args)
        sent = send(EntrySigner(key, args.state_dir, url, farm, args.timeout))
    except NotConnectedError as exc:
        return fail(command, str(exc), 1)
    except TimeoutError as exc:
        return fail(
            command,
            f"{exc}: the gateway may have rejected it (is {key.id!r} an admin of this "
            "log?), its /metrics counts rejections by reason; or it is down, and "
            "commits the entry when it is back",
            1,
        )
    except PermissionError as exc:
        return fail(command, str(exc), 1)
    except (ValueError, OSError, FarmtraceError) as exc:
        return fail(command, error_text(exc), 2)
    print(receipt_text(sent, key.id))
    return 0
