"""A test-only site: the read API of a log, consumer_web's static files, one bare page.

The page lists entries as ``[data-entry]`` rows and holds ``#verify-result``,
as the consumer site's pages do, under the same strict Content Security
Policy (no inline script or style), so that verify.js is tested alone.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from flask import Flask, Response, request

from readapi import LogSource, create_read_api, install_json_errors

STATIC = Path(__file__).resolve().parents[2] / "consumer_web" / "static"
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
MESSAGES = {
    "data-msg-working": "Checking entry {entry}",
    "data-msg-ok": "Entry {entry} verified: block {block}, checkpoint of {size}, "
    "{witnesses} witness",
    "data-msg-fail": "Entry {entry} FAILED: {check}",
}


def verify_app(source: LogSource) -> Flask:
    """The read API of ``source`` and ``/page?entry=I&entry=J...`` (one row per entry)."""
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.register_blueprint(create_read_api(source))
    install_json_errors(app)

    @app.get("/page")
    def page() -> Response:
        rows = "".join(
            f'<li data-entry="{escape(e)}" tabindex="0">entry {escape(e)}</li>'
            for e in request.args.getlist("entry")
        )
        messages = "".join(f' {name}="{escape(text)}"' for name, text in MESSAGES.items())
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>verify</title>'
            '<script type="module" src="/static/verify.js"></script></head><body>'
            f'<ul>{rows}</ul><section id="verify-result" aria-live="polite"{messages}>'
            "</section></body></html>"
        )
        return Response(html, mimetype="text/html")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.after_request
    def csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        return response

    return app
