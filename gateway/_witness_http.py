"""The HTTP side of pushing checkpoints: one keep-alive connection per witness.

A :class:`WitnessTransport` posts a request body to a path under the
witness's submission prefix and returns the :class:`Reply`, whatever its
status. When there is no complete answer (connection refused or reset,
timeout, truncated body) it raises :class:`OSError` or
:class:`http.client.HTTPException`. :class:`HttpTransport` is the real one
(:mod:`http.client`); tests plug in fakes.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MAX_REPLY_BYTES", "HttpTransport", "Reply", "WitnessTransport"]

MAX_REPLY_BYTES = 64 * 1024
"""Longest reply read: 100 cosignature lines fit many times over."""

# What a reused keep-alive connection raises when the witness had closed it.
_STALE = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


@dataclass(frozen=True, slots=True)
class Reply:
    """A witness's answer: ``status``, ``content_type`` (lower case, no parameters), ``body``."""

    status: int
    content_type: str
    body: bytes


class WitnessTransport(Protocol):
    """Posts to one witness. Used by one thread, but :meth:`close` may come from another."""

    def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` to ``<prefix><path>``; raise OSError or HTTPException without an answer."""
        ...

    def close(self) -> None:
        """Drop the connection (from any thread: interrupts a post in progress)."""
        ...


class HttpTransport:
    """A keep-alive :mod:`http.client` connection to the witness at ``url``.

    ``timeout`` (seconds) bounds connecting and each read. A request that
    fails on a reused connection before any answer (the witness closed an
    idle connection) is sent once more on a fresh one: ``add-checkpoint`` may
    safely be repeated.

    Raises (constructor):
        ValueError: ``url`` is not an http:// or https:// URL with a host.
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"witness url must be http(s)://host[:port][/prefix]: {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # guards _conn against close() from another thread

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._conn is not None:
                return self._conn, True
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._netloc, timeout=self._timeout)
            return self._conn, False

    def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` (``text/plain``) to ``<prefix><path>``; see :class:`WitnessTransport`."""
        conn, reused = self._connection()
        try:
            return self._exchange(conn, path, body)
        except _STALE:
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()
            raise
        conn, _ = self._connection()
        try:
            return self._exchange(conn, path, body)
        except BaseException:
            self.close()
            raise

    def _exchange(self, conn: http.client.HTTPConnection, path: str, body: bytes) -> Reply:
        conn.request(
            "POST",
            self._prefix + path,
            body=body,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        response = conn.getresponse()
        data = response.read(MAX_REPLY_BYTES + 1)
        if len(data) > MAX_REPLY_BYTES:
            raise http.client.HTTPException(f"reply longer than {MAX_REPLY_BYTES} bytes")
        if response.will_close:
            self.close()
        content_type = response.getheader("Content-Type", "") or ""
        return Reply(response.status, content_type.split(";")[0].strip().lower(), data)

    def close(self) -> None:
        """Drop the connection; a post blocked on it in another thread fails at once."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
