"""Setting up and running a gateway as its operator does: a new log, a run's settings, a run.

::

    created = create_log(DataDir(Path("gw")), "farm.example/log", admin_id="admin", now_ms=now)
    config = gateway_config(DataDir(Path("gw")), "farm1", MqttSettings(port=1883), http_port=0)
    run_until(Gateway(config), stopping)          # returns True after a clean stop
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chain.keyfile import SignerKey, load_key, save_key
from chain.trust import TrustRoot
from gateway.admission import AdmissionPolicy
from gateway.datadir import DataDir
from gateway.fleet_state import FleetSettings
from gateway.ingest import IngestConfig
from gateway.init import init_data_dir
from gateway.mirror_gate import MirrorSettings, mirror_urls
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig
from gateway.witnessing import WitnessingConfig
from readapi.crosslog import Pins

__all__ = ["CreatedLog", "create_log", "gateway_config", "run_until"]


@dataclass(frozen=True)
class CreatedLog:
    """A new log: its trust root, its genesis administrator, where that key was saved."""

    trust: TrustRoot
    admin: SignerKey
    admin_key_file: Path | None
    """None when the administrator's key was given (it stays where it is)."""
    admin_state: Path
    """The administrator's seq state directory: its seq 1 is the genesis registration."""


def create_log(
    data_dir: DataDir,
    origin: str,
    *,
    now_ms: int,
    admin_id: str = "admin",
    admin_key: Path | None = None,
) -> CreatedLog:
    """Create a new log in ``data_dir`` (see :func:`gateway.init.init_data_dir`).

    The administrator is the key in ``admin_key``, or a new one with
    ``admin_id`` saved as ``keys/<id>.key``. Its seq state directory is
    ``keys/<id>.state``; the caller creates it with seq 1 used.

    Raises:
        FileExistsError: ``data_dir`` already holds a log.
        OSError: ``admin_key`` cannot be read, or a file cannot be written.
        FarmtraceError: a bad origin, id or key file; the store could not be created.
    """
    admin = load_key(admin_key) if admin_key is not None else SignerKey.generate(admin_id)
    trust = init_data_dir(data_dir, origin, [admin], now_ms)
    key_file = None
    if admin_key is None:
        key_file = data_dir.signer_key(admin.id)
        save_key(admin, key_file)
    return CreatedLog(trust, admin, key_file, data_dir.keys / f"{admin.id}.state")


def gateway_config(
    data_dir: DataDir,
    farm: str | None,
    broker: MqttSettings,
    *,
    http_host: str = "127.0.0.1",
    http_port: int = 8080,
    block_entries: int = 10_000,
    block_interval_ms: int = 1000,
    max_future_ms: int = AdmissionPolicy().max_future_ms,
    witness_timeout: float = WitnessingConfig().timeout_s,
    witness_max_backoff: float = WitnessingConfig().backoff_max_s,
    fleet_grace_s: float = FleetSettings().grace_ms / 1000,
    fleet_interval_s: float = FleetSettings().default_interval_ms / 1000,
    mirrors: Sequence[str] = (),
    mirror_poll_s: float = MirrorSettings().poll_s,
    pins: Pins | None = None,
    http_submit: bool = False,
) -> GatewayConfig:
    """A gateway's configuration from its operator's settings.

    Its MQTT client id is its broker username, which our broker config makes
    every client's id anyway (``use_username_as_clientid``, docs/broker.md),
    so its persistent session has one key whatever the broker's setting; an
    anonymous gateway's id names ``farm``. With ``mirrors`` (read API URLs),
    receipts and witness submissions wait for them (:mod:`gateway.mirror_gate`),
    each polled every ``mirror_poll_s`` while blocks wait. With ``pins``, events
    may reference the logs it pins (:mod:`gateway.ref_check`). ``farm`` None: an
    operator-only log, fed by HTTP submissions only (``broker`` unused);
    ``http_submit``: a farm's gateway takes HTTP submissions too.

    Raises:
        ValueError: a setting out of range (from the configuration classes).
    """
    return GatewayConfig(
        data_dir=data_dir,
        farm=farm,
        mqtt=dataclasses.replace(broker, client_id=broker.username or f"farmtrace-gateway-{farm}"),
        ingest=IngestConfig(
            max_block_entries=block_entries,
            block_interval_ms=block_interval_ms,
            policy=AdmissionPolicy(max_future_ms=max_future_ms),
            hold_receipts=bool(mirrors),
        ),
        http_host=http_host,
        http_port=http_port,
        witnessing=WitnessingConfig(
            timeout_s=witness_timeout,
            backoff_min_s=min(WitnessingConfig().backoff_min_s, witness_max_backoff),
            backoff_max_s=witness_max_backoff,
        ),
        fleet=FleetSettings(
            grace_ms=round(fleet_grace_s * 1000),
            default_interval_ms=round(fleet_interval_s * 1000),
        ),
        mirrors=MirrorSettings(mirror_urls(mirrors), poll_s=mirror_poll_s),
        pins=pins,
        http_submit=http_submit,
    )


def run_until(gateway: Gateway, stopping: threading.Event) -> bool:
    """Run a started ``gateway`` until ``stopping`` is set or it fails; stop it.

    Returns True after a clean stop, False if ingest failed (``gateway.error``).
    """
    while not stopping.wait(0.5) and gateway.running:
        pass
    gateway.stop()
    return gateway.error is None
