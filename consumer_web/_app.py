"""The application factory: configuration, the site's data, blueprints, headers, errors.

Configuration keys (defaults in :data:`DEFAULTS`)::

    SITE_DIR            the site's data directory (replica/, trust.json, replica-state.json,
                        and optionally witnesses.json: the witness policy, see below)
    SOURCES             read API base URLs of the gateways (or replicas) to follow
    SYNC_INTERVAL       seconds between sync rounds
    SYNC_IN_BACKGROUND  run the sync rounds in a background thread
    PUBLIC_URL          origin of QR codes and EPCIS identifiers (default: http://localhost;
                        never the request's Host header)
    WITNESSES           C2SP verifier keys of the witnesses whose cosignatures count
    WITNESS_QUORUM      how many of WITNESSES must cosign a checkpoint before the replica
                        takes it (default 0: shown, not required)
    WITNESS_POLICY      a chain.witness_policy.WitnessPolicy, instead of the two above
    CACHE_READINGS      readings the lifecycle cache may hold in memory
    WARM_CACHE          load barns' and birds' readings into that cache in the background
                        at start (and every SYNC_INTERVAL), so that first views are fast
    FARM_TZ             the farm's IANA time zone (default UTC): pages show times in it
                        (see :mod:`consumer_web._localtime`)
    SITE_DATA           an object shaped like :class:`consumer_web.SiteData` to serve
                        instead of opening a replica in SITE_DIR (tests, tools)
    STAGE_UNCOSIGNED    also copy a gateway's blocks beyond the cosigned checkpoint, for a
                        gateway that waits for this mirror (``gateway run --mirror``)
    TILES_URL           a C2SP tlog-tiles prefix of this log (https://cdn.example/farm,
                        docs/tiles.md): the pages' verifier reads its proofs there, and the
                        Content-Security-Policy's connect-src allows that origin
                        (see :mod:`consumer_web._tiles_base`)

The witness policy comes from WITNESS_POLICY, else from WITNESSES and
WITNESS_QUORUM, else from ``SITE_DIR/witnesses.json`` when it exists (the
format of :mod:`chain.witness_policy`); giving it in two places is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from chain.errors import MalformedError, StorageError
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web import _api, _epcis_api, _pages, _qr, _trace_page
from consumer_web._compression import install_compression
from consumer_web._errors import install_errors
from consumer_web._i18n import remember_language
from consumer_web._localtime import install_localtime
from consumer_web._site import LogView, Site
from consumer_web._templating import install_templating
from consumer_web._tiles_base import install_tiles_base, parse_tiles_url
from readapi import create_read_api

__all__ = ["CSP", "DEFAULTS", "POLICY_FILE", "SiteConfig", "create_app", "site_csp"]

DEFAULTS: Mapping[str, Any] = {
    "SITE_DIR": None,
    "SOURCES": [],
    "SYNC_INTERVAL": 30.0,
    "SYNC_IN_BACKGROUND": True,
    "PUBLIC_URL": None,
    "WITNESSES": [],
    "WITNESS_QUORUM": 0,
    "WITNESS_POLICY": None,
    "CACHE_READINGS": 2_000_000,
    "WARM_CACHE": True,
    "FARM_TZ": "UTC",
    "SITE_DATA": None,
    "TILES_URL": None,
    "STAGE_UNCOSIGNED": False,
}


def site_csp(connect: str | None = None) -> str:
    """The site's Content-Security-Policy; ``connect`` (an origin) may be fetched too."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'" + ("" if connect is None else f" {connect}"),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = site_csp()
"""The Content-Security-Policy of every response (without TILES_URL): our own files only,
nothing inline."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """The configuration as a typed value (see the module docstring for each key)."""

    site_dir: Path | None = None
    sources: tuple[str, ...] = ()
    sync_interval: float = 30.0
    sync_in_background: bool = True
    public_url: str | None = None
    witnesses: tuple[str, ...] = ()
    witness_quorum: int = 0
    witness_policy: WitnessPolicy | None = None
    cache_readings: int = 2_000_000
    warm_cache: bool = True
    farm_tz: str = "UTC"
    tiles_url: str | None = None
    stage_uncosigned: bool = False

    def as_mapping(self) -> dict[str, Any]:
        """The configuration keys and values for ``app.config``."""
        return {
            "SITE_DIR": self.site_dir,
            "SOURCES": list(self.sources),
            "SYNC_INTERVAL": self.sync_interval,
            "SYNC_IN_BACKGROUND": self.sync_in_background,
            "PUBLIC_URL": self.public_url,
            "WITNESSES": list(self.witnesses),
            "WITNESS_QUORUM": self.witness_quorum,
            "WITNESS_POLICY": self.witness_policy,
            "CACHE_READINGS": self.cache_readings,
            "WARM_CACHE": self.warm_cache,
            "FARM_TZ": self.farm_tz,
            "TILES_URL": self.tiles_url,
            "STAGE_UNCOSIGNED": self.stage_uncosigned,
        }


POLICY_FILE = "witnesses.json"
"""The witness policy's file name in SITE_DIR (see :mod:`chain.witness_policy`)."""


def _witness_policy(config: Mapping[str, Any], site_dir: Path) -> WitnessPolicy:
    """The policy from the config keys, else from ``site_dir/witnesses.json``, else none."""
    policy, keys, quorum = (
        config["WITNESS_POLICY"],
        list(config["WITNESSES"]),
        config["WITNESS_QUORUM"],
    )
    path = site_dir / POLICY_FILE
    given = [
        name
        for name, present in (
            ("WITNESS_POLICY", policy is not None),
            ("WITNESSES/WITNESS_QUORUM", bool(keys) or bool(quorum)),
            (str(path), path.exists()),
        )
        if present
    ]
    if len(given) > 1:
        raise ValueError(f"the witness policy is given twice: {' and '.join(given)}")
    if policy is not None:
        if not isinstance(policy, WitnessPolicy):
            raise ValueError("WITNESS_POLICY: expected a chain.witness_policy.WitnessPolicy")
        return policy
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot read the witness policy {path}: {exc}") from exc
        try:
            return WitnessPolicy.from_json(text)
        except MalformedError as exc:
            raise MalformedError(f"{path}: {exc}") from exc
    return WitnessPolicy(quorum, tuple(Witness(vkey) for vkey in keys))


def _open_site(config: Mapping[str, Any]) -> Site:
    """The site's data: ``SITE_DATA`` if given, else a replica in ``SITE_DIR``."""
    data = config["SITE_DATA"]
    limit = int(config["CACHE_READINGS"])
    warm = float(config["SYNC_INTERVAL"]) if config["WARM_CACHE"] else None
    if data is not None:
        return Site(data, max_readings=limit, warm_every=warm)
    if config["SITE_DIR"] is None:
        raise ValueError("SITE_DIR: the site's data directory is required (or SITE_DATA)")
    from consumer_web._replica import Replica

    site_dir = Path(config["SITE_DIR"])
    trust_path = site_dir / "trust.json"
    try:
        trust = TrustRoot.from_json(trust_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StorageError(f"cannot read the pinned trust root {trust_path}: {exc}") from exc
    policy = _witness_policy(config, site_dir)
    replica = Replica(
        site_dir,
        list(config["SOURCES"]),
        trust=trust,
        witness_policy=policy,
        stage_uncosigned=bool(config["STAGE_UNCOSIGNED"]),
    )
    try:
        site = Site(replica, max_readings=limit, warm_every=warm, owned=replica)
        if config["SYNC_IN_BACKGROUND"]:
            replica.start(float(config["SYNC_INTERVAL"]))
    except BaseException:
        replica.close()
        raise
    return site


def _secure(response: Response, csp: str) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = csp
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-cache")
    return response


def create_app(config: SiteConfig | Mapping[str, Any] | None = None) -> Flask:
    """Create the consumer site.

    ``config`` overrides :data:`DEFAULTS`. Without ``SITE_DATA``, opens (and,
    with ``SYNC_IN_BACKGROUND``, starts syncing) the replica in ``SITE_DIR``.
    ``app.extensions["farmtrace_site"].close()`` stops the background threads
    and closes that replica.

    Raises:
        ValueError: neither ``SITE_DIR`` nor ``SITE_DATA`` is given, or the
            witness policy is given twice.
        StorageError: the site directory has no readable ``trust.json``, its
            ``witnesses.json`` cannot be read, or its replica cannot be opened
            (see :class:`consumer_web._replica.Replica`).
        MalformedError: ``trust.json`` is not a trust root, the witness
            policy is malformed (a bad key, a quorum beyond the witnesses),
            ``FARM_TZ`` is not a known time zone, or ``TILES_URL`` is no
            tiles prefix (:func:`consumer_web._tiles_base.parse_tiles_url`).
    """
    app = Flask("consumer_web")
    app.config.from_mapping(DEFAULTS)
    if isinstance(config, SiteConfig):
        config = config.as_mapping()
    if config is not None:
        app.config.from_mapping(config)
    install_localtime(app)  # a bad FARM_TZ fails before the replica opens
    given = app.config["TILES_URL"]
    tiles = None if given is None else parse_tiles_url(given)
    csp = site_csp(None if tiles is None else tiles.origin)
    site = _open_site(app.config)
    app.extensions["farmtrace_site"] = site

    app.register_blueprint(create_read_api(LogView(site.data)))
    app.register_blueprint(_pages.bp)
    app.register_blueprint(_api.bp)
    app.register_blueprint(_qr.bp)
    app.register_blueprint(_trace_page.bp)
    app.register_blueprint(_epcis_api.bp)
    install_errors(app, lambda reason: site.metrics.not_found.labels(reason).inc())
    install_templating(app)
    install_tiles_base(app, tiles)
    install_compression(app)

    @app.get("/metrics")
    def metrics() -> Response:
        """The site's metrics, and its replica's when it has any (Prometheus text format)."""
        body = generate_latest(site.metrics.registry)
        replica_registry = getattr(site.data, "metrics_registry", None)
        if replica_registry is not None:
            body += generate_latest(replica_registry)
        return Response(body, content_type=CONTENT_TYPE_LATEST)

    @app.after_request
    def finish(response: Response) -> Response:
        page = request.endpoint or "none"
        site.metrics.requests.labels(page, str(response.status_code)).inc()
        return _secure(remember_language(response), csp)

    return app
