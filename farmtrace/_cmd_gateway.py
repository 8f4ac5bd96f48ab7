"""``farmtrace gateway``: set up and run the edge gateway."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from chain.keyfile import SignerKey, load_key, save_key
from firmware_sim.identity import DeviceIdentity
from firmware_sim.mqtt_url import parse_mqtt_url
from gateway.admission import AdmissionPolicy
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.init import init_data_dir
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig

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


_RUN_HELP = """\
Run the gateway: subscribe to the farm's devices on the MQTT broker, verify
every signed entry, keep accepted entries durably, close them into blocks (by
count or time), sign a checkpoint per block and publish each device's receipt.
Serves the read API (design.md section 5) and Prometheus /metrics over HTTP.

Every rejected message is counted by reason in /metrics and logged with the
device id. SIGTERM or Ctrl-C commits the open block and stops cleanly; after
any stop, even kill -9, a restart recovers from the data directory alone.
"""

_RUN_EXAMPLES = """\
examples:
  farmtrace gateway run --data-dir gw --farm demo
  farmtrace gateway run --data-dir gw --farm demo --mqtt mqtt://gateway:SECRET@127.0.0.1:1883
  farmtrace gateway run --data-dir gw --farm demo --http-port 8080 --block-interval-ms 2000
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
    run.add_argument("--farm", required=True, help="farm id: the second MQTT topic level")
    run.add_argument(
        "--mqtt",
        default="mqtt://127.0.0.1:1883",
        help="broker URL mqtt://[user[:password]@]host[:port] (default: %(default)s)",
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
    run.set_defaults(handler=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT. Exit 0 after a clean stop, 1 if ingest failed, 2 on bad input."""
    try:
        broker = parse_mqtt_url(args.mqtt)
        config = GatewayConfig(
            data_dir=DataDir(args.data_dir),
            farm=args.farm,
            mqtt=MqttSettings(
                host=broker.host,
                port=broker.port,
                username=broker.username,
                password=broker.password,
                client_id=f"farmtrace-gateway-{args.farm}",
            ),
            ingest=IngestConfig(
                max_block_entries=args.block_entries,
                block_interval_ms=args.block_interval_ms,
                policy=AdmissionPolicy(max_future_ms=args.max_future_ms),
            ),
            http_host=args.http_host,
            http_port=args.http_port,
        )
        gateway = Gateway(config)
        gateway.start()
    except (FarmtraceError, OSError, ValueError) as exc:
        print(f"farmtrace gateway run: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"gateway running: http://{args.http_host}:{gateway.http_port}/checkpoint", flush=True)
    while not stopping.wait(0.5) and gateway.running:
        pass
    gateway.stop()
    return 1 if gateway.error is not None else 0


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
        state_dir = data_dir.keys / f"{admin.id}.state"
        with DeviceIdentity.create(state_dir, admin) as identity:
            identity.next_seq()  # seq 1 is the genesis registration in block 0
    except (FileExistsError, FarmtraceError, OSError) as exc:
        print(f"farmtrace gateway init: {exc}", file=sys.stderr)
        return 2
    print(f"created log {trust.origin} in {data_dir.root}")
    print(f"log verifier key  {trust.log_key}")
    print(f"trust root        {data_dir.trust}  (give this file to auditors)")
    if args.admin_key is None:
        print(f"admin key         {data_dir.signer_key(admin.id)}  (keep it offline)")
    print(f"admin seq state   {state_dir}  (sign as the admin from here only)")
    return 0
