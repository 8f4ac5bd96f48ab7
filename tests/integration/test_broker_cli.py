"""``farmtrace broker config``, run as a user would, and the broker it configures."""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from farm_logs import LogFactory
from mqtt_broker import RUN_AS, Probe, free_port

from chain.entries import device_payload, parse_entry, sign_entry
from farmtrace import _cmd_broker
from gateway.broker_config import verify_password
from gateway.datadir import DataDir
from gateway.mosquitto import MosquittoProcess
from signer.mqtt_url import parse_mqtt_url

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def broker_cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``farmtrace broker ARGS...`` through the subcommand's own parser."""
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_broker.add_parser(parser.add_subparsers(dest="command", required=True))

    def run(*args: object) -> tuple[int, str, str]:
        try:
            ns = parser.parse_args(["broker", *(str(a) for a in args)])
            code = int(ns.handler(ns))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_as() -> list[str]:
    return ["--run-as", RUN_AS] if RUN_AS else []


def credentials(out: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((out / "credentials.json").read_text())
    return doc


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("action", [[], ["config"]])
def test_help_explains_with_examples(broker_cli: Cli, action: list[str]) -> None:
    code, out, _ = broker_cli(*action, "--help")
    assert code == 0 and "usage: farmtrace broker" in out
    assert "farmtrace broker config --farm" in out.split("examples:", 1)[1]


def test_config_writes_files_that_run_a_broker_every_user_can_log_in_to(
    broker_cli: Cli, tmp_path: Path
) -> None:
    out, port = tmp_path / "broker", free_port()
    code, stdout, err = broker_cli(
        "config", "--farm", "farm1", "--out", out, "--port", port,
        "--device", "dev-a", "--device", "op-vet", *run_as(),
    )  # fmt: skip
    assert code == 0, err
    assert f"-c {out / 'mosquitto.conf'}" in stdout
    assert mode(out / "passwd") == 0o600 and mode(out / "credentials.json") == 0o600
    doc = credentials(out)
    passwords = doc["passwords"]
    assert isinstance(passwords, dict) and set(passwords) == {"gateway", "dev-a", "op-vet"}
    assert len(set(passwords.values())) == 3 and all(len(p) >= 40 for p in passwords.values())
    assert all(p not in stdout for p in passwords.values())
    hashes = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert all(verify_password(hashes[u], p) for u, p in passwords.items())

    with MosquittoProcess(out / "mosquitto.conf", port=port) as broker:
        urls = doc["urls"]
        assert isinstance(urls, dict)
        for user, url in urls.items():
            parsed = parse_mqtt_url(url)
            assert (parsed.username, parsed.port) == (user, port)
            probe = Probe(broker)
            assert not probe.connect(parsed.username, parsed.password).is_failure, user
            probe.close()
        assert Probe(broker).connect().is_failure  # anonymous


def test_rerunning_keeps_passwords_adds_and_removes_users(broker_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "broker"
    assert broker_cli("config", "--farm", "farm1", "--out", out, "--device", "dev-a")[0] == 0
    before = credentials(out)["passwords"]
    code, stdout, _ = broker_cli(
        "config", "--farm", "farm1", "--out", out, "--device", "dev-b", "--remove", "dev-a"
    )
    after = credentials(out)["passwords"]
    assert code == 0 and "new users: dev-b" in stdout and "removed users: dev-a" in stdout
    assert isinstance(before, dict) and isinstance(after, dict)
    assert set(after) == {"gateway", "dev-b"} and after["gateway"] == before["gateway"]
    assert "dev-a:" not in (out / "passwd").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "barn/1"], "MQTT username"),
        (["--device", "dev-a", "--tls-ca", "ca.pem"], "all three"),
        (["--bind", "0.0.0.0", "--port", "0"], "port"),
        (["--remove", "gateway"], "gateway user"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    broker_cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = broker_cli("config", "--farm", "farm1", "--out", tmp_path / "b", *args)
    assert code == 2 and message in err
    assert not (tmp_path / "b" / "passwd").exists()


def test_another_farms_credentials_are_not_overwritten(broker_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "broker"
    assert broker_cli("config", "--farm", "farm1", "--out", out)[0] == 0
    before = (out / "credentials.json").read_text()
    code, _, err = broker_cli("config", "--farm", "farm2", "--out", out)
    assert code == 2 and "farm1" in err
    assert (out / "credentials.json").read_text() == before


def test_devices_from_log_are_the_registered_and_not_revoked_signers(
    broker_cli: Cli, log_factory: LogFactory, tmp_path: Path
) -> None:
    for dev in ("dev-x", "dev-y", "dev-z"):
        log_factory.register(dev)
    log_factory.admin_seq += 1
    revoke = device_payload("revoke", "dev-y", log_factory.admin_seq, 1_767_225_700_000)
    log_factory.commit([parse_entry(sign_entry(revoke, "admin", log_factory.admin.seed))])
    data_dir: DataDir = log_factory.data_dir
    code, _, err = broker_cli("config", "--farm", "f", "--out", tmp_path / "b",
                              "--devices-from-log", data_dir.root)  # fmt: skip
    assert code == 2 and "another process" in err  # the factory still holds the store open
    log_factory.close()
    code, _, err = broker_cli("config", "--farm", "f", "--out", tmp_path / "b",
                              "--devices-from-log", data_dir.root)  # fmt: skip
    assert code == 0, err
    passwords = credentials(tmp_path / "b")["passwords"]
    assert isinstance(passwords, dict)
    assert sorted(passwords) == ["admin", "dev-x", "dev-z", "gateway"]
