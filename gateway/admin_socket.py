"""The running gateway's admin socket: backups of the store it holds open.

LevelDB admits one process per store, so while the gateway runs only it can
read its store: ``farmtrace gateway backup`` asks it through a Unix socket,
``<data-dir>/admin.sock`` (mode 0600: only the gateway's own user, who can
read the data directory anyway, may connect). One request and one answer per
connection, each a JSON object on one line::

    → {"op": "backup", "out": "/abs/path", "include_keys": false}
    ← {"ok": true, "manifest": {...}}   or   {"ok": false, "error": "..."}

The gateway writes the backup itself (:func:`gateway.backup.write_backup`,
from a LevelDB snapshot), so ``out`` is a path on the gateway's machine.
A Unix socket path is limited to about 100 bytes: with a data directory
deeper than that the socket is not served (a warning says so) and backups
need the gateway stopped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.errors import FarmtraceError, MalformedError, SourceError
from chain.json_input import load_json_object
from chain.store import Store
from gateway.backup import BackupManifest, backup_data_dir, write_backup
from gateway.datadir import DataDir

__all__ = ["MAX_SOCKET_PATH", "AdminSocket", "back_up", "request_backup"]

_logger = logging.getLogger(__name__)

MAX_SOCKET_PATH = 100
"""Longest socket path served (Linux's ``sun_path`` holds 107 bytes)."""

_MAX_REQUEST = 8192


@dataclass(frozen=True, slots=True)
class _Context:
    store: Store
    data_dir: DataDir


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    timeout = 10.0  # a client that sends nothing does not hold the (one) server thread

    def handle(self) -> None:
        line = self.rfile.readline(_MAX_REQUEST)
        try:
            answer: dict[str, Any] = {"ok": True, "manifest": self._serve(line)}
        except (FarmtraceError, OSError) as exc:
            _logger.warning("admin socket: refused: %s", exc)
            answer = {"ok": False, "error": str(exc)}
        self.wfile.write(json.dumps(answer).encode() + b"\n")

    def _serve(self, line: bytes) -> dict[str, Any]:
        request = load_json_object(line.strip(), "admin request")
        out, include_keys = request.get("out"), request.get("include_keys", False)
        if request.get("op") != "backup":
            raise MalformedError(
                f"admin request: expected op 'backup', found {request.get('op')!r}"
            )
        if not isinstance(out, str) or not os.path.isabs(out):
            raise MalformedError(f"admin request: expected an absolute 'out' path, found {out!r}")
        if not isinstance(include_keys, bool):
            raise MalformedError("admin request: 'include_keys' must be true or false")
        context = self.server.context
        manifest = write_backup(
            context.store,
            context.data_dir,
            Path(out),
            include_keys=include_keys,
            now_ms=time.time_ns() // 1_000_000,
        )
        _logger.info("backup written to %s: %s", out, manifest.describe())
        return json.loads(manifest.to_json())  # type: ignore[no-any-return]


class _Server(socketserver.UnixStreamServer):
    def __init__(self, path: str, context: _Context) -> None:
        self.context = context
        super().__init__(path, _Handler)


class AdminSocket:
    """Serves ``data_dir``'s admin socket for the gateway that holds ``store`` open.

    Precondition: the caller holds the store (so no other gateway serves this
    directory): a socket file left by a crashed gateway is replaced.
    """

    def __init__(self, store: Store, data_dir: DataDir) -> None:
        self.path = data_dir.admin_socket
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._context = _Context(store, data_dir)

    def start(self) -> bool:
        """Start serving in a thread; False (logged) if the path is too long to bind.

        Raises:
            OSError: the socket cannot be created.
        """
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH:
            _logger.warning(
                "no admin socket: %s is longer than %d bytes; stop the gateway to back it up",
                self.path,
                MAX_SOCKET_PATH,
            )
            return False
        self.path.unlink(missing_ok=True)
        old_mask = os.umask(0o177)  # created 0600: no window in which others may connect
        try:
            self._server = _Server(str(self.path), self._context)
        finally:
            os.umask(old_mask)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="admin-socket", daemon=True
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop serving and remove the socket file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self.path.unlink(missing_ok=True)
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def request_backup(
    data_dir: DataDir, out: Path, *, include_keys: bool, timeout: float = 600.0
) -> BackupManifest:
    """Ask the gateway running on ``data_dir`` to back itself up into ``out``.

    Raises:
        ConnectionRefusedError, FileNotFoundError: no gateway serves the socket
            (it is stopped: back up the directory directly).
        SourceError: the gateway refused (its message says why), or answered badly.
        OSError: the exchange failed.
    """
    where = str(data_dir.admin_socket)
    request = {"op": "backup", "out": str(Path(out).absolute()), "include_keys": include_keys}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(where)
        conn.sendall(json.dumps(request).encode() + b"\n")
        with conn.makefile("rb") as answers:
            line = answers.readline(_MAX_REQUEST)
    try:
        answer = load_json_object(line.strip(), "the gateway's answer")
    except MalformedError as exc:
        raise SourceError(str(exc), reason="malformed_response", url=where) from exc
    if answer.get("ok") is not True:
        raise SourceError(
            f"the gateway refused the backup: {answer.get('error')}", reason="http_error", url=where
        )
    manifest = answer.get("manifest")
    try:
        if not isinstance(manifest, dict):
            raise TypeError("not an object")
        return BackupManifest(**manifest)
    except TypeError as exc:
        raise SourceError(
            f"the gateway's answer: expected a backup manifest, found {manifest!r}",
            reason="malformed_response",
            url=where,
        ) from exc


def back_up(data_dir: DataDir, out: Path, *, include_keys: bool, now_ms: int) -> BackupManifest:
    """Back up ``data_dir`` into ``out``: through the running gateway, else directly.

    Raises:
        SourceError: the running gateway refused (e.g. ``out`` exists) or answered badly.
        StorageError: the gateway is stopped and the store cannot be opened or copied.
        FileExistsError, OSError: as :func:`gateway.backup.write_backup`.
    """
    try:
        return request_backup(data_dir, out, include_keys=include_keys)
    except (ConnectionRefusedError, FileNotFoundError):  # no gateway listens: it is stopped
        return backup_data_dir(data_dir, out, include_keys=include_keys, now_ms=now_ms)
