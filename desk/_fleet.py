"""The fleet page: every registered device as the gateway sees it, flagged rows first.

Log-in required (it shows operational details). The page asks the
gateway's ``GET /api/v1/fleet`` at ``FLEET_URL`` (default: ``CHECK_URL``,
which must then be the gateway: a consumer site serves no fleet view) and
renders it as a table, with no script (the desk's CSP allows none); the
browser reloads it every ``FLEET_REFRESH`` seconds.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from werkzeug.wrappers import Response

from chain.errors import SourceError
from desk._auth import login_required
from readapi.fleet import FleetView, age_text, fetch_fleet

__all__ = ["bp", "fleet_url"]

bp = Blueprint("fleet", __name__)


def fleet_url() -> str:
    """The gateway the fleet page asks (``FLEET_URL``, else ``CHECK_URL``)."""
    config = current_app.config
    return str(config.get("FLEET_URL") or config["CHECK_URL"])


@bp.get("/fleet")
@login_required
def fleet() -> Response:
    """The fleet table; 503 with an explanation when the gateway cannot be asked."""
    refresh = int(current_app.config.get("FLEET_REFRESH", 15))
    view: FleetView | None = None
    problem = None
    try:
        view = fetch_fleet(fleet_url(), timeout=5.0)
    except SourceError as exc:
        problem = f"The gateway's fleet view could not be read: {exc}"
    rows = [] if view is None else sorted(view.devices, key=lambda r: (not r.flags, r.dev))
    body = render_template(
        "fleet.html",
        view=view,
        rows=rows,
        problem=problem,
        refresh=refresh,
        age=lambda ms: "\u2013" if view is None or ms is None else age_text(view.generated_ms, ms),
    )
    response = Response(body, status=503 if problem else 200, mimetype="text/html")
    response.headers["Refresh"] = str(refresh)
    return response
