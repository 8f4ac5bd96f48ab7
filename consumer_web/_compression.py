"""Compressed responses (Flask-Compress): a pack page's first screen under 50 KB on a phone.

Pages, the stylesheet, the scripts and JSON are compressed for browsers that
accept it (zstd, brotli or gzip). Streamed responses are left alone
(``COMPRESS_STREAMS`` off: Flask-Compress does not close a stream it
compresses); static files, which Flask sends as streams, are read whole first
(they are small), so that they are compressed too and their file is closed
with the response.
"""

from __future__ import annotations

from flask import Flask, request
from flask_compress import Compress
from werkzeug.wrappers import Response

__all__ = ["install_compression"]


def install_compression(app: Flask) -> None:
    """Compress ``app``'s responses; call after every other ``after_request`` is registered."""
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)

    @app.after_request
    def whole_static_files(response: Response) -> Response:
        # Registered after Compress's own hook, so it runs before it.
        if request.endpoint == "static" and response.direct_passthrough:
            response.direct_passthrough = False
            response.make_sequence()  # the file is closed when the response is
        return response
