"""A real nginx serving a tlog-tiles directory, unprivileged, for tests and benchmarks.

Configured as docs/tiles.md recommends (immutable caching for tiles and
``block/`` files, no caching for ``checkpoint``): the very locations
``farmtrace deploy`` writes for a tiles host (deployment.nginx.tiles_locations),
here over plain HTTP, with its pid file, temp
paths and logs in a scratch directory, ``daemon off`` so that it is our
child, on a free loopback port. Its workers run as we do (as root, nginx
would otherwise switch them to nobody, who cannot read pytest's private tmp
dirs). The access log has one line per request, so callers can count what
nginx served.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deployment.nginx import tiles_locations

NGINX = "/usr/sbin/nginx"

_CONF = """\
daemon off;
user {user} {group};
worker_processes {workers};
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {scratch}/access.log;
    client_body_temp_path {scratch}/body;
    proxy_temp_path {scratch}/proxy;
    fastcgi_temp_path {scratch}/fastcgi;
    uwsgi_temp_path {scratch}/uwsgi;
    scgi_temp_path {scratch}/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
"""


def _locations(root: Path) -> str:
    return "\n".join(
        f"        location {loc.match} {{ {' '.join(loc.directives)} }}"
        for loc in tiles_locations(root)
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StaticNginx:
    """nginx serving ``root``; :meth:`start` returns it running, :meth:`stop` ends it."""

    root: Path
    scratch: Path
    workers: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        """Requests nginx has logged (it logs each when it ends)."""
        log = self.scratch / "access.log"
        return log.read_text().count("\n") if log.exists() else 0

    def start(self) -> StaticNginx:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):  # the free port may be taken between probe and bind
            self.port = _free_port()
            conf = self.scratch / "nginx.conf"
            conf.write_text(
                _CONF.format(
                    scratch=self.scratch,
                    locations=_locations(self.root),
                    port=self.port,
                    workers=self.workers,
                    user=pwd.getpwuid(os.geteuid()).pw_name,
                    group=grp.getgrgid(os.getegid()).gr_name,
                )
            )
            self.process = subprocess.Popen(
                [
                    NGINX,
                    "-c",
                    str(conf),
                    "-p",
                    str(self.scratch),
                    "-e",
                    str(self.scratch / "error.log"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._await_listening():
                return self
            self.stop()
        raise RuntimeError(f"nginx did not start: {(self.scratch / 'error.log').read_text()}")

    def _await_listening(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
