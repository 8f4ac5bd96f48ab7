"""The production HTTP server of every farmtrace service: waitress, one process, threads.

Why waitress (docs/deploy.md says more): each service holds state that one
process must own (the gateway's and the site's LevelDB, which allows one
process per database, a witness's lock, a desk's signer seq state), so a
prefork server's workers could not each open it; waitress serves one
process with a pool of threads, keeps connections alive (HTTP/1.1), bounds
connections, request sizes and idle time, and is pure Python.

:class:`WsgiServer` binds at construction (port 0 picks a free port), serves
in a thread (:meth:`start`) or in the caller's (:meth:`run`), and
:meth:`stop` is graceful: the listening socket closes first, requests in
progress finish and their responses are sent (up to ``drain_seconds``),
then every connection closes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

__all__ = ["ServerSettings", "WsgiServer"]

_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How a service's HTTP server behaves (defaults suit a small co-op's server).

    ``trusted_proxy`` is the address of the reverse proxy (nginx) whose
    ``X-Forwarded-Proto``/``-For``/``-Host`` headers are believed (None: none are).
    """

    threads: int = 8
    connection_limit: int = 256
    idle_timeout: int = 60
    """Seconds a kept-alive connection may stay idle before the server closes it."""
    max_request_body: int = 1_048_576
    drain_seconds: float = 10.0
    trusted_proxy: str | None = None

    def waitress_options(self) -> dict[str, Any]:
        """The settings as waitress ``Adjustments`` keywords."""
        options: dict[str, Any] = {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            "channel_timeout": self.idle_timeout,
            "cleanup_interval": max(1, min(30, self.idle_timeout // 2)),
            "max_request_body_size": self.max_request_body,
            "ident": "farmtrace",
            "asyncore_use_poll": True,
        }
        if self.trusted_proxy is not None:
            options |= {
                "trusted_proxy": self.trusted_proxy,
                "trusted_proxy_count": 1,
                "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
                "clear_untrusted_proxy_headers": True,
            }
        return options


class WsgiServer:
    """``app`` served on ``host:port`` by waitress.

    Raises (from the constructor):
        OSError: ``host:port`` cannot be bound.
        ValueError: a setting waitress refuses.
    """

    def __init__(
        self, app: Any, host: str, port: int, settings: ServerSettings = ServerSettings()
    ) -> None:
        self.settings = settings
        self._map: dict[int, Any] = {}
        try:
            server = create_server(
                app, map=self._map, host=host, port=port, **settings.waitress_options()
            )
        except BaseException:  # waitress leaves its wake-up pipe and socket open
            wasyncore.close_all(self._map)
            raise
        assert isinstance(server, BaseWSGIServer), "one listening address"
        self._server = server
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the free one picked for port 0)."""
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = str(self._server.effective_host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self.run, name="http", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread or a signal handler)."""
        try:
            while not self._stop.is_set():
                wasyncore.loop(_POLL_SECONDS, True, self._map, 1)
            self._drain()
        finally:
            self._stopped.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully; wait (up to ``timeout``) until done if it is served by :meth:`start`.

        Safe to call from a signal handler, and more than once.
        """
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        """Free the port of a server that was never run (or has stopped)."""
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self._map)

    def _busy(self) -> bool:
        return any(
            channel.requests or channel.total_outbufs_len
            for channel in list(self._server.active_channels.values())
        )

    def _drain(self) -> None:
        """Stop accepting, let requests in progress finish and flush, then close everything."""
        wasyncore.dispatcher.close(self._server)  # the listening socket only
        deadline = time.monotonic() + self.settings.drain_seconds
        while self._busy() and time.monotonic() < deadline:
            wasyncore.loop(_POLL_SECONDS / 4, True, self._map, 1)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self._map)
