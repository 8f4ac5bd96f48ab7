"""``farmtrace site``: set up and run the consumer site (a verified replica with pages)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from chain.epcis import validate_base_url
from chain.errors import FarmtraceError
from consumer_web import (
    POLICY_FILE,
    FederationSettings,
    SiteConfig,
    create_app,
    create_federated_site,
)
from consumer_web.setup import TRUST_FILE, init_site_dir
from farmtrace._exits import fail
from farmtrace._serving import add_server_options, serve, server_settings
from readapi.crosslog import load_pins

__all__ = ["add_parser"]

_logger = logging.getLogger(__name__)

_INIT_HELP = """\
Create a site directory that pins a log's trust root. The trust root
(trust.json, made by 'gateway init') names the log's origin, its checkpoint
key and its genesis administrators: the site verifies everything it copies
against it, so get it from the farm out of band, not from the gateway you
follow.

--witnesses FILE copies a witness policy into the site directory as
witnesses.json: which independent witnesses (C2SP tlog-witness verifier
keys) the site trusts, and how many of them must cosign a checkpoint before
the site shows anything it covers:

  {"quorum": 2,
   "witnesses": [{"vkey": "coop.example/witness+1a2b3c4d+BE..."},
                 {"vkey": "retail.example/witness+5e6f7a8b+BA..."},
                 {"vkey": "ngo.example/witness+9c0d1e2f+BC..."}]}

Get each witness's key from its operator ('farmtrace witness init' prints
it), not from the farm: the point of a witness is that the farm does not
control it. Without witnesses.json the site takes checkpoints signed by the
farm's key alone.
"""

_RUN_HELP = """\
Run the consumer site: follow one or more gateways' read API (design.md
section 5) into a local LevelDB replica, verifying every checkpoint
signature, consistency proof, block link, entries root and entry signature
before storing anything, and serve

  /01/<GTIN-14>/21/<serial>   a pack's page (the GS1 Digital Link in its QR code)
  /01/<GTIN-14>/10/<lot>      a lot's page
  /bird/<id>                  a bird's lifecycle: timeline, barn charts, proofs
  /batch/<block hash>         a batch and its verification
  /checkpoint, /api/v1/...    the same read API as the gateway, from the replica
  /metrics                    Prometheus metrics (sync results, conflicts)

If every source is down the site keeps serving what it verified, marked "as
of" the last confirmation. A source that shows a history inconsistent with
the one accepted (a fork or a rollback) is refused and the conflict is shown
on every page and counted in /metrics.

When the site directory holds witnesses.json (see 'site init --witnesses'),
a checkpoint newer than the site's is taken only once at least "quorum" of
those witnesses cosigned it. Until then the site keeps showing its older
data, with a notice that the newest data is waiting for witness
cosignatures (counted in /metrics as replica_sync_total{result=
"witness_quorum"}); a fork is still recognised and recorded even when the
forked checkpoint has no cosignature. Each page's verification panel lists
the witnesses and when each cosigned. Edit witnesses.json, then restart
the site, to change the policy.

With --tiles-url (the prefix 'farmtrace tiles' publishes to, served by a
static server or CDN; docs/tiles.md), shoppers' browsers read the proofs
they check (checkpoint, hash tiles, blocks) from there instead of from this
site; the site's Content-Security-Policy allows that origin. The log's keys
and the signers' registration lists still come from the site.
"""

_PINS_HELP = """\

With --pins FILE the site follows every log the pins file names (each
party's origin, name, role, trust.json, witnesses.json, read API sources
and GS1 company prefixes; docs/supply-chain.md section 4) instead of one:
one verified replica per log in SITE_DIR/logs/<slug>/, each log's pages and
read API under /logs/<slug>/, the list of followed logs at /, and the GS1
resolver at the root: /01/<GTIN-14>/21/<serial> goes to the party whose
company prefix the GTIN carries, whose pack page stitches the story across
the logs its events reference, each part checked against its own log's
pinned key and witnesses (docs/federated-site.md).
"""

_EXAMPLES = """\
examples:
  farmtrace site init --site-dir site --trust gw/trust.json
  farmtrace site init --site-dir site --trust gw/trust.json --witnesses witnesses.json
  farmtrace site run --site-dir site --source http://127.0.0.1:8080 --port 8000
  farmtrace site run --site-dir site --source http://gw1:8080 --source http://gw2:8080 \\
      --public-url https://trace.example.com
  farmtrace site run --site-dir site --source http://127.0.0.1:8080 \
      --tiles-url https://cdn.example.com/farm
  farmtrace site run --site-dir site --pins pins.json --public-url https://shop.example
"""


def add_parser(commands: Any) -> None:
    """Register the ``site`` subcommand group."""
    parser = commands.add_parser(
        "site",
        help="set up and run the consumer site",
        description="The consumer site: a verified replica of the log, with pages for shoppers.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        help="create a site directory pinning a log's trust root",
        description=_INIT_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--site-dir", type=Path, required=True, help="directory to create")
    init.add_argument("--trust", type=Path, required=True, help="the log's trust.json")
    init.add_argument(
        "--witnesses",
        type=Path,
        metavar="FILE",
        help="a witness policy (k of n witnesses' keys) to copy in as witnesses.json",
    )
    init.set_defaults(handler=run_init)

    run = actions.add_parser(
        "run",
        help="follow gateways and serve the consumer pages",
        description=_RUN_HELP + _PINS_HELP,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--site-dir", type=Path, required=True, help="made by 'site init'")
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="URL",
        help="a gateway's (or another site's) base URL, or tiles+https://HOST/PREFIX for "
        "tlog-tiles files (farmtrace tiles); repeat for several",
    )
    run.add_argument(
        "--pins",
        type=Path,
        metavar="FILE",
        help="follow every log this pins file names (instead of --source): one replica each, "
        "each log under /logs/<slug>/, the GS1 resolver at the root",
    )
    run.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    run.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    run.add_argument(
        "--public-url",
        help="the site's public origin, e.g. https://trace.example.com: QR codes, labels and "
        "EPCIS identifiers use it, never a request's Host header (default: the address "
        "the site listens on, fit for development only)",
    )
    run.add_argument(
        "--tiles-url",
        metavar="URL",
        help="a tlog-tiles prefix of this log, e.g. https://cdn.example.com/farm: the pages' "
        "verifier reads its proofs there (farmtrace tiles, docs/tiles.md)",
    )
    add_server_options(run)
    run.add_argument(
        "--sync-interval",
        type=float,
        default=5.0,
        help="seconds between sync rounds (default: %(default)s)",
    )
    run.add_argument(
        "--stage-uncosigned",
        action="store_true",
        help="also copy the gateway's blocks beyond its cosigned checkpoint (verified, never "
        "shown): needed by a gateway run with --mirror pointing at this site",
    )
    run.add_argument(
        "--farm-tz",
        default="UTC",
        metavar="ZONE",
        help="the farm's IANA time zone, e.g. Europe/Amsterdam; pages show times in it "
        "(default: %(default)s)",
    )
    run.set_defaults(handler=run_site)


def run_init(args: argparse.Namespace) -> int:
    """Create the site directory. Exit 2 if it already pins a trust root or an input is bad."""
    try:
        policy = init_site_dir(args.site_dir, args.trust, args.witnesses)
    except (FarmtraceError, OSError) as exc:
        return fail("site init", exc)
    print(f"site directory {args.site_dir} pins {args.site_dir / TRUST_FILE}")
    if policy is not None:
        print(f"it requires {policy.describe()} to cosign ({args.site_dir / POLICY_FILE})")
    return 0


def run_site(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; exit 0 after a clean stop, 2 on bad input."""
    if args.pins is not None:
        return run_federated_site(args)
    config = SiteConfig(
        site_dir=args.site_dir,
        sources=tuple(args.source),
        sync_interval=args.sync_interval,
        public_url=args.public_url,
        farm_tz=args.farm_tz,
        tiles_url=args.tiles_url,
        stage_uncosigned=args.stage_uncosigned,
    )
    try:
        if args.public_url is not None:
            validate_base_url(args.public_url)
        settings = server_settings(args)
        app = create_app(config)
    except (FarmtraceError, OSError, ValueError) as exc:
        return fail("site run", exc)
    site = app.extensions["farmtrace_site"]
    _logger.info("witness policy: %s", site.policy.describe())

    def listening(url: str) -> None:
        if args.public_url is None:
            app.config["PUBLIC_URL"] = url
            _logger.warning("no --public-url: QR codes and exports name %s", url)
        print(f"site running: {url}/", flush=True)

    return serve("site run", app, args.host, args.port, listening, site.close, settings)


def run_federated_site(args: argparse.Namespace) -> int:
    """``site run --pins``: follow every pinned log; exit as :func:`run_site`."""
    if args.source or args.tiles_url or args.stage_uncosigned:
        return fail(
            "site run",
            ValueError(
                "--pins names each log's sources: leave out --source, --tiles-url "
                "and --stage-uncosigned"
            ),
        )
    settings = FederationSettings(
        public_url=args.public_url, sync_interval=args.sync_interval, farm_tz=args.farm_tz
    )
    try:
        if args.public_url is not None:
            validate_base_url(args.public_url)
        server = server_settings(args)
        site = create_federated_site(load_pins(args.pins), args.site_dir, settings)
    except (FarmtraceError, OSError, ValueError) as exc:
        return fail("site run", exc)
    for followed in site.federation.logs.values():
        party = followed.party
        _logger.info(
            "following %s (%s) under /logs/%s/, witness policy: %s",
            party.origin,
            party.name,
            party.slug,
            party.pin.policy.describe(),
        )

    def listening(url: str) -> None:
        if args.public_url is None:
            for app in site.apps.values():
                app.config["PUBLIC_URL"] = url
            _logger.warning("no --public-url: QR codes and exports name %s", url)
        print(f"site running: {url}/ following {len(site.apps)} logs", flush=True)

    return serve("site run", site, args.host, args.port, listening, site.close, server)
