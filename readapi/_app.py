"""A stand-alone app serving only the read API (for tests, and for servers to wrap)."""

from __future__ import annotations

from flask import Flask

from readapi._errors import install_json_errors
from readapi._source import LogSource
from readapi._views import create_read_api

__all__ = ["create_app"]


def create_app(source: LogSource) -> Flask:
    """Return a Flask app serving the read API of ``source`` at the root, errors as JSON."""
    app = Flask(__name__)
    app.register_blueprint(create_read_api(source))
    install_json_errors(app, prefixes=("/",))
    return app
