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
    SubmitLimit,
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

    ``farm`` None: an operator-only log (a hatchery's, a plant's, a shop's):
    no broker and no devices, the gateway (``gateway run`` without
    ``--farm``) takes its staff's signed events over HTTP and the desk sends
    them there (``desk run --submit-url``: ``submit_url``, default this
    machine's gateway). ``http_submit``: a farm's gateway takes them over
    HTTP too. Either way nginx passes ``POST /api/v1/submit`` to the gateway
    host, rate-limited per client address (``submit_limit``).
    ``pins``: the installed pins file (docs/deploy-supply-chain.md): the
    gateway checks events' references against it (``gateway run --pins``)
    and the site follows every log it names (``site run --pins``, one
    replica each under ``/logs/<slug>/``, the GS1 resolver at the root).

    Raises (from the constructor):
        ValueError: an unknown part, a host for a part that is not run, hosts
            without TLS, a broker or device with an operator-only log,
            ``http_submit`` without a farm, an operator-only desk with no
            gateway to send to, ``pins`` with neither a gateway nor a site,
            or ``tiles_url`` for a site that follows pins.
    """

    parts: tuple[str, ...]
    farm: str | None = "farm1"
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
    http_submit: bool = False
    submit_url: str | None = None
    submit_limit: SubmitLimit = field(default_factory=SubmitLimit)
    pins: Path | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown:
            raise ValueError(f"parts: expected some of {', '.join(PARTS)}, found {unknown}")
        for part in self.hosts:
            if part not in WEB_PARTS or part not in self.parts:
                raise ValueError(f"host for {part!r}: expected one of the web parts run here")
        if self.hosts and (self.tls_cert is None or self.tls_key is None):
            raise ValueError("public hosts need --tls-cert and --tls-key")
        _check_supply_chain(self)


def _check_supply_chain(machine: Machine) -> None:
    """The operator-only log's and the pins' constraints (see :class:`Machine`)."""
    if machine.farm is None:
        devices = sorted({"broker", "device"} & set(machine.parts))
        if devices:
            raise ValueError(
                f"an operator-only log has no devices: leave out {' and '.join(devices)}"
            )
        if machine.http_submit:
            raise ValueError(
                "--http-submit is for a farm's gateway: an operator-only log "
                "takes every entry over HTTP"
            )
        if "desk" in machine.parts and "gateway" not in machine.parts and not machine.submit_url:
            raise ValueError("the desk of an operator-only log needs --submit-url (its gateway)")
    if machine.pins is not None and not {"gateway", "site"} & set(machine.parts):
        raise ValueError("--pins is for the gateway and the site: neither runs here")
    if machine.pins is not None and "site" in machine.parts and machine.tiles_url is not None:
        raise ValueError(
            "a site following pins reads each log's proofs from its own "
            "replica: leave out --tiles-url"
        )


def _run(machine: Machine, *args: str) -> list[str]:
    return [machine.farmtrace, *args]


def _federated(machine: Machine) -> bool:
    """The site here follows the pinned logs (``site run --pins``), not one log."""
    return machine.pins is not None and "site" in machine.parts


def _mirrors(machine: Machine) -> tuple[str, ...]:
    if machine.mirrors is not None:
        return machine.mirrors
    if "site" not in machine.parts or _federated(machine):  # it stages nothing uncosigned
        return ()
    return (f"http://127.0.0.1:{machine.ports['site']}",)


def _tiles_url(machine: Machine) -> str | None:
    if machine.tiles_url is not None:
        return machine.tiles_url
    if "tiles" in machine.hosts and "site" in machine.hosts and not _federated(machine):
        return f"https://{machine.hosts['tiles']}/"
    return None


def _tiles_source(machine: Machine) -> str:
    for part in ("site", "gateway"):
        if part in machine.parts and not (part == "site" and _federated(machine)):
            return f"http://127.0.0.1:{machine.ports[part]}"
    return machine.sources[0]


def _takes_submissions(machine: Machine) -> bool:
    return machine.farm is None or machine.http_submit


def _pins_args(machine: Machine) -> list[str]:
    return [] if machine.pins is None else ["--pins", str(machine.pins)]


def _gateway_unit(machine: Machine) -> Unit:
    state = "/var/lib/farmtrace-gateway"
    common = [
        "--http-port",
        str(machine.ports["gateway"]),
        *_pins_args(machine),
        *[arg for url in _mirrors(machine) for arg in ("--mirror", url)],
    ]
    if machine.farm is None:
        return Unit(
            "gateway",
            "an operator-only log: signed events over HTTP, blocks, checkpoints, read API",
            _run(machine, "gateway", "run", "--data-dir", state, *common),
            _DOCS,
            stop_timeout_s=60,
            notes=(
                "No --farm: no broker; staff's events come by POST /api/v1/submit",
                "(docs/deploy-supply-chain.md).",
            ),
        )
    mqtt = f"mqtt://gateway@127.0.0.1:{machine.mqtt_port}"
    http = ["--http-submit"] if machine.http_submit else []
    return Unit(
        "gateway",
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
            *http,
            *common,
        ),
        _DOCS,
        after=("farmtrace-broker.service",) if "broker" in machine.parts else (),
        credentials=(("mqtt-password", f"{CREDENTIALS_DIR}/gateway-mqtt-password"),),
        stop_timeout_s=60,
    )


def _federated_site_unit(machine: Machine, proxied: list[str]) -> Unit:
    assert machine.pins is not None
    public = ["--public-url", machine.public_url] if machine.public_url else []
    return Unit(
        "site",
        "the consumer site following every pinned log, and the GS1 resolver",
        _run(
            machine,
            "site",
            "run",
            "--site-dir",
            "/var/lib/farmtrace-site",
            "--pins",
            str(machine.pins),
            "--port",
            str(machine.ports["site"]),
            *public,
            *proxied,
            "--sync-interval",
            "1",
        ),
        _DOCS,
        notes=(
            "One verified replica per pinned log in /var/lib/farmtrace-site/logs/<slug>/;",
            "the pins file and the trust roots and witness policies it names are",
            "installed read-only (docs/deploy-supply-chain.md).",
        ),
    )


def _desk_way(machine: Machine) -> list[str]:
    """How the desk sends: ``--submit-url`` (an operator-only log) or ``--mqtt`` and ``--farm``."""
    if machine.farm is None or machine.submit_url is not None:
        url = machine.submit_url or f"http://127.0.0.1:{machine.ports['gateway']}"
        return ["--submit-url", url]
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
    return ["--mqtt", mqtt, *tls, "--farm", machine.farm]


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
        return _gateway_unit(machine)
    if part == "site" and _federated(machine):
        return _federated_site_unit(machine, proxied)
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
        way = _desk_way(machine)
        mqtt_password = (("mqtt-password", f"{CREDENTIALS_DIR}/desk-mqtt-password"),)
        return Unit(
            part,
            "the operators' desk",
            _run(
                machine,
                "desk",
                "run",
                "--desk-dir",
                state,
                *way,
                "--check-url",
                machine.check_url,
                "--port",
                str(ports["desk"]),
                "--secure-cookie",
                *proxied,
            ),
            _DOCS,
            credentials=mqtt_password if "--mqtt" in way else (),
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
                    name,
                    port,
                    machine.static_root,
                    page_cache_seconds=machine.page_cache_seconds,
                    federated=_federated(machine),
                )
            )
        elif part == "desk":
            hosts.append(desk_host(name, port))
        elif part == "witness":
            hosts.append(witness_host(name, port))
        else:
            submit = machine.submit_limit if _takes_submissions(machine) else None
            hosts.append(gateway_host(name, port, submit))
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
