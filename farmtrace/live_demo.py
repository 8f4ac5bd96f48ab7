"""The live demo farm: Mosquitto, the gateway and a simulated farm's devices, all real.

:class:`LiveDemo` sets up a data directory once (log, keys, broker files,
one state directory per device) and then runs:

* Mosquitto, with a password and an ACL entry per device (a child process);
* the gateway (``farmtrace gateway run``, a child process, so that it has a
  core of its own);
* the farm's devices in this process: the administrator's registrations
  first, then every device's readings, each device with its own MQTT
  connection, durable outbox and seq counter.

The farm's history starts ``history_days`` before the first run. The first
run backfills it (the devices sign weeks of readings as fast as they can, as
if they had been offline), then the farm streams live. A later run picks up
where the previous one stopped, so the gap shows as late readings.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from chain.entries import device_payload
from chain.keyfile import SignerKey, load_key, save_key
from firmware_sim.device import Device, ReadingFields
from firmware_sim.errors import OutboxFullError
from firmware_sim.farm import DeviceSpec, FarmConfig, SimulatedFarm, VentilationFailure
from firmware_sim.fleet import Fleet
from firmware_sim.identity import DeviceIdentity
from firmware_sim.models.daycycle import HOUR_MS, MINUTE_MS
from firmware_sim.mqtt_link import MqttLink
from firmware_sim.mqtt_url import MqttUrl
from firmware_sim.outbox import Outbox
from gateway.broker_config import BrokerSettings, new_password, write_broker_files
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from gateway.mosquitto import MosquittoProcess

__all__ = ["DemoPorts", "LiveDemo"]

_logger = logging.getLogger(__name__)
DAY_MS = 24 * HOUR_MS
ORIGIN = "demo.farmtrace.example/log"
FARM = "demo-farm"
ADMIN = "admin"
GATEWAY_USER = "gateway"
_STATE = "demo.json"
_CHUNK_MS = DAY_MS  # backfill a day at a time, so the gateway starts committing at once


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Where the demo's servers listen (all on 127.0.0.1)."""

    mqtt: int = 1883
    gateway: int = 8080
    web: int = 8000


def farm_config(start_ms: int) -> FarmConfig:
    """The demo farm: 2 barns (8 environment sensors), 100 tagged birds, sampled for a demo.

    Rates are a demo's, chosen so that six weeks backfill through MQTT in well
    under a minute on two cores: climate every 10 min, activity hourly,
    weight every 6 h. Barn 2 loses its ventilation for 3 hours on day 30.
    """
    failure_start = start_ms + 30 * DAY_MS + 13 * HOUR_MS
    return FarmConfig(
        farm_id=FARM,
        start_ms=start_ms,
        env_interval_ms=10 * MINUTE_MS,
        activity_interval_ms=HOUR_MS,
        weight_interval_ms=6 * HOUR_MS,
        scenarios=(VentilationFailure("b2", failure_start, failure_start + 3 * HOUR_MS),),
    )


class LiveDemo:
    """One demo data directory. :meth:`run` blocks until :meth:`stop` (or Ctrl-C)."""

    def __init__(self, root: Path, ports: DemoPorts, *, history_days: int = 42) -> None:
        self.root = root.absolute()
        self.ports = ports
        self.history_days = history_days
        self.gateway_dir = DataDir(self.root / "gateway")
        self._stop = threading.Event()
        self.ready = threading.Event()
        """Set once the backfill is committed and the farm streams live."""
        self.backfill_seconds: float | None = None

    # -- set-up ----------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self.root / _STATE

    def _load_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self._state_path.read_text())
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self._state_path)

    def set_up(self) -> bool:
        """Create the data directory on first use; return True if it was created now."""
        if self._state_path.exists():
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        start = (now_ms() - self.history_days * DAY_MS) // HOUR_MS * HOUR_MS
        admin = SignerKey.generate(ADMIN)
        init_data_dir(self.gateway_dir, ORIGIN, [admin], start - DAY_MS)
        save_key(admin, self.gateway_dir.signer_key(ADMIN))
        self._save_state({"start_ms": start, "seed": random.randrange(2**31), "sampled_ms": start})
        return True

    def _credentials(self, device_ids: list[str]) -> dict[str, str]:
        path = self.root / "broker" / "demo-credentials.json"
        known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for user in [GATEWAY_USER, ADMIN, *device_ids]:
            known.setdefault(user, new_password())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(known, f)
        return known

    # -- running ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to stop everything cleanly."""
        self._stop.set()

    def run(self) -> None:
        """Start the broker, the gateway and the devices; stream until :meth:`stop`.

        Raises:
            MosquittoError: the broker could not start (e.g. not installed).
            RuntimeError: the gateway could not start.
        """
        state = self._load_state()
        farm = SimulatedFarm(farm_config(state["start_ms"]), random.Random(state["seed"]))
        if state["sampled_ms"] > state["start_ms"]:  # replay the models' state, unsigned
            for _ in farm.readings(state["start_ms"], state["sampled_ms"]):
                pass
        device_ids = [spec.id for spec in farm.devices]
        users = self._credentials(device_ids)
        broker = self._start_broker(users)
        gateway: subprocess.Popen[bytes] | None = None
        devices: list[Device] = []
        fleets: list[Fleet] = []
        try:
            gateway = self._start_gateway(users[GATEWAY_USER])
            admin = self._open_device(ADMIN)
            devices.append(admin)
            devices += [self._open_device(d) for d in device_ids]
            self._register(admin, farm, devices[1:], state)
            admin_fleet = Fleet([self._link(admin, users)])
            fleets.append(admin_fleet)
            admin_fleet.start()
            _fleet_drained(admin_fleet, 60, "the device registrations")
            fleet = Fleet([self._link(d, users) for d in devices[1:]])
            fleets.append(fleet)
            fleet.start()
            self._print_urls()
            self._sample(farm, state, {d.id: d for d in devices[1:]}, fleet, gateway)
        finally:
            for fleet in fleets:
                fleet.stop()
            if gateway is not None:
                gateway.terminate()
                try:
                    gateway.wait(30)
                except subprocess.TimeoutExpired:
                    gateway.kill()
            broker.stop()
            for device in devices:
                device.outbox.close()
                device.identity.close()

    def _start_broker(self, users: dict[str, str]) -> MosquittoProcess:
        settings = BrokerSettings(
            farm=FARM,
            state_dir=self.root / "broker" / "state",
            port=self.ports.mqtt,
            users=users,
            gateway_user=GATEWAY_USER,
            run_as="root" if os.geteuid() == 0 else None,
        )
        files = write_broker_files(settings, self.root / "broker")
        broker = MosquittoProcess(files.config, port=self.ports.mqtt)
        broker.start()
        return broker

    def _start_gateway(self, password: str) -> subprocess.Popen[bytes]:
        log_path = self.root / "gateway.log"
        url = f"mqtt://{GATEWAY_USER}:{password}@127.0.0.1:{self.ports.mqtt}"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "farmtrace", "gateway", "run",
                    "--data-dir", str(self.gateway_dir.root), "--farm", FARM, "--mqtt", url,
                    "--http-port", str(self.ports.gateway),
                    "--block-entries", "5000", "--block-interval-ms", "1000",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops the gateway in order
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while b"gateway running" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the gateway did not start; see {log_path}")
            time.sleep(0.05)
        return proc

    def _open_device(self, device_id: str) -> Device:
        state_dir = self.root / "devices" / device_id
        if device_id == ADMIN and not (state_dir / "device.key").exists():
            identity = DeviceIdentity.create(
                state_dir, load_key(self.gateway_dir.signer_key(ADMIN)), reserve_block=64
            )
            identity.next_seq()  # seq 1 is the admin's genesis self-registration
        else:
            identity = DeviceIdentity.open_or_create(state_dir, device_id, reserve_block=64)
        return Device(identity, Outbox.open(state_dir / "outbox.db"))

    def _link(self, device: Device, users: dict[str, str]) -> MqttLink:
        url = MqttUrl("127.0.0.1", self.ports.mqtt, device.id, users[device.id])
        return MqttLink(device, url, FARM, window=200, resend_after=20.0)

    def _register(
        self, admin: Device, farm: SimulatedFarm, devices: list[Device], state: dict[str, Any]
    ) -> None:
        """Sign a registration for every device that has none yet; it travels with the admin's link.

        A registration once signed sits in the admin's durable outbox until the
        gateway's receipt covers it, so it is signed once, ever.
        """
        done = set(state.get("registered", []))
        specs = {spec.id: spec for spec in farm.devices}
        valid_from = farm.config.start_ms - HOUR_MS
        for device in devices:
            if device.id in done:
                continue
            raw = admin.identity.sign_payload(
                partial(_registration, specs[device.id], device.identity.key.public_key, valid_from)
            )
            admin.outbox.put(admin.identity.last_seq, raw)
            done.add(device.id)
        state["registered"] = sorted(done)
        self._save_state(state)

    def _print_urls(self) -> None:
        api = f"http://127.0.0.1:{self.ports.gateway}"
        print(
            f"farmtrace demo: farm {FARM!r} with 2 barns, 8 environment sensors and 100 tagged "
            f"birds\n"
            f"  gateway read API   {api}/checkpoint  {api}/api/v1/log  {api}/api/v1/blocks/1\n"
            f"  metrics            {api}/metrics\n"
            f"  MQTT broker        mqtt://127.0.0.1:{self.ports.mqtt}  (credentials in "
            f"{self.root / 'broker'})\n"
            f"  consumer site      http://127.0.0.1:{self.ports.web}  (arrives with the consumer "
            f"site issue)\n"
            f"  audit              farmtrace audit --data-dir {self.gateway_dir.root}\n"
            "Ctrl-C stops everything cleanly.",
            flush=True,
        )

    def _sample(
        self,
        farm: SimulatedFarm,
        state: dict[str, Any],
        devices: dict[str, Device],
        fleet: Fleet,
        gateway: subprocess.Popen[bytes],
    ) -> None:
        """Backfill up to now in day-sized chunks, then sample every second until stopped.

        Raises:
            RuntimeError: the gateway process exited (its log says why).
        """
        started = time.monotonic()
        backlog = now_ms() - state["sampled_ms"]
        if backlog > 60_000:
            print(f"backfilling {backlog / DAY_MS:.1f} days of readings ...", flush=True)
        while not self._stop.is_set():
            if gateway.poll() is not None:
                raise RuntimeError(
                    f"the gateway exited with status {gateway.returncode}; "
                    f"see {self.root / 'gateway.log'}"
                )
            end = min(now_ms(), state["sampled_ms"] + _CHUNK_MS)
            batches: dict[str, list[ReadingFields]] = defaultdict(list)
            for r in farm.readings(state["sampled_ms"], end):
                batches[r.device].append((r.kind, r.subject, r.value, r.unit, r.ts))
            for device_id, readings in batches.items():
                self._record(devices[device_id], readings)
            fleet.wake()
            state["sampled_ms"] = end
            self._save_state(state)
            caught_up = now_ms() - end < 60_000
            if not self.ready.is_set() and caught_up and fleet.wait_drained(120):
                self.backfill_seconds = time.monotonic() - started
                done = f"backfilled {backlog / DAY_MS:.1f} days in {self.backfill_seconds:.1f} s; "
                print(f"{done if backlog > 60_000 else ''}streaming live", flush=True)
                self.ready.set()
            if self.ready.is_set():
                self._stop.wait(1.0)

    def _record(self, device: Device, readings: list[ReadingFields]) -> None:
        while readings and not self._stop.is_set():
            try:
                done = device.record_many(readings)
            except OutboxFullError:
                self._stop.wait(0.5)  # the outbox warned; wait for receipts to free space
                continue
            readings = readings[done:]


def _registration(
    spec: DeviceSpec, public_key: bytes, valid_from: int, seq: int
) -> dict[str, object]:
    return device_payload(
        "register",
        spec.id,
        seq,
        valid_from,
        pubkey=public_key,
        farm=FARM,
        kinds=list(spec.kinds),
        label=f"{spec.subject} ({', '.join(spec.kinds)})",
    )


def _fleet_drained(fleet: Fleet, timeout: float, what: str) -> None:
    if not fleet.wait_drained(timeout):
        raise RuntimeError(f"the gateway did not commit {what} within {timeout:.0f} s")
