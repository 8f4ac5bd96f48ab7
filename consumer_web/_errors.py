"""Errors as friendly pages in the reader's language; as JSON under the read API.

Views raise :func:`not_found` with a message (its English text, marked with
:func:`~consumer_web._messages.N_`); anything else (unknown
routes, wrong methods, bugs) is answered with the generic page for its
status. Nothing ever shows a stack trace: an unhandled exception becomes the
500 page (Flask logs it). The read API's JSON errors (installed by
:func:`readapi.install_json_errors`) keep answering under its paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from consumer_web._messages import N_
from readapi import API_PATHS, install_json_errors

__all__ = ["PageNotFound", "install_errors", "not_found"]

_GENERIC = {
    400: N_("The request was not understood."),
    404: N_("We could not find that page."),
    405: N_("This address does not accept that kind of request."),
    500: N_("The site failed to answer. Please try again later."),
}


class PageNotFound(NotFound):
    """A 404 with a reason (counted) and a message (English text and values) for the page."""

    def __init__(self, reason: str, key: str, **values: object) -> None:
        super().__init__(description=f"{reason}: {key}")
        self.reason = reason
        self.key = key
        self.values = values


def not_found(reason: str, key: str, **values: object) -> NoReturn:
    """Stop the view with a friendly 404 page (message ``key``, in English, with ``values``)."""
    raise PageNotFound(reason, key, **values)


def _under_api(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in API_PATHS)


def install_errors(app: Flask, count_not_found: Callable[[str], None]) -> None:
    """Answer every HTTP error of ``app`` as a page, or as JSON under the read API.

    ``count_not_found`` is called with the reason of each 404 page.
    """
    install_json_errors(app)
    json_error: Callable[[HTTPException], Any] = app.error_handler_spec[None][None][HTTPException]

    @app.errorhandler(HTTPException)
    def page_error(exc: HTTPException) -> Any:
        if _under_api(request.path):
            return json_error(exc)
        code = exc.code or 500
        if isinstance(exc, PageNotFound):
            count_not_found(exc.reason)
            key, values = exc.key, exc.values
        else:
            if code == 404:
                count_not_found("no_route")
            key = _GENERIC.get(code, _GENERIC[400] if code < 500 else _GENERIC[500])
            values = {}
        body = render_template("error.html", code=code, message_key=key, message_values=values)
        response = Response(body, status=code, mimetype="text/html")
        if code == 405:
            allowed = exc.get_response().headers.get("Allow")
            if allowed:
                response.headers["Allow"] = allowed
        response.headers["Cache-Control"] = "no-store"
        return response
