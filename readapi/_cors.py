"""CORS for the read API: any web page may read it (GET), none may write through it.

Everything the read API serves is public, read-only log data that anyone may
fetch with curl, and it sets no cookies and reads no credentials: letting
another origin's page read it (``Access-Control-Allow-Origin: *``) gives that
page nothing it could not already get, and it is what lets a verifier the
farm does not serve (a witness's ``/verify`` page, a co-op's static bundle)
check the farm's data cross-origin. ``*`` never carries credentials (the
Fetch standard forbids them with it), so no session of the site or the desk
can ride on it. Only GET and HEAD answers get it; the read API has nothing
else, and no preflight is needed for a GET with an ``Accept`` header.
"""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response

__all__ = ["allow_any_origin"]

_READ_METHODS = frozenset({"GET", "HEAD"})


def allow_any_origin(blueprint: Blueprint) -> None:
    """Make ``blueprint``'s GET and HEAD answers (errors included) readable from any origin."""

    def add(response: Response) -> Response:
        if request.method in _READ_METHODS:
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    blueprint.after_request(add)
