"""What the long-running subcommands (site, desk, witness) share: URL checks and clean stops."""

from __future__ import annotations

import signal
import threading
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer

__all__ = ["check_url", "serve_until_signalled"]


def check_url(url: str, option: str = "--url") -> str | None:
    """Why ``url`` is no http(s) base address (no query or fragment), or None if it is."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"{option} {url!r}: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{option} {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]"
    if parts.query or parts.fragment:
        return f"{option} {url!r}: expected no query or fragment"
    return None


def serve_until_signalled(server: BaseWSGIServer) -> None:
    """Serve until SIGTERM or SIGINT (Ctrl-C), then close the listening socket.

    Signal handlers can only be set from the main thread; elsewhere (tests)
    the caller stops the server with ``server.shutdown()``.
    """
    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, name="shutdown").start()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
