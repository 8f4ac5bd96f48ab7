"""``farmtrace keygen``: make a signer key for a device or operator, or a log key."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chain import note
from chain.errors import FarmtraceError
from chain.keyfile import SignerKey, save_key, save_log_key
from farmtrace._exits import fail

_HELP = """\
Make a new private key and print its public half.

A device or operator key (--id) is an Ed25519 key file (JSON, mode 0600): the
device signs every reading with it, an operator every event. Give the printed
public key to the farm administrator, who registers it in the log.

A log key (--log ORIGIN) is a C2SP signed-note signer key, with which a
gateway signs its checkpoints; auditors pin the printed verifier key.
"""

_EXAMPLES = """\
examples:
  farmtrace keygen --id barn1-temp                  writes barn1-temp.key
  farmtrace keygen --id vet-anna --out keys/vet-anna.key
  farmtrace keygen --log farm.example/log --out log.key
"""


def add_parser(commands: Any) -> None:
    """Register the ``keygen`` subcommand."""
    parser = commands.add_parser(
        "keygen",
        help="make a device, operator or log key",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--id", help="device or operator id, e.g. barn1-temp")
    who.add_argument("--log", metavar="ORIGIN", help="log origin, e.g. farm.example/log")
    parser.add_argument("--out", type=Path, help="key file to write (default: <id>.key)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing key file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the key file; print the public key. Exit 2 on a bad id or existing file."""
    try:
        if args.id is not None:
            key = SignerKey.generate(args.id)
            out = args.out or Path(f"{args.id}.key")
            save_key(key, out, overwrite=args.force)
            print(f"wrote {out} (mode 0600)")
            print(f"id      {key.id}")
            print(f"pubkey  {key.public_key_b64}")
            return 0
        signer, verifier = note.generate_key(args.log)
        out = args.out or Path("log.key")
        save_log_key(signer, out, overwrite=args.force)
        print(f"wrote {out} (mode 0600)")
        print(f"verifier key  {verifier}")
        return 0
    except FileExistsError as exc:
        return fail("keygen", f"{exc.filename} exists (use --force to replace it)")
    except FarmtraceError as exc:
        return fail("keygen", exc)
