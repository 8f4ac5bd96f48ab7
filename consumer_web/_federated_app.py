"""The federated site: one process following many logs, with one GS1 resolver in front.

``create_federated_site(pins, site_dir)`` opens one verified replica per
pinned log in ``<site_dir>/logs/<slug>/`` (trust root, witness policy and
sources from the pins) and builds, per log, the single-log site
(:func:`consumer_web.create_app` over that replica), mounted under
``/logs/<slug>/``: every page and API of a log works there unchanged. In
front, :class:`FederatedSite` (a WSGI app) routes

- ``/logs/<slug>/...`` to that log's site;
- a GS1 Digital Link (``/01/<GTIN>/21/<serial>``, ``/01/<GTIN>/10/<lot>``, and
  the ``/label/01/...``, ``/qr/<GTIN>/...`` and ``/api/v1/epcis/01/...`` forms)
  to the site of the party whose pinned GS1 company prefix the GTIN carries
  (:meth:`readapi.crosslog.Pins.for_gtin`), at the same address, so the label's
  ``?lk=`` must name that party's log key (a GTIN-8/12/13 there redirects to the
  GTIN-14 address at the root, not under the mount); with no match, a 404 "no
  party known for this company prefix" (counted);
- anything else to the root app: the index of followed logs, ``/metrics``
  (the federation's metrics; each log's are at ``/logs/<slug>/metrics``),
  ``/api/v1/trace`` (trace and recall across the followed logs:
  :mod:`consumer_web._trace_across`) and its page ``/trace``
  (:mod:`consumer_web._trace_across_page`), static files.

Each log's pack and bird pages stitch the references their events carry
(:mod:`consumer_web._stitch`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from chain.gs1 import AI_LOT, AI_SERIAL, GTIN_LENGTHS
from consumer_web._app import create_app, site_csp
from consumer_web._blame import SiteBlame, install_blame
from consumer_web._errors import install_errors, not_found
from consumer_web._federation import FEDERATION_EXTENSION, Federation, FollowedLog
from consumer_web._i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    current_language,
    format_ago,
    format_iso,
    format_ms,
    remember_language,
    translate,
    translate_word,
    translations,
)
from consumer_web._links import link_of
from consumer_web._localtime import install_localtime
from consumer_web._messages import N_
from consumer_web._site import Site, SiteData
from consumer_web._stitch import FEDERATION_RESOLVED, FEDERATION_ROOT
from consumer_web._templating import Notice
from consumer_web._trace_across import bp as trace_across_bp
from consumer_web._trace_across_page import bp as trace_across_page_bp
from readapi.client import Transport
from readapi.crosslog import PinnedParty, Pins
from readapi.security_headers import install_security_headers

__all__ = ["FederatedSite", "FederationSettings", "create_federated_site", "gtin_of_path"]

_MOUNT = re.compile(r"/logs/([a-z0-9][a-z0-9-]*)(/.*)?")
_LINK = re.compile(r"/(?:label/|api/v1/epcis/)?01/([^/]+)/(?:21|10)/[^/]+")
_QR = re.compile(r"/qr/([^/]+)/(?:21|10)/[^/]+")
_NO_PARTY = N_("No party known for this company prefix (GTIN {gtin}).")


@dataclass(frozen=True, slots=True)
class FederationSettings:
    """What every followed log's site shares (see :class:`consumer_web.SiteConfig`)."""

    public_url: str | None = None
    sync_interval: float = 30.0
    sync_in_background: bool = True
    farm_tz: str = "UTC"
    cache_readings: int = 2_000_000
    warm_cache: bool = True


def gtin_of_path(path: str) -> str | None:
    """The GTIN-14 of a Digital Link path the resolver routes (GTIN-8/12/13 padded), else None."""
    match = _LINK.fullmatch(path) or _QR.fullmatch(path)
    if match is None:
        return None
    gtin = match[1]
    if not (gtin.isascii() and gtin.isdigit() and len(gtin) in GTIN_LENGTHS):
        return None
    return gtin.zfill(14)


class FederatedSite:
    """The WSGI app in front of the followed logs' sites (see the module docstring).

    ``root`` is the root Flask app, ``apps`` each log's site by slug,
    ``federation`` the followed logs. :meth:`close` stops every site and
    closes what the federation opened itself.
    """

    def __init__(
        self,
        federation: Federation,
        apps: Mapping[str, Flask],
        root: Flask,
        close: Callable[[], None],
    ) -> None:
        self.federation = federation
        self.apps = dict(apps)
        self.root = root
        self._close = close

    def app_for(self, path: str) -> tuple[str, Flask, str] | None:
        """The ``(slug, app, path within it)`` that serves ``path``, or None (the root app's)."""
        mounted = _MOUNT.fullmatch(path)
        if mounted is not None:
            app = self.apps.get(mounted[1])
            return None if app is None else (mounted[1], app, mounted[2] or "")
        gtin = gtin_of_path(path)
        party = None if gtin is None else self.federation.pins.for_gtin(gtin)
        if party is None or party.slug not in self.apps:
            return None
        return party.slug, self.apps[party.slug], path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        script = environ.get("SCRIPT_NAME", "")
        path = environ.get("PATH_INFO", "") or "/"
        environ[FEDERATION_ROOT] = script
        environ[FEDERATION_RESOLVED] = _MOUNT.fullmatch(path) is None
        found = self.app_for(path)
        if found is None:
            return self.root(environ, start_response)
        slug, app, inner = found
        if inner == "":  # /logs/<slug>: its home page is /logs/<slug>/
            query = environ.get("QUERY_STRING", "")
            location = f"{script}/logs/{slug}/" + (f"?{query}" if query else "")
            response = Response("", status=308, headers={"Location": location})
            return response(environ, start_response)
        environ["SCRIPT_NAME"] = f"{script}/logs/{slug}"
        environ["PATH_INFO"] = inner
        return app(environ, start_response)

    def close(self) -> None:
        """Stop every log's site and close the replicas the federation opened."""
        self._close()


def _party_row(followed: FollowedLog) -> dict[str, Any]:
    head = followed.site.lifecycle.head()
    policy = followed.party.pin.policy
    return {
        "party": followed.party,
        "size": None if head is None else head.size,
        "cosigned": 0 if head is None else len(head.witnesses),
        "total": len(policy.witnesses),
        "quorum": policy.quorum,
    }


def _root_app(federation: Federation, settings: FederationSettings) -> Flask:
    """The root app: the index of followed logs, the resolver's misses, metrics, static files."""
    app = Flask("consumer_web")
    app.config["FARM_TZ"] = settings.farm_tz
    install_localtime(app)
    env = app.jinja_env
    env.autoescape = True
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters["when"] = format_ms
    env.filters["iso"] = format_iso
    env.filters["pinned"] = lambda path: request.script_root + path
    for lang in LANGUAGES:
        translations(lang)
    metrics = federation.metrics

    @app.context_processor
    def page_context() -> dict[str, Any]:
        lang = current_language()
        now_ms = time.time_ns() // 1_000_000
        switch = f"{request.script_root}{request.path}?lang="
        return {
            "_": lambda message, **values: translate(lang, message, **values),
            "pgettext": lambda context, message: translations(lang).pgettext(context, message),
            "word": lambda context, value: translate_word(lang, context, value),
            "ago": lambda ms: format_ago(lang, ms, now_ms),
            "lang": lang,
            "languages": [(tag, LANGUAGE_NAMES[tag], switch + tag) for tag in LANGUAGES],
            "notice": Notice(False, None, ()),
            "head": None,
            "origin": None,
            "federation_index": True,
        }

    pages = Blueprint("pages", __name__)  # the name base.html's home link asks for

    @pages.get("/")
    def index() -> str:
        """The logs this site follows, with how far each is checked."""
        rows = [_party_row(f) for f in federation.logs.values()]
        return render_template("federation.html", logs=rows)

    app.register_blueprint(pages)
    app.extensions[FEDERATION_EXTENSION] = federation
    app.register_blueprint(trace_across_bp)  # GET /api/v1/trace: trace and recall across logs
    app.register_blueprint(trace_across_page_bp)  # GET /trace: its page

    @app.get("/01/<gtin>/21/<value>")
    @app.get("/01/<gtin>/10/<value>")
    @app.get("/label/01/<gtin>/21/<value>")
    @app.get("/label/01/<gtin>/10/<value>")
    def unknown_party(gtin: str, value: str) -> str:
        """A Digital Link whose company prefix no followed party has (or a malformed one)."""
        ai = AI_SERIAL if "/21/" in request.path else AI_LOT
        link = link_of(gtin, ai, value)  # a malformed link: its own 404 (bad_link)
        not_found("no_party", _NO_PARTY, gtin=link.gtin)

    @app.get("/metrics")
    def metrics_view() -> Response:
        """The federation's metrics (Prometheus text format)."""
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    install_errors(app, lambda reason: metrics.resolver_not_found.labels(reason).inc())

    install_security_headers(app, site_csp())
    app.after_request(remember_language)

    return app


def create_federated_site(
    pins: Pins,
    site_dir: Path | None,
    settings: FederationSettings = FederationSettings(),
    *,
    site_data: Mapping[str, SiteData] | None = None,
    transport: Transport | None = None,
) -> FederatedSite:
    """Follow every log ``pins`` pins and build the federated site.

    Each log's replica lives in ``site_dir/logs/<slug>/``; ``site_data``
    (by origin) serves instead, for tests and tools (then ``site_dir`` may be
    None). ``transport`` replaces HTTP for the replicas.

    Raises:
        ValueError: neither ``site_dir`` nor ``site_data`` for a log.
        StorageError: a replica cannot be opened (another process holds it,
            its store holds another log).
        MalformedError: ``settings.farm_tz`` is not a known time zone.
    """
    from consumer_web._replica import Replica

    opened: list[Replica] = []
    sites: list[Site] = []
    apps: dict[str, Flask] = {}
    logs: dict[str, FollowedLog] = {}

    def close() -> None:
        for site in sites:
            site.close()
        for replica in opened:
            replica.close()

    try:
        for party in pins.parties:
            data = _data_for(party, site_dir, site_data, transport, opened)
            app = create_app(
                {
                    "SITE_DATA": data,
                    "PUBLIC_URL": settings.public_url,
                    "SYNC_INTERVAL": settings.sync_interval,
                    "FARM_TZ": settings.farm_tz,
                    "CACHE_READINGS": settings.cache_readings,
                    "WARM_CACHE": settings.warm_cache,
                }
            )
            site = app.extensions["farmtrace_site"]
            sites.append(site)
            apps[party.slug] = app
            logs[party.origin] = FollowedLog(party, data, site)
        federation = Federation(pins, logs)
        finder = SiteBlame(federation, transport=transport)
        for app in apps.values():
            app.extensions[FEDERATION_EXTENSION] = federation
            install_blame(app, finder)
        root = _root_app(federation, settings)
        if settings.sync_in_background:
            for replica in opened:
                replica.start(settings.sync_interval)
    except BaseException:
        close()
        raise
    return FederatedSite(federation, apps, root, close)


def _data_for(
    party: PinnedParty,
    site_dir: Path | None,
    site_data: Mapping[str, SiteData] | None,
    transport: Transport | None,
    opened: list[Any],
) -> SiteData:
    if site_data is not None and party.origin in site_data:
        return site_data[party.origin]
    if site_dir is None:
        raise ValueError(f"{party.origin}: a site directory is required to follow it")
    from consumer_web._replica import Replica

    replica = Replica(
        site_dir / "logs" / party.slug,
        party.sources,
        trust=party.pin.trust,
        witness_policy=party.pin.policy,
        transport=transport,
    )
    opened.append(replica)
    return replica
