"""Cross-site request forgery protection: a synchroniser token per session.

Every page that shows a form puts :func:`csrf_token` in a hidden field named
:data:`FIELD`; :func:`install_csrf` refuses every POST (log-in and log-out
included) whose field does not equal the session's token, compared in
constant time, with a 400 page, before any view runs. A new token is made
at log-in and log-out (:func:`rotate_csrf`). The session cookie is
``SameSite=Strict`` as a second line, not the only one.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

from flask import Flask, abort, request, session

__all__ = ["FIELD", "csrf_token", "install_csrf", "rotate_csrf"]

FIELD = "csrf_token"
"""The hidden form field (and session key) holding the token."""

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token() -> str:
    """The current session's token, made on first use."""
    token = session.get(FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def rotate_csrf() -> str:
    """Replace the session's token (log-in, log-out); return the new one."""
    session.pop(FIELD, None)
    return csrf_token()


def install_csrf(app: Flask, count: Callable[[str], None]) -> None:
    """Check the token of every state-changing request to ``app``.

    ``count`` is called with ``"missing"`` or ``"mismatch"`` for each refusal.
    Templates get ``csrf_token()`` and ``csrf_field`` (the field name).
    """

    @app.before_request
    def check_token() -> None:
        if request.method not in _UNSAFE or request.routing_exception is not None:
            return  # an unknown route or method is answered 404 / 405 as it is
        sent = request.form.get(FIELD)
        expected = session.get(FIELD)
        if not sent or not isinstance(expected, str):
            count("missing")
            abort(400, "csrf")
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            count("mismatch")
            abort(400, "csrf")

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = FIELD
