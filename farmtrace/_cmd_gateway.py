"""``farmtrace gateway``: set up and run the edge gateway."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.witness_policy import WitnessPolicy
from farmtrace._cmd_recovery import add_parsers as add_recovery_parsers
from farmtrace._events import now_ms
from farmtrace._exits import fail
from farmtrace._mqtt_tls_args import add_tls_options, with_tls_options
from farmtrace._serving import stop_on_signals
from gateway.admission import AdmissionPolicy
from gateway.datadir import DataDir
from gateway.fleet_state import FleetSettings
from gateway.launch import gateway_config, run_until
from gateway.mirror_gate import MirrorSettings
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway
from gateway.verify_workers import default_workers
from gateway.witness_admin import edit_witnesses, witness_lines
from gateway.witnessing import WitnessingConfig, add_witness, remove_witness, set_quorum
from provisioning.new_log import create_farm_log
from readapi.crosslog import load_pins
from signer.credentials import mqtt_url_with_secret

_INIT_HELP = """\
Create a new log in a data directory: the log's checkpoint key (keys/log.key),
the genesis trust root (trust.json) that auditors pin, and a LevelDB store
whose first block registers the genesis administrator. The administrator's key
is the one given with --admin-key, or a new one saved as keys/<admin-id>.key.
The administrator's seq state (its genesis registration is its seq 1) is
keys/<admin-id>.state: sign from there ('--operator-state'), or seqs clash.
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
    _add_run_parser(actions)
    _add_witness_parser(actions)
    add_recovery_parsers(actions)


_RUN_HELP = """\
Run the gateway: verify every signed entry, keep accepted entries durably,
close them into blocks (by count or time) and sign a checkpoint per block.
Serves the read API (design.md section 5) and Prometheus /metrics over HTTP.

Two modes:
  --farm FARM   a farm's log: subscribe to the farm's devices and operators on
                the MQTT broker and publish each signer's receipt there
                (with --http-submit, also take entries over HTTP, as below).
  no --farm     an operator-only log (a hatchery, a plant, a distributor, a
                shop: no devices): no MQTT at all; staff's signed events arrive
                by POST /api/v1/submit (one compact JWS, Content-Type
                application/jose; 'farmtrace event ... --submit-url URL' and
                'farmtrace desk run --submit-url URL' send them). The answer
                is 202 {"hash"} once the entry is durably accepted, or 4xx
                {"reason", "error"} when it is refused (counted by reason in
                /metrics); GET /api/v1/receipts/<hash> answers 200 {"hash",
                "index", "block", "size"} once a checkpointed block holds it.
The same rules judge every entry in both modes.

Every rejected message is counted by reason in /metrics and logged with the
device id. SIGTERM or Ctrl-C commits the open block and stops cleanly; after
any stop, even kill -9, a restart recovers from the data directory alone.

With witnesses configured ('farmtrace gateway witness --help'), the gateway
pushes each new checkpoint to them in the background and /checkpoint serves
the newest checkpoint that the quorum of them cosigned.

With --mirror URL (the consumer site, run with --stage-uncosigned; repeat for
more mirrors), nothing is only on this disk once a device deleted it or a
witness cosigned it: a checkpoint goes to the witnesses once a mirror holds
its blocks, and a device's receipt covers a block once a mirror serves a
checkpoint covering it that the witness quorum cosigned (a few seconds
later). A mirror that is down holds receipts back (the devices keep their
entries); farmtrace_mirror_* in /metrics count it. See
docs/backup-and-recovery.md.

With --pins FILE (docs/supply-chain.md section 4), events may reference
entries of the logs it pins: before an event with references is accepted,
each is checked against that log's current cosigned checkpoint, read from
its sources (5 s at most per event), and that log's cosigned checkpoint the
reference names is kept and served at
/api/v1/refs/<sha256(origin) hex>/checkpoints/<size>. A reference that does
not hold is refused with its reason (ref_unavailable: that log did not
answer; send the event again later), counted in farmtrace_entries_rejected_total.
Without --pins, every event with references is refused ref_unknown_log.
"""

_RUN_EXAMPLES = """\
examples:
  farmtrace gateway run --data-dir gw --farm demo
  farmtrace gateway run --data-dir gw --farm demo --mqtt mqtt://gateway@127.0.0.1:1883 \
      --mqtt-password-file /etc/farmtrace/gateway-mqtt-password
  farmtrace gateway run --data-dir gw --farm demo --http-port 8080 --block-interval-ms 2000
  farmtrace gateway run --data-dir gw --farm demo --mirror https://site.example
  farmtrace gateway run --data-dir plant --http-port 8083      (an operator-only log)
  farmtrace gateway run --data-dir plant --http-port 8083 --pins pins.json
then:
  curl http://127.0.0.1:8080/checkpoint
  curl http://127.0.0.1:8080/metrics
"""


def _add_run_parser(actions: Any) -> None:
    run = actions.add_parser(
        "run",
        help="run the gateway (MQTT ingest, blocks, checkpoints, HTTP read API)",
        description=_RUN_HELP,
        epilog=_RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--data-dir", type=Path, required=True, help="made by 'gateway init'")
    run.add_argument(
        "--farm",
        help="farm id: the second MQTT topic level (default: none, an operator-only log "
        "fed over HTTP, without MQTT)",
    )
    run.add_argument(
        "--http-submit",
        action="store_true",
        help="with --farm: take signed entries over HTTP too (POST /api/v1/submit)",
    )
    run.add_argument(
        "--mqtt",
        default="mqtt://127.0.0.1:1883",
        help="broker URL mqtt[s]://[user@]host[:port] (default: %(default)s; mqtts: TLS, for "
        "a broker on another machine); a password here shows in 'ps': use --mqtt-password-file",
    )
    add_tls_options(run)
    run.add_argument(
        "--mqtt-password-file",
        type=Path,
        metavar="FILE",
        help="read the MQTT password from FILE (default: systemd's credential mqtt-password "
        "in $CREDENTIALS_DIRECTORY, if any)",
    )
    run.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="the other logs events may reference, each pinned (docs/supply-chain.md; "
        "default: none, events with references are refused)",
    )
    run.add_argument("--http-host", default="127.0.0.1", help="(default: %(default)s)")
    run.add_argument("--http-port", type=int, default=8080, help="(default: %(default)s)")
    run.add_argument(
        "--block-entries",
        type=int,
        default=10_000,
        help="close a block at N entries (default: %(default)s)",
    )
    run.add_argument(
        "--block-interval-ms",
        type=int,
        default=1000,
        help="close a block this long after its first entry (default: %(default)s)",
    )
    run.add_argument(
        "--max-future-ms",
        type=int,
        default=AdmissionPolicy().max_future_ms,
        help="reject entries dated further ahead than this (default: %(default)s)",
    )
    run.add_argument(
        "--verify-workers",
        type=int,
        default=default_workers(),
        metavar="N",
        help="processes that check signatures beside the ingest thread; 0: none "
        "(default: one per core beyond the first, here %(default)s)",
    )
    run.add_argument(
        "--witness-timeout",
        type=float,
        default=WitnessingConfig().timeout_s,
        metavar="SECONDS",
        help="give up on a witness's answer after this long (default: %(default)s)",
    )
    run.add_argument(
        "--witness-max-backoff",
        type=float,
        default=WitnessingConfig().backoff_max_s,
        metavar="SECONDS",
        help="longest wait before retrying a failing witness (default: %(default)s)",
    )
    run.add_argument(
        "--silent-grace",
        dest="fleet_grace_s",
        type=float,
        default=FleetSettings().grace_ms / 1000,
        metavar="SECONDS",
        help="the fleet view flags a device silent after its reporting interval "
        "plus this long without a message (default: %(default)s)",
    )
    run.add_argument(
        "--default-interval",
        dest="fleet_interval_s",
        type=float,
        default=FleetSettings().default_interval_ms / 1000,
        metavar="SECONDS",
        help="a device's reporting interval until two readings show it (default: %(default)s)",
    )
    run.add_argument(
        "--mirror",
        dest="mirrors",
        action="append",
        default=[],
        metavar="URL",
        help="a read API mirroring this log (e.g. the site's https://site.example): "
        "receipts and witness submissions wait for it (repeatable; default: none)",
    )
    run.add_argument(
        "--mirror-poll",
        dest="mirror_poll_s",
        type=float,
        default=MirrorSettings().poll_s,
        metavar="SECONDS",
        help="ask each mirror this often while blocks wait for it (default: %(default)s)",
    )
    run.set_defaults(handler=run_gateway)


_WITNESS_HELP = """\
Witnesses (c2sp.org/tlog-witness) are independent servers, run by a co-op, a
retailer or a regulator, that cosign this log's checkpoints. Each one cosigns
a checkpoint only if it is consistent with every checkpoint of this log it
cosigned before, so a checkpoint cosigned by k of them shows that the log did
not fork, rewrite or roll back its history behind their backs: verifiers
that require k cosignatures cannot be shown two different histories unless k
witnesses collude.

The gateway pushes every new checkpoint to each witness (always the newest;
in the background, ingest never waits), adds their cosignatures to the stored
checkpoint, and serves at /checkpoint the newest checkpoint carrying at least
QUORUM of them (until the witnesses first catch up: the newest signed one).
Proofs default to that checkpoint. A witness that refuses the log's history
means this data directory was rolled back or forked: the gateway logs an
ERROR and counts it in farmtrace_witness_refusals_total.

The witnesses live in <data-dir>/witnesses.json (the same format verifiers
use, with each witness's URL). Restart the gateway after a change. Each
witness must follow this log: 'farmtrace witness add-log --trust trust.json'.
"""

_WITNESS_EXAMPLES = """\
examples:
  farmtrace gateway witness add --data-dir gw --url http://coop.example:7380 \\
      --vkey 'coop.example/witness+1a2b3c4d+BE...'
  farmtrace gateway witness add --data-dir gw --url http://retail.example:7380 \\
      --vkey 'retail.example/witness+5e6f7a8b+BA...'
  farmtrace gateway witness quorum --data-dir gw 2
  farmtrace gateway witness list --data-dir gw
  farmtrace gateway witness remove --data-dir gw --name coop.example/witness

A witness's verifier key is what 'farmtrace witness init' or 'show' printed.
"""


def _add_witness_parser(actions: Any) -> None:
    parser = actions.add_parser(
        "witness",
        help="configure the witnesses that cosign this log's checkpoints",
        description=_WITNESS_HELP,
        epilog=_WITNESS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    add = steps.add_parser(
        "add",
        help="add a witness (the first one sets the quorum to 1)",
        description="Add a witness: its verifier key and its submission URL.",
    )
    add.add_argument("--vkey", required=True, help="the witness's verifier key (type 0x04)")
    add.add_argument("--url", required=True, help="its submission prefix, e.g. http://host:7380")
    add.set_defaults(handler=run_witness_add)
    remove = steps.add_parser(
        "remove",
        help="remove a witness (the quorum is lowered if needed)",
        description="Remove a witness by name (the name part of its verifier key).",
    )
    remove.add_argument("--name", required=True, help="e.g. coop.example/witness")
    remove.set_defaults(handler=run_witness_remove)
    listing = steps.add_parser("list", help="show the witnesses and the quorum")
    listing.set_defaults(handler=run_witness_list)
    quorum = steps.add_parser(
        "quorum",
        help="set how many witnesses must cosign a checkpoint before it is served",
        description="Set the quorum: 0 serves every checkpoint at once, even uncosigned.",
    )
    quorum.add_argument("quorum", type=int, metavar="K", help="0..number of witnesses")
    quorum.set_defaults(handler=run_witness_quorum)
    for step in (add, remove, listing, quorum):
        step.add_argument("--data-dir", type=Path, required=True, help="made by 'gateway init'")


def _edit_witnesses(
    args: argparse.Namespace, edit: Callable[[WitnessPolicy | None], WitnessPolicy]
) -> int:
    data_dir = DataDir(args.data_dir)
    try:
        policy = edit_witnesses(data_dir, edit)
    except (FarmtraceError, OSError) as exc:
        return fail(f"gateway witness {args.step}", exc)
    print(f"{data_dir.witnesses}: {policy.describe()}; restart the gateway to apply")
    return 0


def run_witness_add(args: argparse.Namespace) -> int:
    """Add a witness. Exit 2 on a bad key or url, or a witness of that name already there."""
    return _edit_witnesses(args, lambda policy: add_witness(policy, args.vkey, args.url))


def run_witness_remove(args: argparse.Namespace) -> int:
    """Remove a witness by name. Exit 2 if there is none of that name."""
    return _edit_witnesses(args, lambda policy: remove_witness(policy, args.name))


def run_witness_quorum(args: argparse.Namespace) -> int:
    """Set the quorum. Exit 2 if it is not in 0..number of witnesses."""
    return _edit_witnesses(args, lambda policy: set_quorum(policy, args.quorum))


def run_witness_list(args: argparse.Namespace) -> int:
    """Print the quorum, then a line per witness: name, url, verifier key. Exit 2 if unreadable."""
    try:
        lines = witness_lines(DataDir(args.data_dir))
    except (FarmtraceError, OSError) as exc:
        return fail("gateway witness list", exc)
    print("\n".join(lines))
    return 0


_RUN_OPTIONS = ("http_host", "http_port", "block_entries", "block_interval_ms", "max_future_ms")
_FLEET_OPTIONS = ("fleet_grace_s", "fleet_interval_s", "mirrors", "mirror_poll_s")


def run_gateway(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT. Exit 0 after a clean stop, 1 if ingest failed, 2 on bad input."""
    try:
        if args.farm is None and args.http_submit:
            raise ValueError(
                "--http-submit is for a farm's gateway (--farm): without --farm, every "
                "entry comes over HTTP"
            )
        broker = MqttSettings()  # an operator-only log has no broker
        if args.farm is not None:
            url = with_tls_options(mqtt_url_with_secret(args.mqtt, args.mqtt_password_file), args)
            broker = MqttSettings(
                url.host,
                url.port,
                url.username,
                url.password,
                verify_workers=args.verify_workers,
                tls=url.tls,
                ca_file=url.ca_file,
                cert_file=url.cert_file,
                key_file=url.key_file,
            )
        config = gateway_config(
            DataDir(args.data_dir),
            args.farm,
            broker,
            **{name: getattr(args, name) for name in _RUN_OPTIONS},
            witness_timeout=args.witness_timeout,
            witness_max_backoff=args.witness_max_backoff,
            **{name: getattr(args, name) for name in _FLEET_OPTIONS},
            pins=None if args.pins is None else load_pins(args.pins),
            http_submit=args.http_submit,
        )
        gateway = Gateway(config)
        gateway.start()
    except (FarmtraceError, OSError, ValueError) as exc:
        return fail("gateway run", exc)
    stopping = threading.Event()
    stop_on_signals(stopping)
    print(f"gateway running: http://{args.http_host}:{gateway.http_port}/checkpoint", flush=True)
    return 0 if run_until(gateway, stopping) else 1


def run_init(args: argparse.Namespace) -> int:
    """Create the log. Exit 2 if the directory already holds one or an input is bad."""
    data_dir = DataDir(args.data_dir)
    try:
        created = create_farm_log(
            data_dir,
            args.origin,
            now_ms=now_ms(),
            admin_id=args.admin_id,
            admin_key=args.admin_key,
        )
    except (FileExistsError, FarmtraceError, OSError) as exc:
        return fail("gateway init", exc)
    print(f"created log {created.trust.origin} in {data_dir.root}")
    print(f"log verifier key  {created.trust.log_key}")
    print(f"trust root        {data_dir.trust}  (give this file to auditors)")
    if created.admin_key_file is not None:
        print(f"admin key         {created.admin_key_file}  (keep it offline)")
    print(f"admin seq state   {created.admin_state}  (sign as the admin from here only)")
    return 0
