"""The stack as a co-op deploys it: nginx with TLS in front of the site, the desk, a witness, tiles.

Started once for the module, each a real process: Mosquitto with passwords,
``farmtrace gateway run`` (password from a file), ``site run`` (its pages
reading proofs from the tiles host), ``desk run`` and ``witness serve``
under the production WSGI server (waitress), ``farmtrace tiles --follow``
publishing the site's log into a directory, and Debian's nginx,
unprivileged, with the server blocks ``farmtrace deploy`` writes (the
tiles served from that directory) and a certificate from a CA made here;
a device (``farmtrace device run``) sends over Mosquitto's TLS listener
with that CA and a client certificate. Checked: the certificate chain (Python's ssl against the CA),
HTTP/2, security and caching headers, keep-alive, compression, refused host
names, the desk's log-in rate limit, no password in any process's arguments,
the device's readings committed, the tiles' caching and CORS headers, and a
pack page through nginx in Chromium with the in-browser verification passing
on proofs read from the tiles host.
"""

from __future__ import annotations

import dataclasses
import getpass
import gzip
import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from deploy_device import DEVICE, TlsDevice, start_tls_device
from deploy_pki import Pki, make_pki
from deploy_stack import NGINX, Service, Services, command_lines, farmtrace_once
from mqtt_broker import Broker, free_port, secured_settings

from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from deployment import Machine, nginx_plan, standalone_conf
from gateway.broker_config import TlsFiles
from gateway.datadir import DataDir

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
NAMES = {
    "site": "trace.test",
    "desk": "desk.test",
    "witness": "witness.test",
    "tiles": "tiles.test",
}
FARM = StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=1)
PASSWORDS = {"gateway": "gw-Very-Secret-41", "deskop": "desk-Very-Secret-42"}


@dataclass
class Stack:
    pki: Pki
    https_port: int
    http_port: int
    manifest: StoryManifest
    services: Services
    device: TlsDevice
    broker_conf: Path
    tiles_dir: Path

    def connect(self, name: str, alpn: tuple[str, ...] = ("http/1.1",)) -> ssl.SSLSocket:
        """A TLS connection to nginx for host ``name``, the chain checked against the CA."""
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.set_alpn_protocols(list(alpn))
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=15)
        try:
            return context.wrap_socket(raw, server_hostname=name)
        except BaseException:
            raw.close()
            raise

    def https(self, name: str) -> http.client.HTTPSConnection:
        """An HTTP/1.1 connection (kept alive) to host ``name`` through nginx."""
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=context, timeout=15
        )
        connection.sock = self.connect(name)
        return connection

    def get(
        self, name: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = self.https(name)
        try:
            host = {"Host": f"{name}:{self.https_port}"}
            connection.request("GET", path, headers=host | (headers or {}))
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def _start(root: Path, services: Services) -> Stack:
    data_dir = DataDir(root / "farm")
    manifest = build_story_log(data_dir, FARM)
    pki = make_pki(root, list(NAMES.values()))
    https_port, http_port = free_port(), free_port()
    settings = secured_settings(
        root / "broker",
        farm=FARM.farm_id,
        devices=("deskop", manifest.admin, DEVICE),
        passwords=PASSWORDS,
        tls=TlsFiles(pki.ca, pki.cert, pki.key),  # for devices, as docs/broker.md deploys it
        tls_port=free_port(),
        tls_bind="127.0.0.1",
    )
    broker = Broker(root / "broker", settings)
    broker.start()
    services.started.append(_BrokerService(broker))  # type: ignore[arg-type]  # stops last
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    for user, password in PASSWORDS.items():
        (secrets / user).write_text(password + "\n")
    mqtt = f"127.0.0.1:{broker.port}"
    gateway = services.farmtrace(
        "gateway", "gateway", "run", "--data-dir", str(data_dir.root), "--farm", FARM.farm_id,
        "--mqtt", f"mqtt://gateway@{mqtt}", "--mqtt-password-file", str(secrets / "gateway"),
        "--http-port", "0",
    )  # fmt: skip
    gateway_url = gateway.wait_for(r"gateway running: (http://\S+)/checkpoint")[1]
    device = start_tls_device(
        root, services, broker, pki, data_dir.signer_key(manifest.admin),
        manifest.last_seqs[manifest.admin] + 1, FARM.farm_id, gateway_url,
    )  # fmt: skip
    site_dir, desk_dir, witness_dir = root / "site", root / "desk", root / "witness"
    farmtrace_once("site", "init", "--site-dir", str(site_dir), "--trust", str(data_dir.trust))
    public = f"https://{NAMES['site']}:{https_port}"
    site = services.farmtrace(
        "site", "site", "run", "--site-dir", str(site_dir), "--source", gateway_url,
        "--port", "0", "--public-url", public, "--trusted-proxy", "127.0.0.1",
        "--sync-interval", "1", "--tiles-url", f"https://{NAMES['tiles']}:{https_port}/",
    )  # fmt: skip
    farmtrace_once("desk", "init", "--desk-dir", str(desk_dir), "--operator-id", "deskop")
    farmtrace_once(
        "desk", "adduser", "--desk-dir", str(desk_dir), "--username", "maria",
        "--password-stdin", stdin="a long enough secret\n",
    )  # fmt: skip
    desk = services.farmtrace(
        "desk", "desk", "run", "--desk-dir", str(desk_dir), "--mqtt", f"mqtt://deskop@{mqtt}",
        "--mqtt-password-file", str(secrets / "deskop"), "--farm", FARM.farm_id,
        "--check-url", gateway_url, "--role", "plant", "--port", "0", "--secure-cookie",
        "--trusted-proxy", "127.0.0.1",
    )  # fmt: skip
    farmtrace_once(
        "witness", "init", "--dir", str(witness_dir), "--name", "witness.test/w",
        "--trust", str(data_dir.trust),
    )  # fmt: skip
    witness = services.farmtrace(
        "witness", "witness", "serve", "--dir", str(witness_dir), "--port", "0",
        "--trusted-proxy", "127.0.0.1",
    )  # fmt: skip
    ports = {
        "site": int(site.wait_for(r"site running: http://127\.0\.0\.1:(\d+)/")[1]),
        "desk": int(desk.wait_for(r"desk running: http://127\.0\.0\.1:(\d+)/")[1]),
        "witness": int(witness.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")[1]),
        "gateway": 0,
    }
    tiles_dir = root / "tiles"  # from the site's read API: never ahead of the site (docs/tiles.md)
    services.farmtrace(
        "tiles", "tiles", "--url", f"http://127.0.0.1:{ports['site']}",
        "--trust", str(data_dir.trust), "--dir", str(tiles_dir), "--follow", "1",
    )  # fmt: skip
    machine = Machine(
        parts=("site", "desk", "witness", "tiles"),
        hosts=NAMES,
        tls_cert=pki.cert,
        tls_key=pki.key,
        ports=ports,
        static_root=ROOT / "consumer_web" / "static",
        tiles_dir=tiles_dir,
    )
    plan = dataclasses.replace(nginx_plan(machine, https_port, http_port), listen="127.0.0.1")
    prefix = root / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        standalone_conf(plan, prefix, Path("/etc/nginx/mime.types"), user=getpass.getuser())
    )
    nginx = services.start("nginx", [str(NGINX), "-p", str(prefix), "-c", str(conf)])
    stack = Stack(pki, https_port, http_port, manifest, services, device, broker.config, tiles_dir)
    _await_nginx(stack, nginx)
    device.service()  # registered and started meanwhile
    return stack


@dataclass
class _BrokerService:
    """The broker in the list of services (stopped last)."""

    broker: Broker
    name: str = "broker"

    def stop(self) -> int:
        self.broker.kill()
        return 0


def _await_nginx(stack: Stack, nginx: Service) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            stack.connect(NAMES["site"]).close()
            return
        except OSError:
            assert nginx.proc.poll() is None, nginx.log.read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not NGINX.exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    root = tmp_path_factory.mktemp("stack")
    services = Services(root)
    try:
        yield _start(root, services)
    finally:
        codes = services.stop_all()
    # Every service stops cleanly on SIGTERM (systemd's stop), nginx included.
    assert {name: code for name, code in codes.items() if code != 0} == {}


def _pack_path(stack: Stack) -> str:
    pack = stack.manifest.packs[0]
    return f"/01/{pack.gtin}/21/{pack.serial}"


def _synced_pack(stack: Stack) -> tuple[int, dict[str, str], bytes]:
    deadline = time.monotonic() + 60
    while True:
        status, headers, body = stack.get(NAMES["site"], _pack_path(stack))
        if status == 200 or time.monotonic() > deadline:
            return status, headers, body
        time.sleep(0.2)


def _size(checkpoint: bytes) -> int:
    """The tree size of a C2SP checkpoint (its second line)."""
    return int(checkpoint.split(b"\n")[1])


def _await_tiles(stack: Stack) -> int:
    """The tiles' checkpoint size, once it reaches the site's size as of now."""
    _synced_pack(stack)
    status, _, body = stack.get(NAMES["site"], "/checkpoint")
    assert status == 200, body
    wanted = _size(body)
    deadline = time.monotonic() + 30
    while True:
        status, _, body = stack.get(NAMES["tiles"], "/checkpoint")
        if status == 200 and _size(body) >= wanted:
            return _size(body)
        assert time.monotonic() < deadline, (status, body, wanted)
        time.sleep(0.1)


def test_tiles_are_served_from_disk_with_their_caching_and_cors(stack: Stack) -> None:
    _await_tiles(stack)
    connection = stack.https(NAMES["tiles"])  # one kept-alive TLS connection for them all
    try:
        sock = connection.sock

        def get(path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
            connection.request("GET", path, headers={"Host": NAMES["tiles"], **headers})
            response = connection.getresponse()
            body = response.read()
            assert connection.sock is sock
            return response.status, dict(response.getheaders()), body

        status, headers, body = get("/checkpoint")
        assert status == 200 and _size(body) > 0
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["Cache-Control"] == "no-cache"
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Strict-Transport-Security"] == "max-age=63072000"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert get("/checkpoint", **{"If-None-Match": headers["ETag"]})[0] in (200, 304)
        tile = next(p for p in sorted((stack.tiles_dir / "tile" / "0").rglob("*")) if p.is_file())
        block = next(p for p in sorted((stack.tiles_dir / "block").rglob("*")) if p.is_file())
        for path in (tile, block):
            status, headers, body = get(
                "/" + str(path.relative_to(stack.tiles_dir)), **{"Accept-Encoding": "gzip"}
            )
            assert status == 200 and body == path.read_bytes(), path
            assert headers["Content-Type"] == "application/octet-stream"
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert headers["Access-Control-Allow-Origin"] == "*"
            assert headers["Strict-Transport-Security"] == "max-age=63072000"
            assert "Content-Encoding" not in headers  # binary: never compressed
        for path in ("/", "/api/v1/log", "/tile/0/.000.tmp", "/etc/passwd"):
            assert get(path)[0] == 404, path  # nothing else, nothing proxied
    finally:
        connection.close()


def test_tls_chain_names_and_http2(stack: Stack) -> None:
    with stack.connect(NAMES["site"], alpn=("h2", "http/1.1")) as tls:
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        names = [value for kind, value in tls.getpeercert()["subjectAltName"] if kind == "DNS"]
        assert sorted(names) == sorted(NAMES.values())
    context = ssl.create_default_context()  # the system's CAs do not know ours
    with (
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname=NAMES["site"])


def test_a_pack_page_through_nginx_has_the_security_and_transport_headers(stack: Stack) -> None:
    status, headers, body = _synced_pack(stack)
    assert status == 200, body[:300]
    assert stack.manifest.packs[0].serial.encode() in body
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Server"] == "nginx"  # no version
    status, headers, body = stack.get(NAMES["site"], _pack_path(stack), {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert stack.manifest.packs[0].serial.encode() in gzip.decompress(body)


def test_connections_are_kept_alive(stack: Stack) -> None:
    connection = stack.https(NAMES["site"])
    try:
        sock = connection.sock
        for path in ("/", "/static/site.css", _pack_path(stack), "/checkpoint"):
            connection.request("GET", path, headers={"Host": NAMES["site"]})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, path
            assert response.getheader("Connection", "keep-alive").lower() != "close"
            assert connection.sock is sock  # the same TLS connection every time
    finally:
        connection.close()


def test_static_files_and_blocks_are_cacheable(stack: Stack) -> None:
    status, headers, _ = stack.get(NAMES["site"], "/static/site.css")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=3600"
    assert headers["Content-Type"].startswith("text/css")
    status, _, _ = stack.get(NAMES["site"], "/static/site.css", {"If-None-Match": headers["ETag"]})
    assert status == 304
    status, headers, _ = stack.get(NAMES["site"], "/static/verify.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    status, headers, _ = stack.get(NAMES["site"], "/api/v1/blocks/0")
    assert status == 200 and "immutable" in headers["Cache-Control"]


def test_nginx_answers_repeated_scans_from_a_one_second_page_cache(stack: Stack) -> None:
    _synced_pack(stack)
    path = _pack_path(stack)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while "HIT" not in seen and time.monotonic() < deadline:
        status, headers, _ = stack.get(NAMES["site"], path)
        assert status == 200
        seen.append(headers["X-Cache-Status"])
        assert headers["Cache-Control"] == "no-cache"  # browsers still revalidate
        assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "HIT" in seen, seen
    assert seen[0] in ("MISS", "EXPIRED", "HIT", "UPDATING"), seen
    for _ in range(3):  # a response that sets a cookie is never kept
        status, headers, _ = stack.get(NAMES["site"], path + "?lang=zh-CN")
        assert status == 200 and "Set-Cookie" in headers
        assert headers["X-Cache-Status"] != "HIT"


def test_host_names_other_than_the_sites_are_refused(stack: Stack) -> None:
    assert stack.get(NAMES["site"], "/", {"Host": "evil.example"})[0] == 421
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):  # no certificate at all
        stack.connect("evil.example").close()
    connection = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    try:
        connection.request("GET", "/x?y=1", headers={"Host": NAMES["site"]})
        response = connection.getresponse()
        response.read()
        assert response.status == 308
        assert response.getheader("Location") == f"https://trace.test:{stack.https_port}/x?y=1"
    finally:
        connection.close()


def test_labels_and_exports_carry_the_configured_origin(stack: Stack) -> None:
    pack = stack.manifest.packs[0]
    origin = f"https://{NAMES['site']}:{stack.https_port}"
    _synced_pack(stack)
    for host in (NAMES["site"], "127.0.0.1"):
        path = f"/label/01/{pack.gtin}/21/{pack.serial}"
        status, _, body = stack.get(NAMES["site"], path, {"Host": host})
        if host == NAMES["site"]:
            assert status == 200 and f"{origin}/01/{pack.gtin}/21/{pack.serial}".encode() in body
        else:
            assert status == 421
    status, _, body = stack.get(NAMES["site"], f"/api/v1/epcis/01/{pack.gtin}/21/{pack.serial}")
    assert status == 200
    document = json.loads(body)
    assert f"{origin}/01/{pack.gtin}/21/{pack.serial}" in body.decode()
    assert document["epcisBody"]["eventList"]


def test_the_desk_log_in_is_rate_limited_and_cookies_are_secure(stack: Stack) -> None:
    status, headers, _ = stack.get(NAMES["desk"], "/login")
    assert status == 200 and "Strict-Transport-Security" in headers
    statuses = [stack.get(NAMES["desk"], "/login")[0] for _ in range(12)]
    assert 429 in statuses and statuses[0] == 200


def test_the_witness_answers_through_nginx_and_hides_its_metrics(stack: Stack) -> None:
    status, _, body = stack.get(NAMES["witness"], "/")
    assert status == 200 and json.loads(body)["name"] == "witness.test/w"
    assert stack.get(NAMES["witness"], "/metrics")[0] == 403
    assert stack.get(NAMES["site"], "/metrics")[0] == 403


def test_a_device_sends_over_mosquittos_tls_listener_and_is_committed(stack: Stack) -> None:
    conf = stack.broker_conf.read_text()
    assert re.search(r"^listener \d+ 127\.0\.0\.1$", conf, re.M)  # plain: loopback only
    assert "require_certificate true" in conf and "cafile " in conf
    device = stack.device.service()
    deadline = time.monotonic() + 30
    while stack.device.committed() < 2:  # readings signed, sent over TLS, committed
        assert device.proc.poll() is None, device.log.read_text()
        assert time.monotonic() < deadline, device.log.read_text()
        time.sleep(0.1)
    log = device.log.read_text()
    assert "TLS" not in log and "retrying" not in log, log


def test_no_process_shows_a_password_in_its_arguments(stack: Stack) -> None:
    lines = command_lines()
    assert any(b"gateway\x00run" in line for line in lines)
    for password in PASSWORDS.values():
        assert all(password.encode() not in line for line in lines)


def test_the_pack_page_verifies_in_chromium_through_nginx(stack: Stack) -> None:
    from playwright.sync_api import ConsoleMessage, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    _await_tiles(stack)  # the pages' proofs come from the tiles host
    args = [
        "--no-sandbox",
        f"--host-resolver-rules=MAP {NAMES['site']} 127.0.0.1, MAP {NAMES['tiles']} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={stack.pki.spki_sha256_b64}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(20_000)
            problems: list[str] = []

            def console(message: ConsoleMessage) -> None:
                if message.type in ("error", "warning"):
                    problems.append(f"{message.type}: {message.text}")

            page.on("console", console)
            page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
            asked: list[str] = []
            page.on("request", lambda request: asked.append(request.url))
            url = f"https://{NAMES['site']}:{stack.https_port}{_pack_path(stack)}"
            response = page.goto(url)
            assert response is not None and response.status == 200
            assert response.header_value("strict-transport-security") is not None
            done = '[data-state="ok"], [data-state="fail"], [data-state="unsupported"]'
            if page.locator("#badge > summary").count():  # the pack page's check badge
                page.locator("#badge > summary").click()
                page.wait_for_selector(f"#badge:is({done})")
                assert page.get_attribute("#badge", "data-state") == "ok"
            else:
                row = page.locator("[data-entry] >> visible=true").first
                entry = row.get_attribute("data-entry") or ""
                row.click()
                page.wait_for_selector(f'#verify-result[data-entry="{entry}"]:is({done})')
            result = page.locator("#verify-result")
            assert result.get_attribute("data-state") == "ok", result.inner_text()
            assert problems == [], problems
            tiles = f"https://{NAMES['tiles']}:{stack.https_port}/"
            assert result.get_attribute("data-tiles-base") == tiles.rstrip("/")
            of_tiles = [urlsplit(u).path for u in asked if u.startswith(tiles)]
            assert "/checkpoint" in of_tiles, asked
            for prefix in ("/tile/0/", "/tile/entries/", "/block/"):
                assert any(path.startswith(prefix) for path in of_tiles), (prefix, of_tiles)
            site = f"https://{NAMES['site']}:{stack.https_port}/"
            api = [urlsplit(u).path for u in asked if u.startswith(site)]
            api = [p for p in api if p.startswith("/api/") or p == "/checkpoint"]
            assert all(re.fullmatch(r"/api/v1/(log|signers/[^/]+)", p) for p in api), api
        finally:
            browser.close()
