"""Pack pages for 50 concurrent clients: Werkzeug's dev server, waitress, nginx (TLS) in front.

The story farm's default log (``demo.story_farm``), served by the consumer
site's app in a child process under (a) Werkzeug's development server (what
``site run`` used before), (b) waitress as ``site run`` now serves it, and
(c) the same waitress behind nginx with TLS and HTTP/1.1 keep-alive, as
``farmtrace deploy`` configures it. 50 client threads in this process, each
on its own kept-alive connection (a new one per request for Werkzeug, which
closes them), fetch the shelf's pack pages in turn after one warming pass.
Raw limit measured in the same run: nginx serving a static file
(``/static/site.css``) to the same 50 clients, i.e. what this client and TLS
stack can take at all. p50/p99 latency and requests/s of wall time.

Run alone: ``.venv/bin/python bench/serving_bench.py [--quick]``.
"""

from __future__ import annotations

import dataclasses
import getpass
import http.client
import logging
import multiprocessing
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from _common import REPO, Figure, main_for, percentile

CLIENTS = 50
NGINX = Path("/usr/sbin/nginx")


@dataclass
class _StoryData:
    store: object
    trust: object
    witnesses: tuple[str, ...] = ()

    def status(self) -> object:
        from consumer_web._replica_state import ReplicaStatus

        size, signed = self.store.latest_checkpoint() or (0, None)  # type: ignore[attr-defined]
        return ReplicaStatus(size, signed, None, (), ())


def _serve(kind: str, data_root: str, public_url: str, pipe: Connection) -> None:
    """Child process: the site's app over the story log, served by ``kind``, until killed."""
    from chain.store import Store
    from chain.trust import TrustRoot
    from consumer_web import create_app
    from gateway.datadir import DataDir
    from readapi.wsgi_server import ServerSettings, WsgiServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" under load
    data_dir = DataDir(Path(data_root))
    store = Store.open(data_dir.log)
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    app = create_app(
        {"SITE_DATA": _StoryData(store, trust), "PUBLIC_URL": public_url, "WARM_CACHE": False}
    )
    if kind == "werkzeug":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        pipe.send(server.server_port)
        server.serve_forever()
    else:
        waitress = WsgiServer(app, "127.0.0.1", 0, ServerSettings(threads=8))
        pipe.send(waitress.port)
        waitress.run()


@dataclass
class _Load:
    latencies: list[float]
    wall_s: float
    errors: int


def _load(
    connect: Callable[[], http.client.HTTPConnection],
    paths: list[str],
    host: str,
    per_client: int,
    keep_alive: bool,
) -> _Load:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def client(n: int) -> None:
        mine: list[float] = []
        connection = connect()
        start.wait()
        for i in range(per_client):
            path = paths[(n + i) % len(paths)]
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Host": host})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            mine.append(time.perf_counter() - began)
            if not ok:
                with lock:
                    errors[0] += 1
            if not keep_alive or not ok:
                connection.close()
                connection = connect()
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return _Load(sorted(latencies), time.perf_counter() - began, errors[0])


def _figures(name: str, load: _Load, note: str = "") -> list[Figure]:
    count = len(load.latencies)
    note = f"{note}; {load.errors} errors" if load.errors else note
    return [
        Figure(f"{name}: p50", load.latencies[count // 2] * 1000, "ms", note=note),
        Figure(f"{name}: p99", percentile(load.latencies, 99) * 1000, "ms"),
        Figure(f"{name}: throughput", count / load.wall_s, "req/s"),
    ]


def _start_server(kind: str, data_root: Path, public_url: str) -> tuple[object, int]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(kind, str(data_root), public_url, child), daemon=True
    )
    process.start()
    if not parent.poll(120):
        raise RuntimeError(f"{kind} did not start")
    return process, int(parent.recv())


def _nginx(
    tmp: Path, site_port: int, https_port: int, page_cache_seconds: int
) -> tuple[subprocess.Popen[bytes], Path]:
    sys.path.insert(0, str(REPO / "tests" / "deploy"))
    from deploy_pki import make_pki

    from deployment import Machine, nginx_plan, standalone_conf

    tmp.mkdir()
    pki = make_pki(tmp, ["trace.test"])
    machine = Machine(
        parts=("site",),
        hosts={"site": "trace.test"},
        tls_cert=pki.cert,
        tls_key=pki.key,
        ports={"site": site_port},
        static_root=REPO / "consumer_web" / "static",
        page_cache_seconds=page_cache_seconds,
    )
    plan = dataclasses.replace(nginx_plan(machine, https_port, None), listen="127.0.0.1")
    (tmp / "tmp").mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        standalone_conf(plan, tmp, Path("/etc/nginx/mime.types"), user=getpass.getuser())
    )
    proc = subprocess.Popen([str(NGINX), "-p", str(tmp), "-c", str(conf)])
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            return proc, pki.ca
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("nginx did not start") from None
            time.sleep(0.05)


class _TlsConnection(http.client.HTTPSConnection):
    """HTTPS to nginx on 127.0.0.1 with SNI ``trace.test`` (its certificate checked)."""

    def __init__(self, context: ssl.SSLContext, port: int) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=60)
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock = self._tls.wrap_socket(raw, server_hostname="trace.test")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(quick: bool = False) -> list[Figure]:
    """Build the log, then load each server with 50 clients; the figures."""
    from demo.story_farm import StoryFarm, build_story_log
    from gateway.datadir import DataDir

    per_client = 4 if quick else 40
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data_dir = DataDir(tmp / "farm")
        manifest = build_story_log(data_dir, StoryFarm())
        paths = [f"/01/{p.gtin}/21/{p.serial}" for p in manifest.packs]
        https_port = _free_port()
        public = f"https://trace.test:{https_port}"

        def plain(port: int) -> Callable[[], http.client.HTTPConnection]:
            return lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        servers = []
        try:
            werkzeug, port = _start_server("werkzeug", data_dir.root, public)
            servers.append(werkzeug)
            _load(plain(port), paths, "127.0.0.1", 1, False)  # warm the stories
            load = _load(plain(port), paths, "127.0.0.1", per_client, False)
            figures += _figures("pack page, Werkzeug dev server", load, "before")
            werkzeug.terminate()  # type: ignore[attr-defined]  # LevelDB: one process at a time
            werkzeug.join(10)  # type: ignore[attr-defined]
            waitress, port = _start_server("waitress", data_dir.root, public)
            servers.append(waitress)
            _load(plain(port), paths, "127.0.0.1", 1, True)
            figures += _figures(
                "pack page, waitress", _load(plain(port), paths, "127.0.0.1", per_client, True)
            )
            for cache_s in (0, 1) if NGINX.exists() else ():
                nginx, ca = _nginx(tmp / f"nginx{cache_s}", port, https_port, cache_s)
                context = ssl.create_default_context(cafile=str(ca))

                def tls(context: ssl.SSLContext = context) -> http.client.HTTPConnection:
                    return _TlsConnection(context, https_port)

                try:
                    load = _load(tls, paths, "trace.test", per_client, True)
                    name = "nginx TLS -> waitress" + (
                        f", {cache_s} s page cache" if cache_s else ""
                    )
                    figures += _figures(f"pack page, {name}", load)
                    if not cache_s:
                        css = _load(tls, ["/static/site.css"], "trace.test", per_client, True)
                        figures += _figures("raw: nginx TLS static file", css, "raw limit")
                finally:
                    nginx.terminate()
                    nginx.wait(10)
        finally:
            for process in servers:
                process.terminate()  # type: ignore[attr-defined]
                process.join(10)  # type: ignore[attr-defined]
    return figures


if __name__ == "__main__":
    main_for(__doc__.splitlines()[0] if __doc__ else "serving", run)
    sys.exit(0)
