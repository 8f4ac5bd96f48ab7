"""``farmtrace deploy``: write one machine's systemd units and nginx server blocks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import consumer_web
from deployment import PARTS, Machine, write_bundle
from farmtrace._exits import fail

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
    parser.add_argument("--farm", default="farm1", help="the farm id (default: %(default)s)")
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


def run_deploy(args: argparse.Namespace) -> int:
    """Write the files and list them. Exit 2 on bad input or an unwritable directory."""
    try:
        machine = Machine(
            parts=tuple(dict.fromkeys(args.part)),
            farm=args.farm,
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
        )
        written = write_bundle(machine, args.out)
    except (OSError, ValueError) as exc:
        return fail("deploy", exc)
    for path in written:
        print(path)
    return 0
