"""``farmtrace gateway``: set up and run the edge gateway."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.keyfile import SignerKey, load_key, save_key
from gateway.datadir import DataDir
from gateway.init import init_data_dir

_INIT_HELP = """\
Create a new log in a data directory: the log's checkpoint key (keys/log.key),
the genesis trust root (trust.json) that auditors pin, and a LevelDB store
whose first block registers the genesis administrator. The administrator's key
is the one given with --admin-key, or a new one saved as keys/<admin-id>.key.
"""

_INIT_EXAMPLES = """\
examples:
  farmtrace gateway init --data-dir /var/lib/farmtrace --origin farm.example/log
  farmtrace gateway init --data-dir gw --origin farm.example/log --admin-key admin.key
"""


def add_parser(commands: Any) -> None:
    """Register the ``gateway`` subcommand group."""
    parser = commands.add_parser(
        "gateway",
        help="set up and run the edge gateway",
        description="The edge gateway verifies signed entries and commits them to the log.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create a new log (keys, trust root, genesis block)",
        description=_INIT_HELP,
        epilog=_INIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--data-dir", type=Path, required=True, help="directory to create it in")
    init.add_argument("--origin", required=True, help="the log's origin, e.g. farm.example/log")
    init.add_argument(
        "--admin-id", default="admin", help="genesis administrator id (default: admin)"
    )
    init.add_argument("--admin-key", type=Path, help="existing administrator key file to use")
    init.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace) -> int:
    """Create the log. Exit 2 if the directory already holds one or an input is bad."""
    data_dir = DataDir(args.data_dir)
    try:
        if args.admin_key is not None:
            admin = load_key(args.admin_key)
        else:
            admin = SignerKey.generate(args.admin_id)
        trust = init_data_dir(data_dir, args.origin, [admin], int(time.time() * 1000))
        if args.admin_key is None:
            save_key(admin, data_dir.signer_key(admin.id))
    except (FileExistsError, FarmtraceError, OSError) as exc:
        print(f"farmtrace gateway init: {exc}", file=sys.stderr)
        return 2
    print(f"created log {trust.origin} in {data_dir.root}")
    print(f"log verifier key  {trust.log_key}")
    print(f"trust root        {data_dir.trust}  (give this file to auditors)")
    if args.admin_key is None:
        print(f"admin key         {data_dir.signer_key(admin.id)}  (keep it offline)")
    return 0
