"""People on a live farm: ``farmtrace operator add|retire`` against a running desk and gateway.

A real Mosquitto, a real gateway (in this process), a real desk process
(``farmtrace desk run``) and the commands as subprocesses, as from a
second terminal while the admin's seq state is held open by another
program (as the demo's admin is). Also: processes sharing one operator
state directory never reuse a seq and leave no hole.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gateway_harness import FARM, new_data_dir
from mqtt_broker import Broker, free_port
from test_gateway_ingest import audit_ok, start_gateway

from chain.entries import operator_payload, parse_entry
from chain.keyfile import SignerKey, load_key, save_key
from desk import USERS_FILE, add_user
from desk.setup import init_desk_dir
from gateway.broker_accounts import BrokerAccounts, BrokerAdmin, find_dynsec_plugin
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig
from signer.identity import DeviceIdentity
from signer.mqtt_url import parse_mqtt_url
from signer.operator_events import draft_event, kinds_for_roles, record_event
from signer.registration import sign_and_send
from signer.transport import NotConnectedError

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
_TOKEN = re.compile(r'name="(csrf_token|form_id)" value="([^"]+)"')


@dataclass
class LiveFarm:
    root: Path
    data_dir: DataDir
    gateway: Gateway
    broker: Broker

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http_port}"

    def admin_args(self) -> list[str]:
        return [
            "--key", str(self.root / "admin.key"), "--state-dir", str(self.root / "admin"),
            "--mqtt", self.broker.url, "--farm", FARM, "--timeout", "15",
        ]  # fmt: skip

    def farmtrace(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "farmtrace", *args],
            capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60,
        )  # fmt: skip

    def signed_by(self, signer: str) -> list[tuple[int, str]]:
        """``(seq, type or event)`` of every entry ``signer`` has in the log."""
        store = self.gateway.store  # the running gateway's (LevelDB allows one process)
        assert store is not None
        entries = [parse_entry(store.entry(i)) for i in range(store.entry_count)]
        return [(e.seq, str(e.payload.get("event", e.type))) for e in entries if e.kid == signer]


@pytest.fixture
def live(tmp_path: Path, broker: Broker) -> Iterator[LiveFarm]:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    save_key(admin.key, tmp_path / "admin.key")
    with DeviceIdentity.create(tmp_path / "admin", admin.key) as identity:
        identity.next_seq()  # the genesis block holds the admin's seq 1
    gateway = start_gateway(data_dir, broker)
    yield LiveFarm(tmp_path, data_dir, gateway, broker)
    gateway.stop()


class DeskBrowser:
    """A session with a running desk: cookies kept, redirects followed, tokens read."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.url + path))

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(self.url + path, data=data))

    def form(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """Open the form at ``path`` and post ``fields`` with its tokens."""
        status, _, html = self.get(path)
        assert status == 200, html
        return self.post(path, {**dict(_TOKEN.findall(html)), **fields})

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.url, exc.read().decode()


@contextmanager
def running_desk(root: Path, mqtt: str, check_url: str) -> Iterator[str]:
    """A real ``farmtrace desk run`` for a co-op's desk in ``root``; yields its URL.

    Its own operator never signs here: only the people added to it do.
    """
    if not root.exists():
        init_desk_dir(root, operator_id="coop-desk")
        add_user(root / USERS_FILE, "maria", "a long enough secret")
    argv = ["desk", "run", "--desk-dir", str(root), "--mqtt", mqtt, "--farm", FARM]
    argv += ["--check-url", check_url, "--port", "0", "--timeout", "15"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "farmtrace", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("desk running: http://127.0.0.1:"), line
        yield line.split()[-1].rstrip("/")
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def desk(live: LiveFarm) -> Iterator[tuple[Path, str]]:
    with running_desk(live.root / "desk", live.broker.url, live.api) as url:
        yield live.root / "desk", url


def test_a_vet_added_and_retired_on_a_running_desk(live: LiveFarm, desk: tuple[Path, str]) -> None:
    desk_dir, url = desk
    hatchery = SignerKey.generate("hatchery")
    mqtt = parse_mqtt_url(live.broker.url)
    with DeviceIdentity.open(live.root / "admin", shared=True):  # held open, as the demo does
        sign_and_send(
            load_key(live.root / "admin.key"), live.root / "admin",
            mqtt, FARM,
            lambda seq: operator_payload(
                "register", "hatchery", seq, _now(), pubkey=hatchery.public_key, roles=["hatchery"]
            ),
            timeout=15,
        )  # fmt: skip
        added = live.farmtrace(
            "operator", "add", "--id", "vet2", "--role", "vet", "--name", "Dr. Li",
            "--desk-dir", str(desk_dir), *live.admin_args(),
        )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "committed" in added.stdout
    password = re.search(r"desk log-in: vet2  password: (\S+)", added.stdout)
    assert password is not None, added.stdout
    sign_and_send(
        hatchery, live.root / "hatchery", mqtt, FARM,
        lambda seq: {"type": "event", "event": "hatched", "seq": seq, "ts": _now(),
                     "subjects": ["bird:0001"], "breed": "Ross 308"},
        timeout=15,
    )  # fmt: skip

    vet = DeskBrowser(url)
    status, where, page = vet.form("/login", {"username": "vet2", "password": password[1]})
    assert status == 200 and where.endswith("/"), page
    kinds = re.findall(r'href="/events/(\w+)"', page)
    assert kinds == list(kinds_for_roles(["vet"])) == ["vaccinated", "treated", "inspected", "died"]
    assert "vet2" in page
    status, _, page = vet.get("/events/hatched")
    assert status == 403
    status, where, page = vet.form(
        "/events/vaccinated", {"subjects": "bird:0001", "vaccine": "Newcastle", "dose": "0.2ml"}
    )
    assert status == 200 and where.endswith("/recorded"), page
    assert live.signed_by("vet2") == [(1, "vaccinated")]

    retired = live.farmtrace(
        "operator", "retire", "--id", "vet2", "--desk-dir", str(desk_dir), *live.admin_args()
    )
    assert retired.returncode == 0, retired.stderr
    assert "desk log-ins removed: vet2" in retired.stdout and "committed" in retired.stdout
    status, where, _ = vet.get("/")
    assert "/login" in where  # the session ended with the log-in
    status, _, page = vet.form("/login", {"username": "vet2", "password": password[1]})
    assert status == 401, page
    refused = live.farmtrace(
        "event", "vaccinated", "--bird", "0001", "--vaccine", "HVT", "--no-check",
        "--check-url", live.api, "--key", str(desk_dir / "operators" / "vet2" / "device.key"),
        "--state-dir", str(desk_dir / "operators" / "vet2"),
        "--mqtt", live.broker.url, "--farm", FARM, "--timeout", "2",
    )  # fmt: skip
    assert refused.returncode == 1 and "unauthorized (+1)" in refused.stderr, refused.stderr
    assert live.signed_by("vet2") == [(1, "vaccinated")]
    assert [seq for seq, _ in live.signed_by("admin")] == [1, 2, 3, 4]


_HAMMER = """
import sys, time
from pathlib import Path
from chain.entries import operator_payload
from chain.keyfile import SignerKey, load_key
from signer.mqtt_url import parse_mqtt_url
from signer.registration import sign_and_send
root, url, farm, name, count = sys.argv[1:6]
admin = load_key(Path(root) / "admin.key")
for i in range(int(count)):
    key = SignerKey.generate(f"{name}-{i}")
    sent = sign_and_send(
        admin, Path(root) / "admin", parse_mqtt_url(url), farm,
        lambda seq: operator_payload("register", key.id, seq, int(time.time() * 1000),
                                     pubkey=key.public_key, roles=["farm"]),
        timeout=20,
    )
    print(sent.seq, flush=True)
"""


def test_two_processes_signing_as_one_operator_reuse_no_seq(live: LiveFarm) -> None:
    loops = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(live.root), live.broker.url, FARM, name, "12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            cwd=ROOT,
        )
        for name in ("a", "b")
    ]
    seqs = []
    for proc in loops:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        seqs += [int(line) for line in out.split()]
    assert sorted(seqs) == list(range(2, 26))
    assert sorted(seq for seq, _ in live.signed_by("admin")) == list(range(1, 26))
    live.gateway.stop()  # the audit opens the store
    audit_ok(live.data_dir)  # no equivocation, no missing seq


def _now() -> int:
    return time.time_ns() // 1_000_000


def test_add_and_retire_give_and_take_the_persons_broker_login(
    tmp_path: Path, secured_broker: Callable[..., Broker]
) -> None:
    broker = secured_broker(
        farm=FARM, devices=("admin", "broker-admin"), dynsec_plugin=find_dynsec_plugin()
    )
    data_dir, admin = new_data_dir(tmp_path / "gw")
    save_key(admin.key, tmp_path / "admin.key")
    with DeviceIdentity.create(tmp_path / "admin", admin.key) as identity:
        identity.next_seq()  # the genesis block holds the admin's seq 1
    gateway = Gateway(
        GatewayConfig(
            data_dir=data_dir,
            farm=FARM,
            mqtt=MqttSettings(
                port=broker.port, username="gateway", password=broker.password("gateway")
            ),
            ingest=IngestConfig(block_interval_ms=100),
            http_port=0,
        )
    )
    gateway.start()
    try:
        live = LiveFarm(tmp_path, data_dir, gateway, broker)
        desk_dir = tmp_path / "desk"  # made by running_desk, before the vet is added
        credentials = tmp_path / "credentials.json"
        credentials.write_text(
            json.dumps({u: broker.password(u) for u in ("admin", "broker-admin")})
        )
        where = f"127.0.0.1:{broker.port}"
        people = [
            "--desk-dir", str(desk_dir), "--broker-admin", f"mqtt://broker-admin@{where}",
            "--credentials", str(credentials), "--key", str(tmp_path / "admin.key"),
            "--state-dir", str(tmp_path / "admin"), "--mqtt", f"mqtt://admin@{where}",
            "--farm", FARM, "--timeout", "15",
        ]  # fmt: skip
        with running_desk(desk_dir, f"mqtt://{where}", live.api) as url:
            added = live.farmtrace("operator", "add", "--id", "vet2", "--role", "vet", *people)
            assert added.returncode == 0, added.stderr
            assert "created broker login 'vet2'" in added.stdout
            password = re.search(r"password: (\S+)", added.stdout)
            assert password is not None
            vet = DeskBrowser(url)
            status, _, page = vet.form("/login", {"username": "vet2", "password": password[1]})
            assert status == 200 and 'href="/events/inspected"' in page, page
            fields = {"subjects": "barn:b1", "result": "pass"}
            status, where_to, page = vet.form("/events/inspected", fields)  # as vet2, own login
            assert status == 200 and where_to.endswith("/recorded"), page
            assert live.signed_by("vet2") == [(1, "inspected")]

            retired = live.farmtrace("operator", "retire", "--id", "vet2", *people)
            assert retired.returncode == 0, retired.stderr
            assert "broker login 'vet2' deleted" in retired.stdout
        admin_login = BrokerAdmin(
            "127.0.0.1", broker.port, "broker-admin", broker.password("broker-admin")
        )
        with BrokerAccounts(admin_login, FARM) as accounts:
            assert not accounts.exists("vet2")
    finally:
        gateway.stop()


def test_no_seq_is_used_when_the_broker_is_unreachable_or_refuses(
    tmp_path: Path, secured_broker: Callable[..., Broker]
) -> None:
    broker = secured_broker(farm=FARM, devices=("admin",))
    admin = SignerKey.generate("admin")
    state = tmp_path / "admin"

    def register(url: str) -> None:
        sign_and_send(
            admin, state, parse_mqtt_url(url), FARM,
            lambda seq: operator_payload("revoke", "vet2", seq, _now()), timeout=3,
        )  # fmt: skip

    with pytest.raises(NotConnectedError, match="nothing signed"):
        register(f"mqtt://admin:x@127.0.0.1:{free_port()}")  # nobody listens
    with pytest.raises(PermissionError, match="refused the connection"):
        register(f"mqtt://admin:wrong@127.0.0.1:{broker.port}")
    draft = draft_event("inspected", "barn:b1", {"result": "pass"}, _now())
    with DeviceIdentity.open(state, shared=True) as identity:  # the desk's and `event`'s path
        with pytest.raises(NotConnectedError):
            record_event(identity, draft, parse_mqtt_url(f"mqtt://127.0.0.1:{free_port()}"), FARM,
                         timeout=2)  # fmt: skip
        with pytest.raises(PermissionError, match="refused the connection"):
            url = parse_mqtt_url(f"mqtt://admin:wrong@127.0.0.1:{broker.port}")
            record_event(identity, draft, url, FARM, timeout=3)
        assert identity.reserved == 0  # no hole for auditors to report as missing
