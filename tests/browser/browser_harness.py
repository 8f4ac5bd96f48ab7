"""Serving a WSGI app on loopback, watching a page's console, saving screenshots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask import Response as FlaskResponse
from playwright.sync_api import ConsoleMessage, Error, Page, Response
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
MOBILE = {"width": 390, "height": 844}
"""A phone's viewport (CSS pixels)."""


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL.

    The server and its thread are stopped, and the socket closed, on exit.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def blank_page_with(static: Path) -> Iterator[str]:
    """Serve an empty page at ``/`` and ``static`` at ``/static``; yield the base URL.

    For tests that import the verifier's modules into a page of their own.
    """
    app = Flask(__name__, static_folder=str(static), static_url_path="/static")

    @app.get("/")
    def blank() -> FlaskResponse:
        html = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        return FlaskResponse(html + "</head><body></body></html>", mimetype="text/html")

    @app.get("/favicon.ico")
    def favicon() -> FlaskResponse:
        return FlaskResponse(status=204)

    with serve(app) as url:
        yield url


class ConsoleWatch:
    """What a page reported: console errors and warnings (CSP violations among them),
    uncaught exceptions, and the URLs that answered with an HTTP error."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.messages.append(f"HTTP {response.status}: {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.messages.append(f"{message.type}: {message.text} ({where})")

    def _page_error(self, error: Error) -> None:
        self.messages.append(f"uncaught: {error.message}")

    @property
    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
