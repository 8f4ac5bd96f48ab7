"""``farmtrace gateway backup`` and ``gateway recover``: keep a log through a lost disk."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError, VerificationError
from farmtrace._events import now_ms
from farmtrace._exits import fail
from gateway.admin_socket import back_up
from gateway.datadir import DataDir
from gateway.recover import recover_from_url
from verify.inputs import load_trust_root, load_witness_policy

__all__ = ["add_parsers"]

_BACKUP_HELP = """\
Copy the gateway's store, as of one moment, with trust.json and witnesses.json
into a new directory. A running gateway makes the copy itself (it holds the
store; the command asks it through <data-dir>/admin.sock), from a LevelDB
snapshot, while it goes on ingesting; a stopped one is copied directly.

The log's key (keys/log.key) is left out unless --include-keys: whoever
holds it can sign any history, so keep it with your secrets, apart from the
backups. A backup is a fast starting point, never a thing to run on as it
is once the log has moved on: the witnesses have cosigned the newer tree
and refuse a gateway that signs another one. Restore with 'gateway recover
--backup', which continues it from a verified replica first.
"""

_BACKUP_EXAMPLES = """\
examples:
  farmtrace gateway backup --data-dir /var/lib/farmtrace --out /backups/gw-$(date +%F)
  farmtrace gateway backup --data-dir gw --out gw-backup --include-keys
"""

_RECOVER_HELP = """\
Rebuild a gateway's data directory from a verified replica of its log (the
consumer site, or another mirror) after the gateway's disk was lost. Every
block is verified against the trust root (inclusion in the source's
checkpoint, links, entries, signatures, authority); the checkpoint must be
cosigned by the quorum of --witnesses, and every witness that answers must
have cosigned no bigger tree than the copy holds (else a gateway on it would
fork the log: the command fails and says which mirror size is needed).

The new directory holds the replica's blocks exactly, the cosigned checkpoint
as its head, nothing pending, trust.json, witnesses.json and the log key
(from --log-key: the copy you keep apart from the gateway). Start the gateway
on it: the devices send again whatever they hold without a receipt, and the
witnesses cosign the next checkpoint because it extends the last one.
"""

_RECOVER_EXAMPLES = """\
examples:
  farmtrace gateway recover --from https://farm.example --trust trust.json \\
      --witnesses witnesses.json --log-key /secrets/log.key --data-dir /var/lib/farmtrace
  farmtrace gateway recover --from http://mirror:8080 --backup /backups/gw-2026-12-01 \\
      --trust trust.json --witnesses witnesses.json --log-key log.key --data-dir gw
"""


def add_parsers(actions: Any) -> None:
    """Register ``backup`` and ``recover`` under ``farmtrace gateway``."""
    fmt = argparse.RawDescriptionHelpFormatter
    backup = actions.add_parser(
        "backup",
        help="copy the store (consistent while running) and the log's files",
        description=_BACKUP_HELP,
        epilog=_BACKUP_EXAMPLES,
        formatter_class=fmt,
    )
    backup.add_argument("--data-dir", type=Path, required=True, help="the gateway's directory")
    backup.add_argument("--out", type=Path, required=True, help="a new directory for the backup")
    backup.add_argument(
        "--include-keys", action="store_true", help="copy keys/ too (the log's signing key!)"
    )
    backup.set_defaults(handler=run_backup)
    recover = actions.add_parser(
        "recover",
        help="rebuild a lost data directory from a verified replica",
        description=_RECOVER_HELP,
        epilog=_RECOVER_EXAMPLES,
        formatter_class=fmt,
    )
    recover.add_argument("--from", dest="source", required=True, help="a read API base URL")
    recover.add_argument("--trust", type=Path, required=True, help="the log's pinned trust.json")
    recover.add_argument(
        "--witnesses", type=Path, required=True, help="witnesses.json (keys, URLs, quorum)"
    )
    recover.add_argument("--log-key", type=Path, required=True, help="the log's key file")
    recover.add_argument("--data-dir", type=Path, required=True, help="the new data directory")
    recover.add_argument("--backup", type=Path, help="a backup directory to start from")
    recover.set_defaults(handler=run_recover)


def run_backup(args: argparse.Namespace) -> int:
    """Write the backup. Exit 2 if it cannot be made (``--out`` exists, store unreadable)."""
    try:
        manifest = back_up(
            DataDir(args.data_dir),
            args.out,
            include_keys=args.include_keys,
            now_ms=now_ms(),
        )
    except (FarmtraceError, OSError) as exc:
        return fail("gateway backup", exc)
    print(f"backup {args.out}: {manifest.describe()}")
    return 0


def run_recover(args: argparse.Namespace) -> int:
    """Recover. Exit 1 if something fails verification (fork, quorum, block), else 2 on error."""
    try:
        recovery = recover_from_url(
            args.source,
            load_trust_root(args.trust),
            load_witness_policy(args.witnesses),
            DataDir(args.data_dir),
            log_key_file=args.log_key,
            backup=args.backup,
        )
    except (FarmtraceError, OSError) as exc:
        return fail("gateway recover", exc, 1 if isinstance(exc, VerificationError) else 2)
    print("\n".join(recovery.lines()))
    print(f"start the gateway: farmtrace gateway run --data-dir {args.data_dir} ...")
    return 0
