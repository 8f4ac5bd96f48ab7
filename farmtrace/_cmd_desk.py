"""``farmtrace desk init|adduser|run``: the operators' web form, for staff without a terminal."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from chain.entries import ROLES
from chain.errors import FarmtraceError
from desk import USERS_FILE, add_user, create_app
from desk.setup import check_staff, init_desk_dir, is_desk_dir
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import add_tls_options
from farmtrace._serving import add_server_options, serve, server_settings
from signer.credentials import broker_url_text, mqtt_url_with_secret

__all__ = ["add_parser"]

_HELP = """\
The desk is a small web site an organisation (a farm, a plant, a shop) runs
on its own server with its operator's key. Its staff log in and record
lifecycle events (hatched, placed, slaughtered, packed, shipped ...) with a
form per event kind the operator's roles allow; each event is checked
against the log, signed with the operator's key, sent to the gateway and
confirmed by its receipt, exactly as 'farmtrace event' does.

A desk directory holds operator.key, state/ (the operator's seq state: sign
as this operator from nowhere else), users.json (staff accounts, scrypt
password hashes) and secret.key (the session secret).
"""

_EXAMPLES = """\
examples:
  farmtrace desk init --desk-dir /var/lib/farmtrace-desk --operator-id riverside
  farmtrace operator register --id riverside --pubkey=<printed key> --role plant ...
  farmtrace desk adduser --desk-dir /var/lib/farmtrace-desk --username maria
  farmtrace desk run --desk-dir /var/lib/farmtrace-desk --mqtt mqtt://riverside@gw.local \\
      --mqtt-password-file /etc/farmtrace/desk-mqtt-password \\
      --farm farm1 --check-url http://gw.local:8080 --port 8100
  farmtrace desk run --desk-dir /var/lib/farmtrace-desk --submit-url http://plant.local:8083 \\
      --check-url http://plant.local:8083 --port 8100          (an operator-only log)
  farmtrace desk run ... --pins /etc/farmtrace/pins.json   (forms may name other logs' entries)

Serve it behind a TLS reverse proxy and pass --secure-cookie.
"""


def add_parser(commands: Any) -> None:
    """Register the ``desk`` subcommand group."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = commands.add_parser(
        "desk",
        help="the operators' web form for recording events",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=fmt,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init",
        help="create a desk directory with the operator's key",
        description="Create a desk directory: a new operator key (--operator-id), or an "
        "existing one moved in with its seq state (--operator-key and --operator-state).",
        epilog=_EXAMPLES,
        formatter_class=fmt,
    )
    init.add_argument("--desk-dir", type=Path, required=True)
    init.add_argument("--operator-id", help="generate a new operator key with this id")
    init.add_argument("--operator-key", type=Path, help="an existing operator key file")
    init.add_argument(
        "--operator-state",
        type=Path,
        help="the seq state directory that key signed from (its seq goes on from there)",
    )
    init.set_defaults(handler=run_init)

    adduser = actions.add_parser(
        "adduser",
        help="add a staff account, or change its password",
        description="Add a staff account to users.json (the password is asked twice, or read "
        "from standard input with --password-stdin); an existing user's password is changed.",
        formatter_class=fmt,
    )
    adduser.add_argument("--desk-dir", type=Path, required=True)
    adduser.add_argument("--username", required=True)
    adduser.add_argument("--password-stdin", action="store_true", help="read one line from stdin")
    adduser.set_defaults(handler=run_adduser)

    run = actions.add_parser(
        "run",
        help="serve the desk",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=fmt,
    )
    run.add_argument("--desk-dir", type=Path, required=True)
    way = run.add_mutually_exclusive_group(required=True)
    way.add_argument("--mqtt", help="mqtt[s]://OPERATOR@HOST[:PORT] (mqtts: TLS, port 8883)")
    way.add_argument(
        "--submit-url",
        metavar="URL",
        help="instead of --mqtt and --farm: the gateway of a log fed over HTTP (an "
        "operator-only log, or a farm's gateway run with --http-submit)",
    )
    add_tls_options(run)
    run.add_argument(
        "--mqtt-password-file",
        type=Path,
        metavar="FILE",
        help="read the operator's MQTT password from FILE (default: systemd's credential "
        "mqtt-password in $CREDENTIALS_DIRECTORY, if any); never put it in --mqtt",
    )
    run.add_argument("--farm", help="with --mqtt: the farm id (the MQTT topic level)")
    run.add_argument("--check-url", required=True, help="a gateway's or site's read API")
    run.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="the other logs whose entries the forms may name (a plant names a farm's bird), "
        "each pinned (docs/supply-chain.md section 4); references are made and checked "
        "against those logs before signing",
    )
    run.add_argument(
        "--fleet-url", help="the gateway whose fleet view /fleet shows (default: --check-url)"
    )
    run.add_argument(
        "--role",
        action="append",
        choices=sorted(ROLES),
        help="the operator's roles (default: read its registration in the log)",
    )
    run.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    run.add_argument("--port", type=int, default=8100, help="(default: %(default)s)")
    run.add_argument("--timezone", default="UTC", help="zone of typed-in times (%(default)s)")
    run.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a receipt")
    run.add_argument("--secure-cookie", action="store_true", help="session cookie over HTTPS only")
    add_server_options(run)
    run.set_defaults(handler=run_desk)


def run_init(args: argparse.Namespace) -> int:
    """Create the desk directory; print the operator's id and public key. Exit 2 on bad input."""
    try:
        key = init_desk_dir(
            args.desk_dir,
            operator_id=args.operator_id,
            operator_key=args.operator_key,
            operator_state=args.operator_state,
        )
    except (OSError, ValueError, FarmtraceError) as exc:
        return fail("desk init", exc)
    print(f"desk directory {args.desk_dir}")
    print(f"operator  {key.id}")
    print(f"pubkey    {key.public_key_b64}")
    print("next: have the farm's admin register this operator (farmtrace operator register),")
    print(
        f"      then add staff: farmtrace desk adduser --desk-dir {args.desk_dir} --username NAME"
    )
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def run_adduser(args: argparse.Namespace) -> int:
    """Add the user (or change its password). Exit 2 on a bad name, password or directory."""
    if not is_desk_dir(args.desk_dir):
        return fail(
            "desk adduser", f"{args.desk_dir} is not a desk directory (farmtrace desk init)"
        )
    try:
        new = add_user(args.desk_dir / USERS_FILE, args.username, _password(args))
    except (OSError, ValueError, EOFError, FarmtraceError) as exc:
        return fail("desk adduser", exc)
    print(f"{'added' if new else 'changed the password of'} {args.username}")
    return 0


def run_desk(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; exit 0 after a clean stop, 2 on bad input."""
    config = {
        "DESK_DIR": args.desk_dir,
        "MQTT_URL": args.mqtt,  # replaced below by the URL with the password from its file
        "FARM": args.farm,
        "SUBMIT_URL": args.submit_url,
        "CHECK_URL": args.check_url,
        "PINS": args.pins,
        "FLEET_URL": args.fleet_url,
        "ROLES": args.role,
        "RECEIPT_TIMEOUT": args.timeout,
        "TIMEZONE": args.timezone,
        "SESSION_COOKIE_SECURE": args.secure_cookie,
        "MQTT_CA_FILE": args.mqtt_ca_file,
        "MQTT_CERT_FILE": args.mqtt_cert_file,
        "MQTT_KEY_FILE": args.mqtt_key_file,
    }
    try:
        if args.mqtt is not None:
            config["MQTT_URL"] = broker_url_text(
                mqtt_url_with_secret(args.mqtt, args.mqtt_password_file)
            )
        elif args.farm is not None:
            raise ValueError("--farm goes with --mqtt, not --submit-url")
        settings = server_settings(args)
        app = create_app(config)
        check_staff(args.desk_dir)
    except (OSError, ValueError, FarmtraceError) as exc:
        return fail("desk run", exc)
    return serve(
        "desk run",
        app,
        args.host,
        args.port,
        lambda url: print(f"desk running: {url}/", flush=True),
        lambda: None,
        settings,
    )
