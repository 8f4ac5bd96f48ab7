"""Errors under the read API as JSON ``{"error": message}``, never an HTML page or a trace."""

from __future__ import annotations

import json
from collections.abc import Sequence

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

__all__ = ["API_PATHS", "install_json_errors"]

API_PATHS = ("/checkpoint", "/api/")
"""The read API's URL space: a path ending in ``/`` covers everything under it."""


def install_json_errors(app: Flask, *, prefixes: Sequence[str] = API_PATHS) -> None:
    """Make ``app`` answer every HTTP error under ``prefixes`` as JSON.

    Covers what the blueprint's own handlers cannot: unknown routes (404),
    wrong methods (405, keeping the ``Allow`` header) and unhandled exceptions
    (500, logged by Flask, with a generic message). Errors on other paths, such
    as a site's HTML pages, are left as they were. Call it once per app.
    """

    def under_api(path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)

    @app.errorhandler(HTTPException)
    def json_error(exc: HTTPException) -> HTTPException | Response:
        if not under_api(request.path):
            return exc
        response = exc.get_response()
        response.set_data(json.dumps({"error": exc.description or exc.name}))
        response.content_type = "application/json"
        response.headers["Cache-Control"] = "no-store"
        return response
