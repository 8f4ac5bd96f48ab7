"""``mqtts://`` in settings: device.toml, the gateway's MQTT settings, deployed units, the CLI."""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path

import pytest

from deployment import Machine, render_unit, units
from devices.service import load_settings
from farmtrace import _cmd_device
from gateway.broker_config import BrokerSettings, TlsFiles, render_config
from gateway.broker_tls import client_context
from gateway.mqtt_ingest import MqttSettings
from signer.device_lifecycle import device_toml
from signer.mqtt_url import MqttUrl, parse_mqtt_url, with_tls_files

TLS_URL = MqttUrl(
    "gw.farm",
    8883,
    "b1-temp",
    "pw",
    tls=True,
    ca_file=Path("/etc/farmtrace/farm-ca.pem"),
    cert_file=Path("/var/lib/d/tls.pem"),
    key_file=Path("/var/lib/d/tls.key"),
)


def test_device_toml_for_mqtts_carries_the_tls_files_device_run_reads(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text(device_toml(tmp_path, "b1-temp", "farm1", TLS_URL, None))
    settings = load_settings(config, {})
    assert settings.mqtt is not None and settings.mqtt.startswith("mqtts://")
    url = with_tls_files(
        parse_mqtt_url(settings.mqtt), settings.ca_file, settings.cert_file, settings.key_file
    )
    assert url == TLS_URL
    overridden = load_settings(config, {"ca_file": "/other-ca.pem"})  # an option wins
    assert overridden.ca_file == "/other-ca.pem"


def test_tls_files_with_a_serial_line_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ca_file: for an mqtts:// broker, not a serial line"):
        load_settings(None, {"state_dir": "s", "farm": "f", "serial": "/dev/x", "ca_file": "c"})


def test_device_run_takes_the_tls_files_as_options() -> None:
    parser = argparse.ArgumentParser()
    _cmd_device.add_parser(parser.add_subparsers())
    tls = ["--mqtt-ca-file", "ca.pem", "--mqtt-cert-file", "c.pem", "--mqtt-key-file", "c.key"]
    args = parser.parse_args(["device", "run", "--mqtt", "mqtts://gw", *tls])
    assert (args.ca_file, args.cert_file, args.key_file) == (
        Path("ca.pem"),
        Path("c.pem"),
        Path("c.key"),
    )


def test_the_gateway_refuses_tls_files_without_tls() -> None:
    with pytest.raises(ValueError, match="without TLS"):
        MqttSettings(ca_file=Path("/ca.pem"), verify_workers=0)


def test_the_gateway_tls_context_checks_the_host_name(tmp_path: Path) -> None:
    context = client_context(None)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(ValueError, match="cannot use them"):
        client_context(tmp_path / "none.pem")
    with pytest.raises(ValueError, match="needs a certificate file"):
        client_context(None, key_file=tmp_path / "k.pem")


def _desk_exec(machine: Machine) -> str:
    (unit,) = units(machine)
    return next(line for line in render_unit(unit).splitlines() if line.startswith("ExecStart="))


def test_a_desk_off_the_brokers_machine_connects_with_tls_and_the_farms_ca() -> None:
    remote = Machine(
        parts=("desk",),
        mqtt_host="gw.farm.example",
        mqtt_port=8883,
        mqtt_ca_file=Path("/etc/farmtrace/farm-ca.pem"),
        mqtt_cert_file=Path("/etc/farmtrace/desk.pem"),
        mqtt_key_file=Path("/etc/farmtrace/desk.key"),
    )
    line = _desk_exec(remote)
    assert "--mqtt mqtts://desk@gw.farm.example:8883" in line
    assert (
        "--mqtt-ca-file /etc/farmtrace/farm-ca.pem --mqtt-cert-file /etc/farmtrace/desk.pem" in line
    )
    assert "--mqtt-key-file /etc/farmtrace/desk.key" in line
    local = _desk_exec(Machine(parts=("desk",)))
    assert "--mqtt mqtt://desk@127.0.0.1:1883" in local and "--mqtt-ca-file" not in local


def test_the_deployed_broker_and_device_units_say_how_tls_is_set_up() -> None:
    rendered = {u.name: render_unit(u) for u in units(Machine(parts=("broker", "device")))}
    assert "--tls-ca CA --tls-cert CERT --tls-key KEY" in rendered["farmtrace-broker.service"]
    assert "mqtts://ID@BROKER:8883" in rendered["farmtrace-device.service"]


def test_the_brokers_config_has_tls_for_the_network_and_plain_mqtt_on_loopback_only() -> None:
    settings = BrokerSettings(
        farm="farm1",
        state_dir=Path("/var/lib/farmtrace-broker"),
        users={"gateway": "pw", "b1-temp": "pw2"},
        tls=TlsFiles(Path("/etc/b/ca.pem"), Path("/etc/b/broker.pem"), Path("/etc/b/broker.key")),
    )
    lines = render_config(settings, Path("/etc/farmtrace/broker")).splitlines()
    listeners = [line for line in lines if line.startswith("listener ")]
    assert listeners == ["listener 1883 127.0.0.1", "listener 8883"]  # 8883: every interface
    assert "require_certificate true" in lines and "cafile /etc/b/ca.pem" in lines
