"""A real S3-compatible HTTP server for tests: moto's server, with faults on request.

moto's own S3 (its server mode's WSGI app, as ``moto.server.ThreadedMotoServer``
runs it) on a free loopback port, behind a thin front that logs each request
and can answer like a troubled store: 503s, an object not there yet (a
racing writer), no conditional writes (501). :meth:`MotoS3.require_auth`
makes moto check request signatures against its IAM users (none exist, so
every key is refused) for a while. Unsigned path-style GETs
(``http://HOST/BUCKET/KEY``) are served as a public bucket's would be.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from server_thread import ServerThread
from werkzeug.serving import make_server

REGION = "us-east-1"


@dataclass
class MotoS3:
    """moto's S3 at :attr:`url`; :meth:`start` returns it running, :meth:`stop` ends it.

    ``requests``: (method, path) of every request, in order. ``fail_next``:
    the next so many requests get a 503. ``hidden``: paths whose next GET
    answers 404. ``conditional_writes``: False answers a PUT carrying
    ``If-None-Match`` with 501 NotImplemented.
    """

    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0
    failed: int = 0
    hidden: set[str] = field(default_factory=set)
    conditional_writes: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serving: ServerThread | None = None

    @property
    def url(self) -> str:
        assert self._serving is not None
        return f"http://127.0.0.1:{self._serving.port}"

    def start(self) -> MotoS3:
        moto = DomainDispatcherApplication(create_backend_app)
        self._serving = ServerThread(
            make_server(
                "127.0.0.1", 0, self._front(moto), threaded=True, request_handler=_QuietHandler
            )
        )
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    def puts(self, since: int = 0) -> list[str]:
        """The paths PUT since request number ``since``, in order."""
        with self._lock:
            return [path for method, path in self.requests[since:] if method == "PUT"]

    @contextmanager
    def require_auth(self) -> Iterator[None]:
        """While inside: moto checks every request's signature (and knows no keys)."""
        self._reset_auth("0")
        try:
            yield
        finally:
            self._reset_auth("inf")

    def _reset_auth(self, count: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=count.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # not a form: moto reads the raw body
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def _front(self, moto: Any) -> Callable[..., Iterable[bytes]]:
        def front(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
            with self._lock:
                self.requests.append((method, path))
                if self.fail_next > 0:
                    self.fail_next -= 1
                    self.failed += 1
                    return _error(
                        environ, start_response, "503 Service Unavailable", "ServiceUnavailable"
                    )
                if method == "GET" and path in self.hidden:
                    self.hidden.discard(path)
                    return _error(environ, start_response, "404 Not Found", "NoSuchKey")
                if (
                    method == "PUT"
                    and not self.conditional_writes
                    and environ.get("HTTP_IF_NONE_MATCH")
                ):
                    return _error(environ, start_response, "501 Not Implemented", "NotImplemented")
            return moto(environ, start_response)  # type: ignore[no-any-return]

        return front


class _QuietHandler(MotoRequestHandler):
    """No access log line per request (the publisher makes hundreds)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _error(
    environ: dict[str, Any], start_response: Callable[..., Any], status: str, code: str
) -> list[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # keep-alive stays usable
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>injected by the test</Message></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


def credentials_file(path: Path, key_id: str = "AKIATESTKEY", secret: str = "test-secret") -> Path:
    """An INI credentials file (as ``~/.aws/credentials``) at ``path``."""
    path.write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    path.chmod(0o600)
    return path
