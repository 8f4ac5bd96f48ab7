"""The units and nginx hosts of the farmtrace parts one machine runs (docs/deploy.md).

:class:`Machine` says which parts run where and how they find each other;
:func:`units` and :func:`nginx_plan` turn it into systemd units and nginx
server blocks; :func:`write_bundle` writes them into a directory. Every
service listens on loopback only; nginx (TLS) is what the network sees, and
devices reach the broker over MQTT with TLS (port 8883).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deployment.nginx import (
    NginxPlan,
    VirtualHost,
    desk_host,
    gateway_host,
    server_blocks,
    site_host,
    witness_host,
)
from deployment.systemd import CREDENTIALS_DIR, Unit, render_unit

__all__ = ["PARTS", "Machine", "nginx_plan", "units", "write_bundle"]

PARTS = ("broker", "gateway", "site", "desk", "witness", "device")
"""Every part farmtrace has a unit for."""

WEB_PARTS = ("site", "desk", "witness", "gateway")
"""The parts nginx can front."""

_DOCS = "file:/opt/farmtrace/docs/deploy.md"


@dataclass(frozen=True, slots=True)
class Machine:
    """One machine's parts and settings.

    ``hosts`` maps a web part to its public host name (nginx serves it with
    TLS from ``tls_cert``/``tls_key``); a part without a host name is not
    exposed. ``public_url`` is the site's origin on labels and in exports.

    Raises (from the constructor):
        ValueError: an unknown part, a host for a part that is not run, or hosts without TLS.
    """

    parts: tuple[str, ...]
    farm: str = "farm1"
    hosts: Mapping[str, str] = field(default_factory=dict)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str | None = None
    sources: tuple[str, ...] = ("http://127.0.0.1:8080",)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    desk_operator: str = "desk"
    check_url: str = "http://127.0.0.1:8080"
    farmtrace: str = "/opt/farmtrace/.venv/bin/farmtrace"
    ports: Mapping[str, int] = field(
        default_factory=lambda: {"gateway": 8080, "site": 8000, "desk": 8100, "witness": 7380}
    )
    static_root: Path | None = None
    brotli: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown:
            raise ValueError(f"parts: expected some of {', '.join(PARTS)}, found {unknown}")
        for part in self.hosts:
            if part not in WEB_PARTS or part not in self.parts:
                raise ValueError(f"host for {part!r}: expected one of the web parts run here")
        if self.hosts and (self.tls_cert is None or self.tls_key is None):
            raise ValueError("public hosts need --tls-cert and --tls-key")


def _run(machine: Machine, *args: str) -> list[str]:
    return [machine.farmtrace, *args]


def _unit(machine: Machine, part: str) -> Unit:
    ports = machine.ports
    state = f"/var/lib/farmtrace-{part}"
    proxied = ["--trusted-proxy", "127.0.0.1"] if part in machine.hosts else []
    if part == "broker":
        return Unit(
            part,
            "Mosquitto for the farm's devices",
            ["/usr/sbin/mosquitto", "-c", "/etc/farmtrace/broker/mosquitto.conf"],
            _DOCS,
            reload_command="/bin/kill -HUP $MAINPID",
            notes=("The config: farmtrace broker config --state-dir /var/lib/farmtrace-broker.",),
        )
    if part == "gateway":
        mqtt = f"mqtt://gateway@127.0.0.1:{machine.mqtt_port}"
        return Unit(
            part,
            "MQTT ingest, blocks, checkpoints, read API",
            _run(
                machine,
                "gateway",
                "run",
                "--data-dir",
                state,
                "--farm",
                machine.farm,
                "--mqtt",
                mqtt,
                "--http-port",
                str(ports["gateway"]),
            ),
            _DOCS,
            after=("farmtrace-broker.service",) if "broker" in machine.parts else (),
            credentials=(("mqtt-password", f"{CREDENTIALS_DIR}/gateway-mqtt-password"),),
            stop_timeout_s=60,
        )
    if part == "site":
        public = ["--public-url", machine.public_url] if machine.public_url else []
        sources = [arg for url in machine.sources for arg in ("--source", url)]
        return Unit(
            part,
            "the consumer site and its verified replica",
            _run(
                machine,
                "site",
                "run",
                "--site-dir",
                state,
                "--port",
                str(ports["site"]),
                *public,
                *proxied,
                *sources,
            ),
            _DOCS,
        )
    if part == "desk":
        mqtt = f"mqtt://{machine.desk_operator}@{machine.mqtt_host}:{machine.mqtt_port}"
        return Unit(
            part,
            "the operators' desk",
            _run(
                machine,
                "desk",
                "run",
                "--desk-dir",
                state,
                "--mqtt",
                mqtt,
                "--farm",
                machine.farm,
                "--check-url",
                machine.check_url,
                "--port",
                str(ports["desk"]),
                "--secure-cookie",
                *proxied,
            ),
            _DOCS,
            credentials=(("mqtt-password", f"{CREDENTIALS_DIR}/desk-mqtt-password"),),
        )
    if part == "witness":
        return Unit(
            part,
            "a C2SP tlog-witness",
            _run(
                machine,
                "witness",
                "serve",
                "--dir",
                state,
                "--port",
                str(ports["witness"]),
                *proxied,
            ),
            _DOCS,
        )
    return Unit(
        "device",
        "signed sensor readings",
        _run(machine, "device", "run", "--config", "/etc/farmtrace/device.toml"),
        "file:/opt/farmtrace/docs/raspberry-pi.md",
        private_devices=True,
        notes=("For a serial transport: PrivateDevices=no and SupplementaryGroups=dialout.",),
    )


def units(machine: Machine) -> list[Unit]:
    """The systemd units of ``machine``'s parts, in :data:`PARTS` order."""
    return [_unit(machine, part) for part in PARTS if part in machine.parts]


def nginx_plan(machine: Machine, https_port: int = 443, http_port: int | None = 80) -> NginxPlan:
    """nginx in front of ``machine``'s public hosts.

    Precondition: ``machine.hosts`` is not empty (so TLS files are set).
    """
    assert machine.tls_cert is not None and machine.tls_key is not None
    hosts: list[VirtualHost] = []
    for part in WEB_PARTS:
        name = machine.hosts.get(part)
        if name is None:
            continue
        port = machine.ports[part]
        if part == "site":
            hosts.append(site_host(name, port, machine.static_root))
        elif part == "desk":
            hosts.append(desk_host(name, port))
        elif part == "witness":
            hosts.append(witness_host(name, port))
        else:
            hosts.append(gateway_host(name, port))
    return NginxPlan(
        tuple(hosts),
        machine.tls_cert,
        machine.tls_key,
        https_port=https_port,
        http_port=http_port,
        brotli=machine.brotli,
    )


def write_bundle(machine: Machine, out: Path) -> list[Path]:
    """Write ``out/systemd/*.service`` and (with hosts) ``out/nginx/farmtrace.conf``.

    Raises:
        OSError: ``out`` cannot be written.
    """
    written = []
    (out / "systemd").mkdir(parents=True, exist_ok=True)
    for unit in units(machine):
        path = out / "systemd" / unit.name
        path.write_text(render_unit(unit))
        written.append(path)
    if machine.hosts:
        (out / "nginx").mkdir(exist_ok=True)
        path = out / "nginx" / "farmtrace.conf"
        path.write_text(server_blocks(nginx_plan(machine)))
        written.append(path)
    for path in written:
        os.chmod(path, 0o644)
    return written
