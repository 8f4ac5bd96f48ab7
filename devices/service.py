"""A device as a service: its settings (device.toml and options), its sensor, its sampling run.

``farmtrace device run`` is this, wired to a command line::

    settings = load_settings(Path("device.toml"), {"speed": 60.0})
    with open_identity(settings) as identity:
        sensor = make_sensor(settings, identity.id, now_ms=int(time.time() * 1000))
        with DeviceTransport(identity, settings.farm, url, settings.serial) as link:
            stats = sample(link, sensor, stop, speed=settings.speed)
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from devices.hardware.ds18b20 import DS18B20
from devices.sampling import DS18B20Sensor, SamplingStats, Sensor, SimSensor, run_sampling
from firmware_sim.farm import FarmConfig
from signer.identity import DeviceIdentity
from signer.transport import DeviceTransport

__all__ = [
    "CONFIG_KEYS",
    "RESERVE_BLOCK",
    "DeviceSettings",
    "load_settings",
    "make_sensor",
    "open_identity",
    "sample",
]

CONFIG_KEYS = frozenset(
    {"state_dir", "mqtt", "farm", "serial", "sensor", "device_id", "subject"}
    | {"interval", "speed", "duration", "ca_file", "cert_file", "key_file"}
)
"""The settings a device.toml may hold (each also a ``farmtrace device run`` option)."""

RESERVE_BLOCK = 16
"""Seqs reserved per write of the seq state: a crash skips at most this many."""


@dataclass(frozen=True)
class DeviceSettings:
    """One device's settings: where its state is, how it sends, what it samples.

    ``ca_file``, ``cert_file``, ``key_file``: TLS files for an ``mqtts://`` broker
    (:func:`signer.mqtt_url.with_tls_files`).
    """

    state_dir: Path
    farm: str
    mqtt: str | None = None
    serial: str | None = None
    sensor: str = "sim"
    device_id: str | None = None
    subject: str | None = None
    interval: float = 60.0
    speed: float = 1.0
    duration: float | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def load_settings(config: Path | None, overrides: Mapping[str, Any]) -> DeviceSettings:
    """The settings of ``config`` (a device.toml, if any), each overridden by a non-None option.

    Raises:
        OSError, tomllib.TOMLDecodeError: ``config`` cannot be read.
        ValueError: an unknown setting, no state directory or farm, not
            exactly one of mqtt and serial, or TLS files with serial.
    """
    settings: dict[str, Any] = {}
    if config is not None:
        with open(config, "rb") as f:
            settings = tomllib.load(f)
        unknown = set(settings) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"{config}: unknown settings {sorted(unknown)}")
    settings |= {k: v for k, v in overrides.items() if k in CONFIG_KEYS and v is not None}
    for key in ("state_dir", "farm"):
        if key not in settings:
            raise ValueError(f"--{key.replace('_', '-')} (or {key} in --config) is required")
    if ("mqtt" in settings) == ("serial" in settings):
        raise ValueError("give exactly one of --mqtt and --serial")
    tls_files = sorted({"ca_file", "cert_file", "key_file"} & set(settings))
    if "serial" in settings and tls_files:
        raise ValueError(f"{', '.join(tls_files)}: for an mqtts:// broker, not a serial line")
    text = {k: None if settings.get(k) is None else str(settings[k]) for k in CONFIG_KEYS}
    try:
        return DeviceSettings(
            state_dir=Path(settings["state_dir"]),
            farm=str(settings["farm"]),
            mqtt=text["mqtt"],
            serial=text["serial"],
            device_id=text["device_id"],
            subject=text["subject"],
            sensor=str(settings.get("sensor", "sim")),
            interval=float(settings.get("interval", 60)),
            speed=float(settings.get("speed", 1.0)),
            duration=None if settings.get("duration") is None else float(settings["duration"]),
            ca_file=text["ca_file"],
            cert_file=text["cert_file"],
            key_file=text["key_file"],
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{config or 'options'}: {exc}") from exc


def open_identity(settings: DeviceSettings) -> DeviceIdentity:
    """The device's identity in its state directory, created first if a device id is set.

    Raises:
        FileNotFoundError: no identity there, and no device id to create one.
        StorageError, MalformedError: the state is locked, unreadable, or of another id.
    """
    if settings.device_id is not None:
        return DeviceIdentity.open_or_create(
            settings.state_dir, settings.device_id, reserve_block=RESERVE_BLOCK
        )
    return DeviceIdentity.open(settings.state_dir, reserve_block=RESERVE_BLOCK)


def make_sensor(settings: DeviceSettings, device_id: str, *, now_ms: int) -> Sensor:
    """The sensor the settings name: the simulated farm's models, or a DS18B20.

    ``sim`` simulates the farm's device ``device_id``; ``sim:<model>`` the
    farm's device ``<model>`` (e.g. ``sim:b1-temp`` for a thermometer added
    to barn b1 under a new id), signed as ``device_id``, sampling barns
    every ``interval`` seconds (at least 1).

    Raises:
        ValueError: an unknown sensor, a DS18B20 without a subject, not exactly
            one DS18B20 found, or a device id the simulated farm does not have.
        SensorError: the named DS18B20 cannot be read.
    """
    name = settings.sensor
    if name == "sim" or name.startswith("sim:"):
        config = FarmConfig(farm_id=settings.farm, start_ms=now_ms)
        model = name.partition(":")[2]
        if model:
            config = replace(config, env_interval_ms=int(settings.interval * 1000))
        return SimSensor(config, model or device_id)
    if name == "ds18b20" or name.startswith("ds18b20:"):
        if settings.subject is None:
            raise ValueError("--sensor ds18b20 needs --subject, e.g. barn:b1")
        found = DS18B20.discover()
        if ":" in name:
            found = [DS18B20(name.split(":", 1)[1])]
        if len(found) != 1:
            raise ValueError(f"expected one DS18B20, found {len(found)}: name it ds18b20:<id>")
        return DS18B20Sensor(found[0], settings.subject, int(settings.interval * 1000))
    raise ValueError(
        f"--sensor: expected sim, sim:<model>, ds18b20 or ds18b20:<id>, found {name!r}"
    )


def sample(
    link: DeviceTransport, sensor: Sensor, stop: threading.Event, *, speed: float = 1.0
) -> SamplingStats:
    """Sample, sign and record readings until ``stop`` is set; the clock runs ``speed`` times fast.

    Raises:
        FarmtraceError: a reading could not be signed or kept (the state is broken).
    """
    origin, start = time.monotonic(), int(time.time() * 1000)

    def now_ms() -> int:
        return start + int((time.monotonic() - origin) * 1000 * speed)

    return run_sampling(link.device, sensor, stop, now_ms=now_ms, on_recorded=link.wake)
