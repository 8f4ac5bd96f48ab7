"""What the long-running subcommands share: stopping cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["serve", "serve_until_signalled", "stop_on_signals"]


def serve(
    command: str,
    app: Any,
    host: str,
    port: int,
    on_listening: Callable[[str], None],
    close: Callable[[], None],
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT, then ``close()`` it; the exit code.

    ``on_listening(url)`` is called once the port is bound. Exit 0 after a
    clean stop, 2 (after ``close()``) if ``host:port`` cannot be bound.
    """
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        close()
        print(f"farmtrace {command}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    on_listening(f"http://{host}:{server.server_port}")
    try:
        serve_until_signalled(server)
    finally:
        close()
    return 0


def stop_on_signals(stop: threading.Event, duration: float | None = None) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (main thread only), or after ``duration`` seconds."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    if duration is not None:
        timer = threading.Timer(float(duration), stop.set)
        timer.daemon = True
        timer.start()


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
