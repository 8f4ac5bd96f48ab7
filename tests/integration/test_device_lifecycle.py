"""Add, replace and retire devices on a running farm (issue 12), with real parts throughout.

A real Mosquitto with the dynamic security plugin, a real ``farmtrace gateway
run`` and a real ``farmtrace device run`` process. A neighbour device streams
the whole time and must never be disconnected. The replacement device is
:mod:`third_party_device`: written from design.md with pyca ``cryptography``,
no farmtrace code, using only what ``farmtrace device add --pubkey`` prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway_harness import FARM, ROOT, GatewayProcess, committed_entries, metric, new_data_dir
from mqtt_broker import Broker
from third_party_device import ThirdPartyDevice

from chain import note
from chain.checkpoint import Checkpoint
from chain.entries import parse_entry
from chain.keyfile import load_key, save_key
from chain.log import load_registry_tree
from chain.registry_commitment import check_checkpoint_registry
from chain.store import Store
from gateway.broker_accounts import BrokerAccounts, BrokerAdmin, find_dynsec_plugin
from gateway.datadir import DataDir
from signer.identity import DeviceIdentity

Cli = Callable[..., tuple[int, str, str]]
ADMIN_USER = "broker-admin"


@pytest.fixture
def farm(secured_broker: Callable[..., Broker], tmp_path: Path) -> Iterator[dict[str, object]]:
    """A dynsec broker, a gateway, and the operator options every device command takes."""
    broker = secured_broker(
        farm=FARM, devices=("admin", ADMIN_USER), dynsec_plugin=find_dynsec_plugin()
    )
    data_dir, admin = new_data_dir(tmp_path / "gw")
    save_key(admin.key, tmp_path / "admin.key")
    with DeviceIdentity.create(tmp_path / "admin-state", admin.key) as genesis:
        genesis.next_seq()  # seq 1 is the genesis self-registration
    url = f"127.0.0.1:{broker.port}"
    gateway = GatewayProcess(
        data_dir,
        f"mqtt://gateway:{broker.password('gateway')}@{url}",
        extra=["--block-interval-ms", "100", "--max-future-ms", str(24 * 3_600_000)],
    )
    gateway.start()
    operator = ["--farm", FARM, "--operator-key", tmp_path / "admin.key"]
    operator += ["--operator-state", tmp_path / "admin-state"]
    credentials = tmp_path / "credentials.json"  # passwords out of the arguments
    credentials.write_text(json.dumps({u: broker.password(u) for u in ("admin", ADMIN_USER)}))
    operator += ["--credentials", credentials, "--broker-admin", f"mqtt://{ADMIN_USER}@{url}"]
    # The operator's own session (a desk's, the demo's) stays connected throughout.
    session = ThirdPartyDevice("admin")
    login = {"host": "127.0.0.1", "port": broker.port, "username": "admin"}
    topics = {"receipt": f"farmtrace/{FARM}/admin/receipt"}
    assert not session.connect(
        {"mqtt": login | {"password": broker.password("admin")}, "topics": topics}
    ).is_failure
    try:
        yield {"operator": operator, "gateway": gateway, "data_dir": data_dir, "broker": broker}
        assert session.disconnects == 0
    finally:
        session.close()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.terminate()


def _printed_settings(out: str) -> dict[str, object]:
    (line,) = [line for line in out.splitlines() if line.startswith("{")]
    settings: dict[str, object] = json.loads(line)
    return settings


def _add_third_party(run_cli: Cli, operator: list[object], dev: str, *args: object):
    device = ThirdPartyDevice(dev)
    code, out, err = run_cli(
        "device", *args, f"--pubkey={device.pubkey}", "--kind", "temperature", *operator
    )
    assert code == 0, err
    assert "committed" in out
    return device, _printed_settings(out)


def _refused_within(settings: dict[str, object], seconds: float) -> bool:
    """Whether a fresh connection with ``settings`` is refused as not authorised in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        probe = ThirdPartyDevice(str(settings["dev"]))
        try:
            connack = probe.connect(settings, timeout=2)
        finally:
            probe.close()
        if connack is not None and connack.is_failure and "authori" in str(connack).lower():
            return True
        time.sleep(0.1)
    return False


def test_add_run_replace_retire_while_a_neighbour_streams(
    farm: dict[str, object], run_cli: Cli, tmp_path: Path
) -> None:
    operator = farm["operator"]
    assert isinstance(operator, list)
    neighbour, neighbour_settings = _add_third_party(
        run_cli, operator, "b2-probe", "add", "--device-id", "b2-probe", "--subject", "barn:b2",
    )  # fmt: skip
    assert neighbour.connect(neighbour_settings).is_failure is False
    neighbour.publish(neighbour.reading("barn:b2", 20.0))
    assert neighbour.wait_committed(1)

    # Add a thermometer with one command; it runs from the device.toml the command wrote,
    # simulating the model of the farm's b1-temp.
    state = tmp_path / "b1-thermo"
    code, out, err = run_cli(
        "device", "add", "--device-id", "b1-thermo", "--state-dir", state,
        "--kind", "temperature", "--subject", "barn:b1", "--label", "barn 1 thermometer",
        *operator,
    )  # fmt: skip
    assert code == 0, err
    assert "committed" in out
    config = state / "device.toml"
    assert config.stat().st_mode & 0o777 == 0o600
    device_url = tomllib.loads(config.read_text())["mqtt"]
    log = (tmp_path / "device.log").open("wb")
    run = subprocess.Popen(
        [
            *(sys.executable, "-m", "farmtrace", "device", "run", "--config", str(config)),
            *("--sensor", "sim:b1-temp", "--speed", "600", "--duration", "60"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        gateway = farm["gateway"]
        assert isinstance(gateway, GatewayProcess)
        watch = _LogWatch(gateway.http_url)
        deadline = time.monotonic() + 20
        while not watch.has("b1-thermo") and time.monotonic() < deadline:
            neighbour.publish(neighbour.reading("barn:b2", 20.5))
            time.sleep(0.2)
        assert watch.has("b1-thermo"), (tmp_path / "device.log").read_text()

        # Replace it with a device made elsewhere: the new key takes over barn:b1.
        new, new_settings = _add_third_party(
            run_cli, operator, "b1-thermo-2", "replace", "--device-id", "b1-thermo",
            "--new-device-id", "b1-thermo-2", "--subject", "barn:b1",
        )  # fmt: skip
        topics = {kind: f"farmtrace/{FARM}/b1-thermo/{kind}" for kind in ("entry", "receipt")}
        old_settings = {"dev": "b1-thermo", "mqtt": _login(device_url), "topics": topics}
        assert _refused_within(old_settings, 5), "the old device's login still works"
        run.terminate()  # cut off: it keeps signing into its outbox until stopped
        assert run.wait(30) == 0
        _old_key_is_refused(farm, state, old_settings)
        assert new.connect(new_settings).is_failure is False
        for value in (21.0, 21.5, 22.0):
            new.publish(new.reading("barn:b1", value))
            neighbour.publish(neighbour.reading("barn:b2", 20.5))
        assert new.wait_committed(3)

        # Retire it: its connection is cut and its login refused within seconds.
        code, out, err = run_cli("device", "retire", "--device-id", "b1-thermo-2", *operator)
        assert code == 0, err
        assert "committed" in out
        assert new.wait_disconnected(1, timeout=5)
        assert _refused_within(new_settings, 5)
        neighbour.publish(neighbour.reading("barn:b2", 19.5))
        assert neighbour.wait_committed(neighbour.seq)
        assert neighbour.disconnects == 0
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(30)
        log.close()
        neighbour.close()
    gateway.terminate()
    _check_history(farm)
    _check_registry_lines(farm)


def _check_registry_lines(farm: dict[str, object]) -> None:
    """Each checkpoint the gateway signed commits to the registrations in its blocks (issue 14)."""
    data_dir = farm["data_dir"]
    assert isinstance(data_dir, DataDir)
    with Store.open(data_dir.log) as store:
        tree = load_registry_tree(store)
        sizes = store.checkpoint_sizes()
        for size in sizes:
            last = store.block(size - 1)
            checkpoint = Checkpoint.from_text(note.parse(store.checkpoint(size)).text)
            expected = tree.commitment_before(last.first_index + last.count)
            check_checkpoint_registry(checkpoint, expected)
    swapped = [r for r in tree.records if r.signer in ("b1-thermo", "b1-thermo-2")]
    assert len(sizes) > 3 and len(swapped) == 4  # two registrations, two revocations


def _old_key_is_refused(farm: dict[str, object], state: Path, settings: dict[str, object]) -> None:
    """A reading the old key signs after its revocation is refused, reason counted.

    Its login is gone, so a stale login is made for it here (as on a broker
    whose logins were restored from an old backup): the log must refuse it anyway.
    """
    broker = farm["broker"]
    assert isinstance(broker, Broker)
    admin = BrokerAdmin("127.0.0.1", broker.port, ADMIN_USER, broker.password(ADMIN_USER))
    login = settings["mqtt"]
    assert isinstance(login, dict)
    with BrokerAccounts(admin, FARM) as accounts:
        accounts.create("b1-thermo", str(login["password"]))
    seed = load_key(state / "device.key").seed
    old = ThirdPartyDevice("b1-thermo", Ed25519PrivateKey.from_private_bytes(seed))
    old.seq = 1_000_000  # past every seq it used: neither a duplicate nor an equivocation
    gateway = farm["gateway"]
    assert isinstance(gateway, GatewayProcess)
    before = _rejected(gateway, "unauthorized")
    try:
        assert old.connect(settings).is_failure is False
        old.publish(old.reading("barn:b1", 23.0))
        deadline = time.monotonic() + 10
        while _rejected(gateway, "unauthorized") == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _rejected(gateway, "unauthorized") == before + 1
    finally:
        old.close()
        with BrokerAccounts(admin, FARM) as accounts:
            accounts.delete("b1-thermo")


def _rejected(gateway: GatewayProcess, reason: str) -> float:
    with urllib.request.urlopen(f"{gateway.http_url}/metrics", timeout=5) as response:
        return metric(response.read().decode(), "farmtrace_entries_rejected_total", reason)


def _login(url: str) -> dict[str, object]:
    rest = url.removeprefix("mqtt://")
    login, _, where = rest.rpartition("@")
    user, _, password = login.partition(":")
    host, _, port = where.rpartition(":")
    return {"host": host, "port": int(port), "username": user, "password": password}


class _LogWatch:
    """Reads the gateway's new blocks over its read API; which signers have entries in them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.height = 0
        self.signers: set[str] = set()

    def has(self, signer: str) -> bool:
        while True:
            try:
                url = f"{self.base}/api/v1/blocks/{self.height}"
                with urllib.request.urlopen(url, timeout=5) as response:
                    block = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return signer in self.signers
                raise
            self.signers |= {parse_entry(raw.encode()).kid for raw in block["entries"]}
            self.height += 1


def _check_history(farm: dict[str, object]) -> None:
    """barn:b1's readings run on across the swap; none of b1-thermo's after its revocation."""
    data_dir = farm["data_dir"]
    entries = [parse_entry(raw) for raw in committed_entries(data_dir)]  # type: ignore[arg-type]
    revoked = {
        str(e.payload["dev"]): i
        for i, e in enumerate(entries)
        if e.type == "device" and e.payload["action"] == "revoke"
    }
    assert set(revoked) == {"b1-thermo", "b1-thermo-2"}
    registered = [e for e in entries if e.type == "device" and e.payload["action"] == "register"]
    new = next(e for e in registered if e.payload["dev"] == "b1-thermo-2")
    assert new.payload["subjects"] == ("barn:b1",)
    barn = [(i, e.kid) for i, e in enumerate(entries) if e.type == "reading"]
    barn = [(i, kid) for i, kid in barn if entries[i].payload["subject"] == "barn:b1"]
    old = [i for i, kid in barn if kid == "b1-thermo"]
    replacement = [i for i, kid in barn if kid == "b1-thermo-2"]
    assert old and len(replacement) == 3
    assert max(old) < revoked["b1-thermo"] < min(replacement) < revoked["b1-thermo-2"]
