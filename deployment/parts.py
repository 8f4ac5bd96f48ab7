"""The units and nginx hosts of the farmtrace parts one machine runs (docs/deploy.md).

:class:`Machine` says which parts run where and how they find each other;
:func:`units` and :func:`nginx_plan` turn it into systemd units and nginx
server blocks; :func:`write_bundle` writes them into a directory. Every
service listens on loopback only; nginx (TLS) is what the network sees, and
devices reach the broker over MQTT with TLS (port 8883).
"""

from __future__ import annotations

import ipaddress
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
    tiles_host,
    witness_host,
)
from deployment.systemd import CREDENTIALS_DIR, Unit, render_unit

__all__ = ["PARTS", "Machine", "nginx_plan", "units", "write_bundle"]

PARTS = ("broker", "gateway", "site", "desk", "witness", "device", "tiles")
"""Every part farmtrace has a unit for."""

WEB_PARTS = ("site", "desk", "witness", "gateway", "tiles")
"""The parts nginx can front."""

_DOCS = "file:/opt/farmtrace/docs/deploy.md"


@dataclass(frozen=True, slots=True)
class Machine:
    """One machine's parts and settings.

    ``hosts`` maps a web part to its public host name (nginx serves it with
    TLS from ``tls_cert``/``tls_key``); a part without a host name is not
    exposed. The desk reaches the broker at ``mqtt_host``/``mqtt_port``:
    plain MQTT on loopback, else ``mqtts://`` (the broker's TLS listener)
    with ``mqtt_ca_file`` (None: the system's trust store) and the client
    certificate ``mqtt_cert_file``/``mqtt_key_file`` (None: none).
    ``public_url`` is the site's origin on labels and in exports;
    ``tiles_url`` the tlog-tiles prefix its pages' verifier reads proofs from
    (None: ``https://<the tiles host>/`` when this machine serves tiles and the site).
    The ``tiles`` part publishes the log (``farmtrace tiles --follow``) from
    the site's read API (else the gateway's, else the first of ``sources``),
    checked against ``trust``, into ``tiles_dir``, which nginx serves as the
    tiles host.
    ``mirrors``: the read APIs the gateway's receipts and witness submissions
    wait for (``gateway run --mirror``); None: the site's, when it runs here.
    The site always copies blocks ahead of the witnesses (``--stage-uncosigned``)
    and syncs every second, so that receipts wait only a few seconds.

    Raises (from the constructor):
        ValueError: an unknown part, a host for a part that is not run, or hosts without TLS.
    """

    parts: tuple[str, ...]
    farm: str = "farm1"
    hosts: Mapping[str, str] = field(default_factory=dict)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_url: str | None = None
    tiles_url: str | None = None
    tiles_dir: Path = Path("/var/lib/farmtrace-tiles/www")
    trust: Path = Path("/etc/farmtrace/trust.json")
    mirrors: tuple[str, ...] | None = None
    sources: tuple[str, ...] = ("http://127.0.0.1:8080",)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None
    desk_operator: str = "desk"
    check_url: str = "http://127.0.0.1:8080"
    farmtrace: str = "/opt/farmtrace/.venv/bin/farmtrace"
    ports: Mapping[str, int] = field(
        default_factory=lambda: {"gateway": 8080, "site": 8000, "desk": 8100, "witness": 7380}
    )
    static_root: Path | None = None
    brotli: bool = False
    page_cache_seconds: int = 1
    """How old a copy of a site page nginx may answer with (0: none); docs/deploy.md."""

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


def _mirrors(machine: Machine) -> tuple[str, ...]:
    if machine.mirrors is not None:
        return machine.mirrors
    return (f"http://127.0.0.1:{machine.ports['site']}",) if "site" in machine.parts else ()


def _tiles_url(machine: Machine) -> str | None:
    if machine.tiles_url is not None:
        return machine.tiles_url
    if "tiles" in machine.hosts and "site" in machine.hosts:
        return f"https://{machine.hosts['tiles']}/"
    return None


def _tiles_source(machine: Machine) -> str:
    for part in ("site", "gateway"):
        if part in machine.parts:
            return f"http://127.0.0.1:{machine.ports[part]}"
    return machine.sources[0]


def _tiles_unit(machine: Machine) -> Unit:
    after = [f"farmtrace-{p}.service" for p in ("gateway", "site") if p in machine.parts]
    return Unit(
        "tiles",
        "the log as C2SP tlog-tiles files for nginx",
        _run(
            machine,
            "tiles",
            "--url",
            _tiles_source(machine),
            "--trust",
            str(machine.trust),
            "--dir",
            str(machine.tiles_dir),
            "--follow",
            "5",
        ),
        "file:/opt/farmtrace/docs/tiles.md",
        after=tuple(after),
        shared_state=True,
        notes=(
            "Copies the log from the site's read API when the site runs here (pages must",
            "not see tiles ahead of the site: docs/tiles.md), checked against the trust",
            "root (copy trust.json to /etc/farmtrace/); nginx serves the directory.",
        ),
    )


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
            notes=(
                "The config: farmtrace broker config --out /etc/farmtrace/broker --state-dir",
                "/var/lib/farmtrace-broker --tls-ca CA --tls-cert CERT --tls-key KEY: devices",
                "use TLS on 8883; plain MQTT (1883) stays on 127.0.0.1 (docs/broker.md, TLS).",
            ),
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
                *[arg for url in _mirrors(machine) for arg in ("--mirror", url)],
            ),
            _DOCS,
            after=("farmtrace-broker.service",) if "broker" in machine.parts else (),
            credentials=(("mqtt-password", f"{CREDENTIALS_DIR}/gateway-mqtt-password"),),
            stop_timeout_s=60,
        )
    if part == "site":
        public = ["--public-url", machine.public_url] if machine.public_url else []
        tiles_url = _tiles_url(machine)
        tiles = ["--tiles-url", tiles_url] if tiles_url else []
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
                *tiles,
                *proxied,
                *sources,
                "--stage-uncosigned",
                "--sync-interval",
                "1",
            ),
            _DOCS,
        )
    if part == "desk":
        scheme, tls = "mqtt", []
        if not _is_loopback(machine.mqtt_host):  # off this machine: the broker's TLS listener
            scheme = "mqtts"
            files = {
                "--mqtt-ca-file": machine.mqtt_ca_file,
                "--mqtt-cert-file": machine.mqtt_cert_file,
                "--mqtt-key-file": machine.mqtt_key_file,
            }
            tls = [arg for opt, path in files.items() if path for arg in (opt, str(path))]
        host = f"[{machine.mqtt_host}]" if ":" in machine.mqtt_host else machine.mqtt_host
        mqtt = f"{scheme}://{machine.desk_operator}@{host}:{machine.mqtt_port}"
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
                *tls,
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
    if part == "tiles":
        return _tiles_unit(machine)
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
        notes=(
            'device.toml: mqtt = "mqtts://ID@BROKER:8883" and ca_file = the farm\'s CA',
            "(docs/raspberry-pi.md, TLS for MQTT).",
            "For a serial transport: PrivateDevices=no and SupplementaryGroups=dialout.",
        ),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        if part == "tiles":
            hosts.append(tiles_host(name, machine.tiles_dir))
            continue
        port = machine.ports[part]
        if part == "site":
            hosts.append(
                site_host(
                    name, port, machine.static_root, page_cache_seconds=machine.page_cache_seconds
                )
            )
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
