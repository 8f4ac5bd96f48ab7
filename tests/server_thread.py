"""A test's HTTP server on a thread of its own, stopped and closed in one call."""

from __future__ import annotations

import socketserver
import threading

__all__ = ["ServerThread"]


class ServerThread:
    """Serves ``server`` (http.server's, werkzeug's: a socketserver) until :meth:`stop`."""

    def __init__(self, server: socketserver.BaseServer) -> None:
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.server.server_address[1])  # type: ignore[index]

    def stop(self) -> None:
        """Stop serving, close the listening socket, wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
