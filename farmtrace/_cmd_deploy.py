"""``farmtrace deploy``: write one machine's systemd units and nginx server blocks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import consumer_web
from chain.errors import FarmtraceError
from deployment import INSTALLED_PINS, PARTS, Machine, SubmitLimit, bundle_pins, write_bundle
from farmtrace._exits import fail
from readapi.crosslog import load_pins

__all__ = ["add_parser"]

_HELP = """\
Write the production files of the parts one machine runs (docs/deploy.md
walks a co-op through its three machines):

  DIR/systemd/farmtrace-PART.service   a unit per part: restarted on failure,
                                       its own user and state directory
                                       (/var/lib/farmtrace-PART), sandboxed
                                       (ProtectSystem=strict, NoNewPrivileges),
                                       MQTT passwords as systemd credentials
  DIR/nginx/farmtrace.conf             with --host: nginx in front (TLS,
                                       HTTP/2, gzip, a rate limit on the desk's
                                       log-in, unknown host names refused; the
                                       tiles host serves the tiles directory
                                       from disk with immutable caching)

The tiles part ('farmtrace tiles --follow 5') publishes the log from the
site's read API (else the gateway's) into /var/lib/farmtrace-tiles/www;
with both --host site=... and --host tiles=NAME the site's pages read their
proofs from https://NAME/ (unless --tiles-url says otherwise).

A party without devices (a hatchery, a plant, a distributor, a shop) runs
its own log with --operator-only: the gateway runs without --farm (no
Mosquitto, no MQTT), its staff's signed events arrive by POST
/api/v1/submit, which nginx passes to the gateway host rate-limited per
client address (--submit-rate, --submit-burst; over it a JSON 429 the
clients wait out), and a desk here sends there (desk run --submit-url).
--http-submit lets a farm's gateway take them over HTTP too.

With --pins FILE (docs/supply-chain.md section 4) the pins file and the
trust roots and witness policies it names are copied into DIR/pins/ (install
it as /etc/farmtrace/pins/): the gateway checks events' references against
it and a site here follows every log it names (site run --pins: each log
under /logs/<slug>/, the GS1 resolver at the root; docs/deploy-supply-chain.md).

Every service listens on 127.0.0.1 only; nginx is what the network sees.
Nothing is installed: copy the files as the docs say.
"""

_EXAMPLES = """\
examples:
  # the co-op server: site, desk, a witness and the log's tiles behind nginx
  farmtrace deploy --out coop --part site --part desk --part witness --part tiles \\
      --host site=trace.coop.example --host desk=desk.coop.example \\
      --host witness=witness.coop.example --host tiles=tiles.coop.example \\
      --tls-cert /etc/ssl/farmtrace/fullchain.pem --tls-key /etc/ssl/farmtrace/privkey.pem \\
      --public-url https://trace.coop.example --source https://gw.farm.example \\
      --farm farm1 --mqtt-host gw.farm.example --mqtt-port 8883 \\
      --mqtt-ca-file /etc/farmtrace/farm-ca.pem --mqtt-cert-file /etc/farmtrace/desk.pem \\
      --mqtt-key-file /etc/farmtrace/desk.key
  # the farm's edge box: broker, gateway (its read API for the co-op) and a device
  farmtrace deploy --out edge --part broker --part gateway --part device \\
      --host gateway=gw.farm.example --tls-cert ... --tls-key ... --farm farm1
  # a plant's own log and desk: no broker, events over HTTPS, references checked
  farmtrace deploy --out plant --operator-only --part gateway --part desk \\
      --host gateway=log.plant.example --host desk=desk.plant.example \\
      --tls-cert ... --tls-key ... --pins pins.json
  # a retailer's site following every party's log
  farmtrace deploy --out shop --part site --host site=trace.shop.example \\
      --tls-cert ... --tls-key ... --public-url https://trace.shop.example --pins pins.json
"""


def add_parser(commands: Any) -> None:
    """Register the ``deploy`` subcommand."""
    parser = commands.add_parser(
        "deploy",
        help="write systemd units and nginx (TLS) server blocks for one machine",
        description=_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="the directory to write")
    parser.add_argument(
        "--part", action="append", required=True, choices=PARTS, help="a part run here (repeat)"
    )
    parser.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="PART=NAME",
        help="serve a web part (site, desk, witness, gateway, tiles) via nginx as NAME (repeat)",
    )
    parser.add_argument("--tls-cert", type=Path, help="the certificate chain (PEM) nginx serves")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--farm", help="the farm id (default: farm1)")
    parser.add_argument(
        "--operator-only",
        action="store_true",
        help="this log has no devices (a hatchery's, a plant's, a shop's): no broker, the "
        "gateway takes signed events over HTTP only (no --farm)",
    )
    parser.add_argument(
        "--http-submit",
        action="store_true",
        help="a farm's gateway takes signed events over HTTP too (POST /api/v1/submit)",
    )
    parser.add_argument(
        "--submit-url",
        metavar="URL",
        help="the desk sends over HTTP to this gateway (default with --operator-only: the "
        "gateway on this machine)",
    )
    parser.add_argument(
        "--submit-rate",
        default="10r/s",
        metavar="RATE",
        help="nginx's limit on POST /api/v1/submit per client address, e.g. 10r/s or 120r/m "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--submit-burst",
        type=int,
        default=20,
        metavar="N",
        help="submissions above the rate answered at once before 429s (default: %(default)s)",
    )
    parser.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="the other logs (docs/supply-chain.md section 4): copied into DIR/pins/ with the "
        "files it names; the gateway checks references against it, the site follows them all",
    )
    parser.add_argument("--public-url", help="the site's origin on labels and in exports")
    parser.add_argument(
        "--source", action="append", default=[], metavar="URL", help="a read API the site follows"
    )
    parser.add_argument(
        "--tiles-url",
        metavar="URL",
        help="where 'farmtrace tiles' publishes the log: the site's pages read proofs there "
        "(default: https://NAME/ with --part tiles --host tiles=NAME)",
    )
    parser.add_argument(
        "--trust",
        type=Path,
        default=Path("/etc/farmtrace/trust.json"),
        help="the log's trust root, for the tiles part (default: %(default)s)",
    )
    parser.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="a read API the gateway's receipts and witness submissions wait for "
        "(repeatable; default: the site, when it runs on this machine; 'none': no mirror)",
    )
    parser.add_argument(
        "--mqtt-host",
        default="127.0.0.1",
        help="the broker, for the desk: off this machine it connects with TLS (mqtts://)",
    )
    parser.add_argument(
        "--mqtt-ca-file",
        type=Path,
        metavar="PEM",
        help="the CA of the broker's TLS certificate, for the desk (default: the system's)",
    )
    parser.add_argument(
        "--mqtt-cert-file", type=Path, metavar="PEM", help="the desk's client certificate"
    )
    parser.add_argument("--mqtt-key-file", type=Path, metavar="PEM", help="its key")
    parser.add_argument("--mqtt-port", type=int, default=1883, help="(default: %(default)s)")
    parser.add_argument("--desk-operator", default="desk", help="the desk's operator id")
    parser.add_argument(
        "--check-url",
        default="http://127.0.0.1:8080",
        help="the read API the desk checks events against (default: %(default)s)",
    )
    parser.add_argument(
        "--farmtrace",
        default="/opt/farmtrace/.venv/bin/farmtrace",
        help="the installed command (default: %(default)s)",
    )
    parser.add_argument(
        "--brotli",
        action="store_true",
        help="compress with brotli too (apt-get install libnginx-mod-http-brotli-filter)",
    )
    parser.set_defaults(handler=run_deploy)


def _hosts(pairs: list[str]) -> dict[str, str]:
    hosts = {}
    for pair in pairs:
        part, sep, name = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--host {pair!r}: expected PART=NAME")
        hosts[part] = name
    return hosts


def _farm(args: argparse.Namespace) -> str | None:
    if not args.operator_only:
        return args.farm or "farm1"
    if args.farm is not None:
        raise ValueError("--operator-only: a log without devices has no --farm")
    return None


def run_deploy(args: argparse.Namespace) -> int:
    """Write the files and list them. Exit 2 on bad input or an unwritable directory."""
    try:
        if args.pins is not None:
            load_pins(args.pins)  # refused here, not when the units start
        machine = Machine(
            parts=tuple(dict.fromkeys(args.part)),
            farm=_farm(args),
            hosts=_hosts(args.host),
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            public_url=args.public_url,
            tiles_url=args.tiles_url,
            trust=args.trust,
            mirrors=None if args.mirror is None else tuple(u for u in args.mirror if u != "none"),
            sources=tuple(args.source) or ("http://127.0.0.1:8080",),
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            mqtt_ca_file=args.mqtt_ca_file,
            mqtt_cert_file=args.mqtt_cert_file,
            mqtt_key_file=args.mqtt_key_file,
            desk_operator=args.desk_operator,
            check_url=args.check_url,
            farmtrace=args.farmtrace,
            static_root=Path(consumer_web.__file__).parent / "static",
            brotli=args.brotli,
            http_submit=args.http_submit,
            submit_url=args.submit_url,
            submit_limit=SubmitLimit(args.submit_rate, args.submit_burst),
            pins=None if args.pins is None else INSTALLED_PINS,
        )
        written = write_bundle(machine, args.out)
        if args.pins is not None:
            written += bundle_pins(args.pins, args.out / "pins")
    except (OSError, ValueError, FarmtraceError) as exc:
        return fail("deploy", exc)
    for path in written:
        print(path)
    return 0
