"""``farmtrace demo``: a live demo farm (Mosquitto, the gateway, the site, simulated devices)."""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError
from demo.live import DemoPorts, LiveDemo
from demo.supply_chain import ChainPorts, SupplyChainDemo
from farmtrace._exits import fail
from gateway.mosquitto import MosquittoError

_HELP = """\
Run a live demo farm on this machine: a Mosquitto broker (started for you,
with a login per device in its dynamic security plugin), the gateway, and a simulated
farm of 2 barns (temperature, humidity, feeder and water meter each: 8
environment sensors) and 100 tagged birds (activity and weight), every
device with its own Ed25519 key, seq counter and durable outbox.

Six operators (hatchery, farm manager, vet, processing plant, distributor,
shop), each with their own key, sign the birds' lifecycle events: hatched,
vaccinated, placed, inspected, moved, one bird treated with an antibiotic
(its withdrawal period over before slaughter), and for a few birds
slaughtered, packed (GTIN + serial, or a lot; a product name and a
best-before date), shipped and received; one pack is recalled.

On the first run the devices backfill six weeks of history (as if they had
been offline) and then stream live; the gateway verifies every entry,
commits blocks, signs checkpoints and sends receipts. Two witnesses (a
co-op's and a retailer's, each its own process with its own key) cosign
every checkpoint; the gateway publishes a checkpoint once both have. The
consumer site follows the gateway into its own verified replica, accepting
only checkpoints both witnesses cosigned; the demo prints a pack's page
(the URL its QR code holds) and the QR code itself. Later runs continue
from where the last one stopped. Ctrl-C stops everything cleanly.
While it runs, `farmtrace device add`, `replace` and `retire` change its
devices from a second terminal (docs/operators.md). The operators' desk
(`farmtrace desk run`) serves the farm office's staff; the demo prints its
staff log-in file and the exact `farmtrace operator add` and `retire`
commands that add a vet to the running desk and take them off again.

With --chain (what `make demo` runs) the demo is a supply chain instead:
six parties, each keeping its own log with its own key. Two farms (Green
Valley and Hillside, each the farm above with 50 tagged birds, its own
Mosquitto and its own gateway), and a hatchery, a processing plant, a distributor and a shop,
whose operator-only logs take their staff's signed events over HTTP. Events
name what another party recorded by cross-log reference (the farm's
placed names the hatchery's hatched, the plant's slaughtered the farm's
placing, the distributor's and the shop's received the previous hop's
shipped), each checked against the other log before it is accepted. Both
farms have a bird 0001: the plant tells them apart by log. Two witnesses
watch all six logs; the consumer site follows all six, resolves a pack's
QR code to the plant (by GS1 company prefix) and stitches its story across
the logs (docs/supply-chain.md).
"""

_EXAMPLES = """\
examples:
  farmtrace demo                                   everything in ./demo-data
  farmtrace demo --data-dir /tmp/farm --mqtt-port 1884 --gateway-port 8081
  farmtrace demo --fresh                           start over with a new farm
  farmtrace demo --chain --data-dir demo-chain     the six-party supply chain
then, in another terminal:
  open http://127.0.0.1:8000/01/09506000134352/21/S0001   (the printed pack page)
  curl http://127.0.0.1:8080/checkpoint            (signed by the log, cosigned by both)
  curl http://127.0.0.1:7381/                      (the co-op's witness: what it cosigned)
  farmtrace audit --url http://127.0.0.1:8080 --trust demo-data/gateway/trust.json \
      --witnesses demo-data/gateway/witnesses.json
  farmtrace audit --data-dir demo-data/gateway     (after stopping the demo)
"""


def add_parser(commands: Any) -> None:
    """Register the ``demo`` subcommand."""
    parser = commands.add_parser(
        "demo",
        help="run a live demo farm: broker, gateway, consumer site and simulated devices",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("demo-data"), help="(default: demo-data)"
    )
    parser.add_argument("--mqtt-port", type=int, default=1883, help="(default: %(default)s)")
    parser.add_argument("--gateway-port", type=int, default=8080, help="(default: %(default)s)")
    parser.add_argument(
        "--web-port", type=int, default=8000, help="consumer site port (default: %(default)s)"
    )
    parser.add_argument(
        "--desk-port", type=int, default=8001, help="operators' desk port (default: %(default)s)"
    )
    parser.add_argument(
        "--witness-ports",
        type=_two_ports,
        default=(7381, 7382),
        metavar="P1,P2",
        help="the co-op's and the retailer's witness ports (default: 7381,7382)",
    )
    parser.add_argument(
        "--days", type=int, default=42, help="days of history on a new farm, >= 3 (default: 42)"
    )
    parser.add_argument("--fresh", action="store_true", help="delete DATA_DIR first if it exists")
    chain = parser.add_argument_group(
        "the supply chain (--chain)",
        "six parties, each its own log: two farms (each its own broker and gateway), a "
        "hatchery, a plant, a distributor and a shop; two witnesses watch all six and the "
        "consumer site follows all six (docs/supply-chain.md)",
    )
    chain.add_argument(
        "--chain", action="store_true", help="run the six-party supply chain, not one farm"
    )
    chain.add_argument(
        "--gateway-ports",
        type=_ports(6),
        metavar="P1,...,P6",
        help="the six logs' read API ports: farm A, farm B, hatchery, plant, distributor, "
        "shop (default: GATEWAY_PORT and the five after it)",
    )
    chain.add_argument(
        "--mqtt-ports",
        type=_ports(2),
        metavar="P1,P2",
        help="the two farms' Mosquitto ports (default: MQTT_PORT and the one after it)",
    )
    parser.set_defaults(handler=run)


def _ports(count: int) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        try:
            ports = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {count} ports like 8080,8081: {text!r}"
            ) from None
        if len(ports) != count or len(set(ports)) != count or not all(0 < p < 65536 for p in ports):
            raise argparse.ArgumentTypeError(
                f"expected {count} distinct ports in 1..65535: {text!r}"
            )
        return ports

    return parse


def _two_ports(text: str) -> tuple[int, int]:
    try:
        first, second = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two ports like 7381,7382: {text!r}") from None
    if not (0 < first < 65536 and 0 < second < 65536) or first == second:
        raise argparse.ArgumentTypeError(f"expected two distinct ports in 1..65535: {text!r}")
    return first, second


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or SIGTERM. Exit 0 after a clean stop, 2 if something cannot start."""
    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    if args.chain:
        return _run_chain(args)
    demo = LiveDemo(
        args.data_dir,
        DemoPorts(
            args.mqtt_port, args.gateway_port, args.web_port, args.witness_ports, args.desk_port
        ),
        history_days=args.days,
    )  # fmt: skip
    try:
        if demo.set_up():
            print(f"created a new demo farm in {args.data_dir} ({args.days} days of history)")
    except (ValueError, OSError) as exc:
        return fail("demo", exc)
    stopping = threading.Event()

    def on_signal(*_: object) -> None:
        stopping.set()
        demo.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        demo.run()
    except (MosquittoError, RuntimeError, OSError) as exc:
        return fail("demo", exc)
    print("demo stopped cleanly")
    return 0


def _run_chain(args: argparse.Namespace) -> int:
    """``demo --chain``: the six-party supply chain; exits as :func:`run`."""
    try:
        ports = ChainPorts(
            web=args.web_port,
            gateways=args.gateway_ports or tuple(args.gateway_port + i for i in range(6)),
            mqtt=args.mqtt_ports or (args.mqtt_port, args.mqtt_port + 1),
            witnesses=args.witness_ports,
        )
        demo = SupplyChainDemo(args.data_dir, ports, history_days=args.days)
        if demo.set_up():
            print(f"created a new supply chain in {args.data_dir} ({args.days} days of history)")
    except (FarmtraceError, ValueError, OSError) as exc:
        return fail("demo", exc)

    def on_signal(*_: object) -> None:
        demo.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        demo.run()
    except (FarmtraceError, MosquittoError, RuntimeError, OSError) as exc:
        return fail("demo", exc)
    print("demo stopped cleanly")
    return 0
