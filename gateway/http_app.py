"""The gateway's HTTP server: the read API of design.md section 5, plus ``/metrics``.

The read API reads the live store (safe for concurrent readers while the
ingest thread appends). With witnesses, ``/checkpoint`` serves the checkpoint
``published`` picks (the newest one enough witnesses cosigned) and
``/api/v1/log`` lists the witnesses' verifier keys. With a fleet view
builder, ``/api/v1/fleet`` serves the fleet view (:mod:`gateway.fleet_view`;
gateway only, never a consumer replica). ``/api/v1/checkpoints/newest`` serves
the newest signed checkpoint, cosigned or not, so that a mirror can copy
blocks before the witnesses see them (:mod:`gateway.mirror_gate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Flask, Response, abort

from chain.store import Store
from chain.trust import TrustRoot
from gateway.fleet_view import FleetViewBuilder, create_fleet_api
from gateway.metrics import CONTENT_TYPE, GatewayMetrics
from readapi import LogInfo, create_read_api, install_json_errors
from readapi.security_headers import install_security_headers

__all__ = ["create_app"]


def create_app(
    store: Store,
    trust: TrustRoot,
    metrics: GatewayMetrics,
    witnesses: Sequence[str] = (),
    published: Callable[[], tuple[int, str] | None] | None = None,
    fleet: FleetViewBuilder | None = None,
) -> Flask:
    """The gateway's Flask app over a live ``store``: read API, errors as JSON, metrics.

    ``witnesses`` are the verifier keys of the witnesses the gateway collects
    cosignatures from; ``published`` picks the checkpoint to serve (default:
    the latest); ``fleet`` serves ``/api/v1/fleet`` (None: not served).
    """
    app = Flask("farmtrace-gateway")
    source = LogInfo(
        trust.origin,
        trust.log_key,
        tuple(witnesses),
        store,
        admins=trust.admins,
        publisher=published,
        keeps_ref_checkpoints=True,
    )
    app.register_blueprint(create_read_api(source))
    if fleet is not None:
        app.register_blueprint(create_fleet_api(fleet))
    install_json_errors(app)
    install_security_headers(app)  # the site's set (docs/deploy.md)

    @app.get("/api/v1/checkpoints/newest")
    def newest_checkpoint() -> Response:
        latest = store.latest_checkpoint()
        if latest is None:
            abort(404, "the log has no checkpoint yet")
        response = Response(latest[1], mimetype="text/plain")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), content_type=CONTENT_TYPE)

    return app
