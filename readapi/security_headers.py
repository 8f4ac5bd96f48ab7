"""The security headers every farmtrace HTTP service sends (the site's set, also the gateway's).

The site and the desk add their own Content-Security-Policy for their pages;
a service that serves only data (the gateway's read API, a witness) uses
:data:`DATA_CSP`: nothing may load, frame or be framed.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from werkzeug.wrappers import Response

__all__ = ["DATA_CSP", "install_security_headers", "security_headers"]

DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""The Content-Security-Policy of a data-only service."""


def security_headers(csp: str = DATA_CSP) -> Mapping[str, str]:
    """The headers, with ``csp`` as the Content-Security-Policy."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def install_security_headers(app: Flask, csp: str = DATA_CSP) -> None:
    """Make ``app`` send :func:`security_headers` on every response (errors included)."""
    headers = dict(security_headers(csp))

    def add(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    app.after_request(add)
