"""The witness's HTTP interface: the application factory and its routes.

Routes::

    POST /add-checkpoint                  C2SP tlog-witness: 200 cosignature line, or
                                          400/403/404/409/413/422 with a text/plain reason
                                          (409 for a stale old size: text/x.tlog.size)
    GET  /<sha256(origin) hex>/checkpoint the spec's monitoring endpoint: the latest cosigned
                                          checkpoint, a signed note with the log's line(s)
                                          and ours; 404 if none (our monitoring prefix is
                                          our submission prefix)
    GET  /latest-checkpoint?origin=<o>    the same note, by origin (farmtrace's own, older)
    GET  /                                JSON status: name, vkey, each log's size/root/time
    GET  /metrics                         Prometheus metrics
    GET  /verify, /anchors.json           the verifier page and this witness's anchors, when
                                          built with ``verifier_assets`` (witness._verifier_page)

``farmtrace witness serve`` serves the app with waitress (docs/deploy.md), which
keeps connections alive as the spec's "witnesses SHOULD support keep-alive"
asks. :func:`make_http_server` (Werkzeug's threaded server, one response per
connection) remains for serving it inside a test process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, make_server

from chain.tlog_witness import (
    ADD_CHECKPOINT_PATH,
    LATEST_CHECKPOINT_PATH,
    MAX_REQUEST_BYTES,
    MONITORING_CHECKPOINT_SUFFIX,
    SIZE_CONTENT_TYPE,
    encode_size,
)
from witness._core import Refusal
from witness._metrics import CONTENT_TYPE
from witness._service import WitnessService
from witness._verifier_page import install_verifier_page

__all__ = ["create_app", "make_http_server"]

_TEXT = "text/plain; charset=utf-8"


def create_app(
    directory: Path | None = None,
    *,
    service: WitnessService | None = None,
    clock: Callable[[], float] = time.time,
    verifier_assets: Path | None = None,
) -> Flask:
    """Build the witness's Flask app for ``directory`` (or around an open ``service``).

    With ``verifier_assets`` (the in-browser verifier's ES modules, e.g. the
    consumer site's ``static/verify``), it also serves ``/verify`` and
    ``/anchors.json`` (:mod:`witness._verifier_page`).

    The service is at ``app.extensions["farmtrace_witness"]``; whoever
    created the app closes it (``service.close()``) when done.

    Raises:
        StorageError: if the directory is missing, corrupt or held by another process.
        MalformedError: if its configuration is malformed.
        ValueError: if neither or both of ``directory`` and ``service`` are given.
        FileNotFoundError: ``verifier_assets`` holds no verifier modules.
    """
    if (directory is None) == (service is None):
        raise ValueError("create_app: give exactly one of directory and service")
    witness = service or WitnessService.open(Path(directory or "."), clock=clock)
    app = Flask("witness")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.extensions["farmtrace_witness"] = witness
    if verifier_assets is not None:
        install_verifier_page(app, witness.config, verifier_assets)

    @app.post(ADD_CHECKPOINT_PATH)
    def add_checkpoint() -> Response:
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            witness.metrics.requests.labels("too_large").inc()
            return _text(f"request body larger than {MAX_REQUEST_BYTES} bytes\n", 413)
        try:
            line = witness.add_checkpoint(body)
        except Refusal as refusal:
            if refusal.latest_size is not None:
                return Response(
                    encode_size(refusal.latest_size), 409, content_type=SIZE_CONTENT_TYPE
                )
            return _text(f"{refusal}\n", refusal.status)
        return _text(line, 200)

    @app.get(f"/<origin_hash>{MONITORING_CHECKPOINT_SUFFIX}")
    def monitoring_checkpoint(origin_hash: str) -> Response:
        origin = witness.origin_of(origin_hash)
        signed_note = None if origin is None else witness.latest_note(origin)
        if signed_note is None:
            return _text("no checkpoint of this log cosigned\n", 404)
        answer = _text(signed_note, 200)
        answer.headers["Cache-Control"] = "no-cache"  # it changes with every cosignature
        return answer

    @app.get(LATEST_CHECKPOINT_PATH)
    def latest_checkpoint() -> Response:
        origin = request.args.get("origin")
        if not origin:
            return _error("the query parameter 'origin' is required", 400)
        signed_note = witness.latest_note(origin)
        if signed_note is None:
            if origin in witness.config.logs:
                return _error(f"no checkpoint of {origin!r} cosigned yet", 404)
            return _error(f"unknown log origin {origin!r}", 404)
        return _text(signed_note, 200)

    @app.get("/")
    def status() -> Response:
        return jsonify(witness.status())

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(witness.metrics.render(), 200, content_type=CONTENT_TYPE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _error(exc.description or exc.name, exc.code or 500)

    return app


def make_http_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """A threaded HTTP server for ``app`` (one thread per request); port 0 picks a free port.

    Raises:
        OSError: if the address cannot be bound.
    """
    return make_server(host, port, app, threaded=True)


def _text(body: str, status: int) -> Response:
    return Response(body.encode("utf-8"), status, content_type=_TEXT)


def _error(message: str, status: int) -> Response:
    answer = jsonify({"error": message})
    answer.status_code = status
    return answer
