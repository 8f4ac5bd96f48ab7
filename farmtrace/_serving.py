"""What the long-running subcommands share: the production HTTP server, stopping on signals.

Every HTTP service (site, desk, witness; the gateway inside its own process)
is served by :class:`readapi.wsgi_server.WsgiServer` (waitress), in
development as in production: one server, tested once. SIGTERM (systemd's
stop) and SIGINT (Ctrl-C) stop it gracefully.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from readapi.wsgi_server import ServerSettings, WsgiServer

__all__ = ["add_server_options", "serve", "server_settings", "stop_on_signals"]


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads``, ``--idle-timeout`` and ``--trusted-proxy`` to a ``run`` parser."""
    defaults = ServerSettings()
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="requests served at once (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=int,
        default=defaults.idle_timeout,
        metavar="SECONDS",
        help="close a kept-alive connection idle this long (default: %(default)s)",
    )
    parser.add_argument(
        "--trusted-proxy",
        metavar="ADDRESS",
        help="the reverse proxy (e.g. 127.0.0.1 for nginx on this host) whose "
        "X-Forwarded-Proto/-For headers are believed (default: none)",
    )


def server_settings(args: argparse.Namespace) -> ServerSettings:
    """The settings :func:`add_server_options` parsed.

    Raises:
        ValueError: a non-positive thread count or idle timeout.
    """
    if args.threads < 1 or args.idle_timeout < 1:
        raise ValueError("--threads and --idle-timeout: expected positive numbers")
    return ServerSettings(
        threads=args.threads, idle_timeout=args.idle_timeout, trusted_proxy=args.trusted_proxy
    )


def serve(
    command: str,
    app: Any,
    host: str,
    port: int,
    on_listening: Callable[[str], None],
    close: Callable[[], None],
    settings: ServerSettings | None = None,
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT, then ``close()`` it; the exit code.

    ``on_listening(url)`` is called once the port is bound. Exit 0 after a
    clean stop, 2 (after ``close()``) if ``host:port`` cannot be bound or a
    setting is refused.
    """
    try:
        server = WsgiServer(app, host, port, settings or ServerSettings())
    except (OSError, ValueError) as exc:
        close()
        print(f"farmtrace {command}: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: server.stop())
    try:
        on_listening(server.url)
        server.run()
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
