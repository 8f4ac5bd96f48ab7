"""``farmtrace device init|run|register`` and ``farmtrace bridge``, run as a user would."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_gateway import FakeGateway
from mqtt_broker import Broker

from chain.entries import parse_entry
from chain.keyfile import SignerKey, save_key
from farmtrace import _cmd_bridge, _cmd_device

Cli = Callable[..., tuple[int, str, str]]
FARM = "f1"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``farmtrace ARGS...`` with the device and bridge commands (as cli.py registers them)."""
    parser = argparse.ArgumentParser(prog="farmtrace")
    commands = parser.add_subparsers(dest="command", required=True)
    _cmd_device.add_parser(commands)
    _cmd_bridge.add_parser(commands)

    def run(*args: object) -> tuple[int, str, str]:
        try:
            parsed = parser.parse_args([str(a) for a in args])
            code = parsed.handler(parsed)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def gateway(broker: Broker) -> Iterator[FakeGateway]:
    gw = FakeGateway(broker.port, FARM)
    yield gw
    gw.stop()


@pytest.mark.parametrize(
    "command",
    [["device"], ["device", "init"], ["device", "run"], ["device", "register"], ["bridge"]],
)
def test_every_help_has_examples(cli: Cli, command: list[str]) -> None:
    code, out, _ = cli(*command, "--help")
    assert code == 0 and "examples:" in out
    assert "farmtrace " in out.split("examples:", 1)[1]


def test_init_then_run_over_mqtt_sends_simulated_readings(
    cli: Cli, broker: Broker, gateway: FakeGateway, tmp_path: Path
) -> None:
    state = tmp_path / "b1-temp"
    code, out, _ = cli("device", "init", "--state-dir", state, "--device-id", "b1-temp")
    assert code == 0 and "pubkey" in out
    code, _, err = cli("device", "init", "--state-dir", state, "--device-id", "b1-temp")
    assert code == 2 and "already holds" in err
    args = ["device", "run", "--state-dir", state, "--mqtt", broker.url, "--farm", FARM]
    code, out, _ = cli(*args, "--speed", 3600, "--duration", 1.5)  # ~1.5 simulated hours
    assert code == 0 and "recorded" in out
    first = gateway.seqs("b1-temp")
    assert len(first) >= 10
    config = tmp_path / "device.toml"
    config.write_text(
        f'state_dir = "{state}"\nmqtt = "{broker.url}"\nfarm = "{FARM}"\nspeed = 3600.0\n'
    )
    code, out, _ = cli("device", "run", "--config", config, "--duration", 1.5)
    assert code == 0
    second = gateway.seqs("b1-temp") - first
    assert second and min(second) > max(first)  # the seq went on across runs: never reused


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--farm", FARM, "--mqtt", "mqtt://h"], "--state-dir"),
        (["--state-dir", "x", "--farm", FARM], "exactly one of --mqtt and --serial"),
        (["--state-dir", "x", "--farm", FARM, "--mqtt", "http://h"], "scheme"),
        (["--state-dir", "{tmp}/none", "--farm", FARM, "--mqtt", "mqtt://h"], "no device key"),
    ],
)
def test_run_refuses_bad_settings_with_exit_2(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = cli("device", "run", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in err


def test_run_refuses_a_sim_sensor_for_an_unknown_device(cli: Cli, tmp_path: Path) -> None:
    state = tmp_path / "d"
    cli("device", "init", "--state-dir", state, "--device-id", "pump-7")
    code, _, err = cli("device", "run", "--state-dir", state, "--farm", FARM, "--mqtt", "mqtt://h")
    assert code == 2 and "simulated farm" in err


def test_register_signs_with_the_operators_seq_and_waits_for_the_receipt(
    cli: Cli, broker: Broker, gateway: FakeGateway, tmp_path: Path
) -> None:
    save_key(SignerKey.generate("admin"), tmp_path / "admin.key")
    device_key = SignerKey.generate("b1-temp")
    base = ["device", "register", "--operator-key", tmp_path / "admin.key"]
    base += ["--operator-state", tmp_path / "ops", "--mqtt", broker.url, "--farm", FARM]
    for expected_seq in (1, 2):
        code, out, err = cli(
            *base,
            "--device-id",
            "b1-temp",
            f"--pubkey={device_key.public_key_b64}",
            "--kind",
            "temperature",
            "--timeout",
            10,
        )
        assert code == 0, err
        assert f"seq {expected_seq}" in out and "block height" in out
    entry = parse_entry(gateway.raw[("admin", 2)])
    assert entry.type == "device" and entry.payload["dev"] == "b1-temp"
    assert entry.payload["pubkey"] == device_key.public_key_b64
    assert json.loads(json.dumps(entry.payload["kinds"])) == ["temperature"]
    code, _, err = cli(*base, "--device-id", "b1-temp", "--pubkey", "short")
    assert code == 2 and "32-byte" in err


def test_register_times_out_without_a_gateway(cli: Cli, broker: Broker, tmp_path: Path) -> None:
    save_key(SignerKey.generate("admin"), tmp_path / "admin.key")
    code, _, err = cli(
        "device",
        "register",
        "--operator-key",
        tmp_path / "admin.key",
        "--operator-state",
        tmp_path / "ops",
        "--mqtt",
        broker.url,
        "--farm",
        FARM,
        "--device-id",
        "b1-temp",
        f"--pubkey={SignerKey.generate('x').public_key_b64}",
        "--timeout",
        0.5,
    )
    assert code == 1 and "no receipt" in err, err


def test_bridge_runs_and_reports_what_it_did(cli: Cli, broker: Broker) -> None:
    code, out, _ = cli(
        "bridge", "--serial", "loop://", "--mqtt", broker.url, "--farm", FARM, "--duration", 0.5
    )
    assert code == 0 and "forwarded 0 entries" in out
    code, _, err = cli(
        "bridge", "--serial", "/dev/does-not-exist", "--mqtt", broker.url, "--farm", FARM
    )
    assert code == 2 and "does-not-exist" in err
