"""A party's own log as ``farmtrace deploy --operator-only --pins`` deploys it, behind real nginx.

Real processes: ``farmtrace gateway init`` and ``gateway run`` without
``--farm`` (an operator-only log: no broker anywhere, HTTP under waitress),
``farmtrace deploy`` installing a pins file naming that log, ``site run
--pins`` reading the installed copy (the federated site: the log under
``/logs/<slug>/``), and Debian's nginx, unprivileged, with the server blocks
``deploy`` writes for the gateway host (``POST /api/v1/submit``
rate-limited) and the site host, TLS from a CA made here. Checked: a
submission through nginx is answered 202 and its receipt comes through
nginx; over the rate nginx answers a JSON 429, which the submitting client
(``signer.http_submit``, what ``farmtrace event --submit-url`` and the desk
use) waits out; bodies over the limit are refused by nginx; the kept-notes
path reaches the gateway; the mounted log's pages, static files and read
API are served through nginx with the site's CSP, its metrics hidden.
"""

from __future__ import annotations

import dataclasses
import getpass
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy_pki import Pki, make_pki
from deploy_stack import NGINX, Services, farmtrace_once
from mqtt_broker import free_port

from chain.entries import operator_payload, sign_entry
from chain.keyfile import SignerKey, load_key
from chain.wire import entry_digest
from deployment import INSTALLED_PINS, Machine, SubmitLimit, nginx_plan, standalone_conf
from gateway.datadir import DataDir
from readapi.crosslog import load_pins
from signer.http_submit import SubmitRejectedError, parse_submit_url, submit_and_wait

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ORIGIN = "plant.test/log"
NAMES = {"gateway": "log.test", "site": "trace.test"}
LIMIT = SubmitLimit("30r/m", 2)  # one more every 2 s, 2 at once above that


@dataclass
class PartyStack:
    pki: Pki
    https_port: int
    admin: SignerKey
    slug: str
    seq: int = 1  # the genesis used the admin's seq 1

    def request(
        self, name: str, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=context, timeout=15
        )
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=15)
        connection.sock = context.wrap_socket(raw, server_hostname=name)
        try:
            headers = {"Host": name, "Content-Type": "application/jose"}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def registration(self, operator: str) -> bytes:
        """The admin's next entry: registering ``operator`` (a new key) as plant staff."""
        self.seq += 1
        key = SignerKey.generate(operator)
        payload = operator_payload(
            "register",
            operator,
            self.seq,
            time.time_ns() // 1_000_000,
            pubkey=key.public_key,
            roles=["plant"],
        )
        return sign_entry(payload, self.admin.id, self.admin.seed)


def _pins(root: Path, data_dir: DataDir, gateway_url: str) -> Path:
    mine = root / "mine"
    mine.mkdir()
    (mine / "plant-trust.json").write_bytes(data_dir.trust.read_bytes())
    party = {
        "origin": ORIGIN,
        "name": "Riverside Processing",
        "role": "plant",
        "trust": "plant-trust.json",
        "sources": [gateway_url],
        "gs1_prefixes": ["950600013"],
    }
    (mine / "pins.json").write_text(json.dumps({"logs": [party]}))
    return mine / "pins.json"


def _start(root: Path, services: Services) -> PartyStack:
    data_dir = DataDir(root / "plant")
    farmtrace_once("gateway", "init", "--data-dir", str(data_dir.root), "--origin", ORIGIN)
    gateway = services.farmtrace(
        "gateway", "gateway", "run", "--data-dir", str(data_dir.root), "--http-port", "0",
        "--block-interval-ms", "200",
    )  # fmt: skip
    gateway_url = gateway.wait_for(r"gateway running: (http://\S+)/checkpoint")[1]
    out = root / "deploy"  # the pins as 'farmtrace deploy' installs them, read from there
    farmtrace_once(
        "deploy", "--out", str(out), "--operator-only", "--part", "gateway", "--part", "site",
        "--pins", str(_pins(root, data_dir, gateway_url)),
    )  # fmt: skip
    pki = make_pki(root, list(NAMES.values()))
    https_port = free_port()
    site = services.farmtrace(
        "site", "site", "run", "--site-dir", str(root / "site"),
        "--pins", str(out / "pins" / "pins.json"), "--port", "0", "--trusted-proxy", "127.0.0.1",
        "--public-url", f"https://{NAMES['site']}:{https_port}", "--sync-interval", "1",
    )  # fmt: skip
    machine = Machine(
        parts=("gateway", "site"),
        farm=None,
        hosts=NAMES,
        tls_cert=pki.cert,
        tls_key=pki.key,
        ports={
            "gateway": int(gateway_url.rsplit(":", 1)[1]),
            "site": int(site.wait_for(r"site running: http://127\.0\.0\.1:(\d+)/")[1]),
        },
        static_root=ROOT / "consumer_web" / "static",
        submit_limit=LIMIT,
        pins=INSTALLED_PINS,
    )
    plan = dataclasses.replace(nginx_plan(machine, https_port, None), listen="127.0.0.1")
    prefix = root / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        standalone_conf(plan, prefix, Path("/etc/nginx/mime.types"), user=getpass.getuser())
    )
    nginx = services.start("nginx", [str(NGINX), "-p", str(prefix), "-c", str(conf)])
    admin = load_key(data_dir.signer_key("admin"))
    [party] = load_pins(out / "pins" / "pins.json").parties
    stack = PartyStack(pki, https_port, admin, party.slug)
    deadline = time.monotonic() + 30
    while True:
        try:
            stack.request(NAMES["gateway"], "GET", "/checkpoint")
            break
        except OSError:
            assert nginx.proc.poll() is None, nginx.log.read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    # Block 1, straight to the gateway: a batch for the site's pages to show.
    submit_and_wait(parse_submit_url(gateway_url), stack.registration("clerk0"), timeout=30)
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartyStack]:
    if not NGINX.exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    root = tmp_path_factory.mktemp("party")
    services = Services(root)
    try:
        yield _start(root, services)
    finally:
        codes = services.stop_all()
    assert {name: code for name, code in codes.items() if code != 0} == {}


def _receipt(stack: PartyStack, digest: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status, _, body = stack.request(NAMES["gateway"], "GET", f"/api/v1/receipts/{digest}")
        if status == 200:
            return dict(json.loads(body))
        assert status == 404 and json.loads(body)["reason"] == "pending", (status, body)
        assert time.monotonic() < deadline, "no receipt"
        time.sleep(0.1)


def test_submissions_pass_nginx_rate_limited_and_the_client_waits_out_a_429(
    stack: PartyStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = stack.registration("clerk1")
    status, headers, body = stack.request(NAMES["gateway"], "POST", "/api/v1/submit", raw)
    assert (status, json.loads(body)) == (202, {"hash": entry_digest(raw)}), body
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert _receipt(stack, entry_digest(raw))["index"] == 2
    # The kept checkpoint notes of other logs pass to the gateway like the read API.
    refs = f"/api/v1/refs/{sha256(b'farm.test/log').hexdigest()}/checkpoints/1"
    status, _, body = stack.request(NAMES["gateway"], "GET", refs)
    assert status == 404 and b"no checkpoint of size 1 of that log is kept here" in body
    assert stack.request(NAMES["gateway"], "GET", "/metrics")[0] == 403
    status, _, body = stack.request(NAMES["gateway"], "POST", "/api/v1/submit", b"e" * 9000)
    assert status == 413 and b"nginx" in body  # refused before the gateway reads it
    # Over the rate: nginx's JSON 429 (polls and probes are not counted).
    flood = [stack.request(NAMES["gateway"], "POST", "/api/v1/submit", b"x.y.z") for _ in range(6)]
    statuses = [status for status, _, _ in flood]
    assert statuses[0] == 400 and 429 in statuses, statuses
    status, headers, body = next(answer for answer in flood if answer[0] == 429)
    assert json.loads(body)["reason"] == "rate_limited"
    assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"
    assert stack.request(NAMES["gateway"], "GET", "/api/v1/submit")[0] == 200  # not limited
    # The submitting client sends again after a 429 (as after a 503) and gets its receipt.
    _resolve_to_loopback(monkeypatch, set(NAMES.values()))
    monkeypatch.setenv("SSL_CERT_FILE", str(stack.pki.ca))
    url = parse_submit_url(f"https://{NAMES['gateway']}:{stack.https_port}")
    second = stack.registration("clerk2")
    try:
        receipt = submit_and_wait(url, second, timeout=30)
    except SubmitRejectedError as exc:  # the client before this change gave up on a 429
        raise AssertionError(f"the client gave up on nginx's rate limit: {exc}") from exc
    assert (receipt.hash, receipt.index) == (entry_digest(second), 3)


def _resolve_to_loopback(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> None:
    """Resolve ``names`` to 127.0.0.1 in this process (as Chromium's --host-resolver-rules)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_site_follows_the_installed_pins_and_serves_the_log_through_nginx(
    stack: PartyStack,
) -> None:
    site, mount = NAMES["site"], f"/logs/{stack.slug}"
    status, _, body = stack.request(site, "GET", "/")
    assert status == 200 and b"Riverside Processing" in body
    deadline = time.monotonic() + 30
    while True:  # the replica has verified the log's first checkpoint
        status, headers, body = stack.request(site, "GET", f"{mount}/checkpoint")
        if status == 200:
            break
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.2)
    assert body.startswith(ORIGIN.encode() + b"\n")
    status, headers, body = stack.request(site, "GET", f"{mount}/")
    assert status == 200 and headers["X-Cache-Status"] in ("MISS", "HIT", "EXPIRED", "UPDATING")
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp  # the pages' verifier reads {mount}/api/... on this host
    assert f"{mount}/static/site.css".encode() in body
    status, headers, _ = stack.request(site, "GET", f"{mount}/static/site.css")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=3600"  # from disk
    assert "Content-Security-Policy" not in headers  # nginx's, not the app's
    status, _, body = stack.request(site, "GET", f"{mount}/api/v1/log")
    assert status == 200 and json.loads(body)
    assert stack.request(site, "GET", f"{mount}/metrics")[0] == 403
    assert stack.request(site, "GET", "/metrics")[0] == 403


def test_a_mounted_batch_page_verifies_in_chromium_through_nginx(stack: PartyStack) -> None:
    from playwright.sync_api import ConsoleMessage, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    site, mount = NAMES["site"], f"/logs/{stack.slug}"
    deadline = time.monotonic() + 30
    while True:  # the site has verified block 1 (clerk0's registration) under a checkpoint
        status, _, body = stack.request(site, "GET", f"{mount}/checkpoint")
        if status == 200 and int(body.split(b"\n")[1]) >= 2:
            break
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.2)
    status, _, body = stack.request(site, "GET", f"{mount}/api/v1/blocks/1")
    assert status == 200, body
    block_hash = json.loads(body)["hash"]
    args = [
        "--no-sandbox",
        f"--host-resolver-rules=MAP {site} 127.0.0.1",
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
                if message.type in ("error", "warning"):  # a CSP violation is one
                    problems.append(f"{message.type}: {message.text}")

            page.on("console", console)
            page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
            asked: list[str] = []
            page.on("request", lambda request: asked.append(request.url))
            origin = f"https://{site}:{stack.https_port}"
            response = page.goto(f"{origin}{mount}/batch/{block_hash}")
            assert response is not None and response.status == 200
            row = page.locator("[data-entry] >> visible=true").first
            entry = row.get_attribute("data-entry") or ""
            row.click()
            done = '[data-state="ok"], [data-state="fail"], [data-state="unsupported"]'
            page.wait_for_selector(f'#verify-result[data-entry="{entry}"]:is({done})')
            result = page.locator("#verify-result")
            assert result.get_attribute("data-state") == "ok", result.inner_text()
            assert problems == [], problems
            fetched = [urlsplit(u).path for u in asked if "/api/" in u or u.endswith("checkpoint")]
            assert fetched and all(u.startswith(f"{origin}{mount}/") for u in asked), asked
        finally:
            browser.close()
