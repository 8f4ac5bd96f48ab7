"""The production WSGI server (waitress): keep-alive, graceful stop, the gateway's headers."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask

from readapi.security_headers import install_security_headers
from readapi.wsgi_server import ServerSettings, WsgiServer


def _app(started: threading.Event, release: threading.Event) -> Flask:
    app = Flask(__name__)

    @app.get("/fast")
    def fast() -> str:
        return "fast"

    @app.get("/slow")
    def slow() -> str:
        started.set()
        release.wait(10)
        return "slow done"

    install_security_headers(app)
    return app


@pytest.fixture
def served() -> Iterable[tuple[WsgiServer, threading.Event, threading.Event]]:
    started, release = threading.Event(), threading.Event()
    server = WsgiServer(_app(started, release), "127.0.0.1", 0, ServerSettings(threads=4))
    server.start()
    yield server, started, release
    release.set()
    server.stop(timeout=10)


def test_one_connection_serves_many_requests(served: Any) -> None:
    server, _, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.connect()
        sock = connection.sock
        for _ in range(5):
            connection.request("GET", "/fast")
            response = connection.getresponse()
            assert response.read() == b"fast"
            assert response.getheader("Connection", "").lower() != "close"
        assert connection.sock is sock
        assert response.getheader("Server") == "farmtrace"
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert "default-src 'none'" in (response.getheader("Content-Security-Policy") or "")
    finally:
        connection.close()


def test_stop_lets_a_request_in_progress_finish_and_refuses_new_ones(served: Any) -> None:
    server, started, release = served
    results: list[bytes] = []

    def slow_request() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/slow")
            results.append(connection.getresponse().read())
        finally:
            connection.close()

    client = threading.Thread(target=slow_request)
    client.start()
    assert started.wait(10)
    stopper = threading.Thread(target=server.stop, kwargs={"timeout": 10})
    stopper.start()
    deadline = time.monotonic() + 10
    while True:  # the listening socket closes first
        try:
            probe = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1)
            probe.connect()
            probe.close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "still accepting after stop()"
        time.sleep(0.02)
    release.set()
    client.join(10)
    stopper.join(10)
    assert results == [b"slow done"]


def test_a_taken_port_is_an_os_error() -> None:
    app = Flask(__name__)
    first = WsgiServer(app, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            WsgiServer(app, "127.0.0.1", first.port)
    finally:
        first.close()
