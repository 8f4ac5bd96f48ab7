"""Cross-site request forgery protection: Flask-WTF's CSRFProtect, and the desk's wording.

Every page that shows a form puts :func:`csrf_token` in a hidden field named
:data:`FIELD`; Flask-WTF refuses every POST (log-in and log-out included)
whose token is missing, forged, or another session's, before any view runs;
over HTTPS it also refuses a POST whose ``Referer`` is not this desk (the
desk's ``Referrer-Policy: same-origin`` sends it to the desk alone). A
token is valid while its session lives; log-in and log-out clear the
session, so they make a new one (:func:`rotate_csrf`). The session cookie is
``SameSite=Strict`` as a second line, not the only one.
"""

from __future__ import annotations

from flask import Flask, g, session
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf

__all__ = ["FIELD", "CSRFError", "csrf_reason", "csrf_token", "install_csrf", "rotate_csrf"]

FIELD = "csrf_token"
"""The hidden form field (and session key) holding the token."""


def csrf_token() -> str:
    """The current session's token (made on first use), signed for a form."""
    return str(generate_csrf())


def rotate_csrf() -> None:
    """Forget the session's token (log-in, log-out): the next form gets a new one."""
    session.pop(FIELD, None)
    g.pop(FIELD, None)  # generate_csrf's copy for this request


def csrf_reason(error: CSRFError) -> str:
    """The counted reason of a refusal: ``missing``, ``expired``, ``referrer`` or ``mismatch``."""
    text = str(error.description).lower()
    for reason in ("referrer", "missing", "expired"):
        if reason in text:
            return reason
    return "mismatch"


def install_csrf(app: Flask) -> None:
    """Check the token of every state-changing request to ``app``.

    A refusal is a :class:`CSRFError` (a 400) for ``app``'s error handler,
    which counts :func:`csrf_reason`. Templates get ``csrf_token()`` and
    ``csrf_field`` (the field name).
    """
    app.config.update(WTF_CSRF_FIELD_NAME=FIELD, WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=True)
    CSRFProtect(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = FIELD
