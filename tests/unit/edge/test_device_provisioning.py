"""What ``farmtrace device add`` hands a device: its device.toml and its settings."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from devices.service import DeviceSettings, load_settings, make_sensor
from farmtrace.cli import build_parser, main
from signer.device_lifecycle import device_settings, device_toml
from signer.mqtt_url import MqttUrl, parse_mqtt_url

URL = MqttUrl("gw.local", 1883, "b1-temp", 'p@ss:w"rd')


def test_device_toml_is_what_device_run_reads_with_the_password_intact(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text(device_toml(tmp_path / "st dir", "b1-temp", "farm1", URL, "barn:b1"))
    settings = load_settings(config, {})
    assert settings == DeviceSettings(
        state_dir=tmp_path / "st dir",
        farm="farm1",
        mqtt=settings.mqtt,
        device_id="b1-temp",
        subject="barn:b1",
    )
    assert settings.mqtt is not None
    assert parse_mqtt_url(settings.mqtt) == URL
    assert "farmtrace/farm1/b1-temp/entry" in config.read_text()


def test_an_ipv6_broker_stays_a_valid_url(tmp_path: Path) -> None:
    text = device_toml(tmp_path, "b1-temp", "farm1", MqttUrl("::1", 1883, "b1-temp", "pw"), None)
    url = tomllib.loads(text)["mqtt"]
    assert parse_mqtt_url(url).host == "::1"


def test_device_settings_name_its_login_and_topics() -> None:
    settings = device_settings(URL, "farm1")
    assert settings["mqtt"] == {
        "host": "gw.local",
        "port": 1883,
        "username": "b1-temp",
        "password": 'p@ss:w"rd',
    }
    assert settings["topics"] == {
        "entry": "farmtrace/farm1/b1-temp/entry",
        "status": "farmtrace/farm1/b1-temp/status",
        "receipt": "farmtrace/farm1/b1-temp/receipt",
    }


def test_a_new_device_can_run_the_simulated_model_of_another(tmp_path: Path) -> None:
    settings = DeviceSettings(
        state_dir=tmp_path, farm="farm1", mqtt="mqtt://h", sensor="sim:b1-temp"
    )
    sensor = make_sensor(settings, "b1-thermo", now_ms=0)
    readings = sensor.sample(3_600_000)
    assert len(readings) >= 50  # every --interval (60 s), not every 5 minutes
    assert {(kind, subject) for kind, subject, *_ in readings} == {("temperature", "barn:b1")}
    with pytest.raises(ValueError, match="simulated farm"):
        make_sensor(replace(settings, sensor="sim:pump-9"), "x", now_ms=0)


@pytest.mark.parametrize("action", ["add", "retire", "replace"])
def test_every_example_in_the_help_parses(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["device", action, "--help"])
    examples = capsys.readouterr().out.split("examples:", 1)[1].replace("\\\n", " ")
    commands = [line.split() for line in examples.splitlines() if "farmtrace device" in line]
    assert any(words[2] == action for words in commands)
    for words in commands:
        assert build_parser().parse_args(words[1:]).handler is not None
