"""The witness's verifier page: a pack checked against anchors the farm does not control.

Routes (added by :func:`install_verifier_page`)::

    GET /anchors.json        this witness's cosigner key and the logs it follows, each
                             with its checkpoint key(s) and their key IDs
    GET /verify              the page (static HTML): paste or open a pack's URL
    GET /verify/coop.js      its script, style and icon (witness/static/)
    GET /verify/lib/<n>.js   the in-browser verifier's modules, from ``assets``

The page fetches the farm's read API cross-origin and verifies each event of
the pack with the log key and the witness key from ``/anchors.json`` (served
by this witness, from its own ``witness.json`` and ``witness.key``), never
with the farm's ``/api/v1/log``. ``assets`` is a directory of the verifier's
ES modules (the consumer site's ``static/verify``, located by whoever builds
the app: the witness imports nothing of the site's). Every answer carries a
strict Content-Security-Policy: scripts only from here, no inline code;
``connect-src`` is open because the farm may be anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, Response, abort, jsonify, send_from_directory

from witness._config import WitnessConfig

__all__ = ["PAGE_CSP", "anchors_document", "install_verifier_page"]

STATIC = Path(__file__).resolve().parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src *; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_OWN_FILES = frozenset({"coop.js", "coop.css", "favicon.svg"})
_MODULE = re.compile(r"[a-z][a-z0-9_-]{0,31}\.js")
_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def anchors_document(config: WitnessConfig) -> dict[str, object]:
    """``/anchors.json``: {"witness": {"name", "vkey"}, "logs": [{"origin", "log_keys",
    "key_ids"}]}, logs sorted by origin, key IDs as 8 lowercase hex digits."""
    logs = [
        {
            "origin": origin,
            "log_keys": [key.to_text() for key in keys],
            "key_ids": [f"{key.key_id:08x}" for key in keys],
        }
        for origin, keys in sorted(config.logs.items())
    ]
    return {"witness": {"name": config.name, "vkey": config.vkey}, "logs": logs}


def install_verifier_page(app: Flask, config: WitnessConfig, assets: Path) -> None:
    """Serve the verifier page on ``app`` for the witness of ``config``, modules from ``assets``.

    Raises:
        FileNotFoundError: ``assets`` has no ``entry.js`` (not the verifier's modules).
    """
    if not (assets / "entry.js").is_file():
        raise FileNotFoundError(f"{assets}: no entry.js, not the in-browser verifier's modules")
    document = anchors_document(config)

    def secured(response: Response) -> Response:
        response.headers.update(_HEADERS)
        return response

    @app.get("/anchors.json")
    def anchors() -> Response:
        response = secured(jsonify(document))
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/verify")
    def page() -> Response:
        return secured(send_from_directory(STATIC, "verify.html", mimetype="text/html"))

    @app.get("/verify/<name>")
    def own_module(name: str) -> Response:
        if name not in _OWN_FILES:
            abort(404, f"no file {name[:40]!r} here")
        return secured(send_from_directory(STATIC, name))

    @app.get("/verify/lib/<name>")
    def module(name: str) -> Response:
        if not _MODULE.fullmatch(name):
            abort(404, f"no verifier module {name[:40]!r}")
        return secured(send_from_directory(assets, name, mimetype="text/javascript"))
