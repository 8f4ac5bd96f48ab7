"""The live demo farm: Mosquitto, the gateway and a simulated farm's devices, all real.

:class:`LiveDemo` sets up a data directory once (log, keys, broker files,
one state directory per device) and then runs:

* Mosquitto, with a password and an ACL entry per device (a child process);
* two witnesses, a co-op's and a retailer's (``farmtrace witness serve``,
  child processes with their own keys and state), that cosign the log's
  checkpoints (:mod:`demo._witnesses`);
* the gateway (``farmtrace gateway run``, a child process, so that it has a
  core of its own), which pushes every checkpoint to the witnesses;
* the consumer site (``farmtrace site run``, a child process), a verified
  replica of the gateway's log with a page for every pack;
* the operators' desk (``farmtrace desk run``, a child process,
  :mod:`demo._desk`), where people added with ``farmtrace operator add``
  sign as themselves;
* the farm's devices and people in this process: the administrator's
  registrations first, then every device's readings and the operators'
  lifecycle events (:mod:`demo._story`), each signer with its own
  MQTT connection, durable outbox and seq counter.

Every child process gets SIGTERM when the demo dies, even by ``kill -9``
(:mod:`demo._lifeline`), so a killed demo leaves no broker, gateway, site or
witness holding its ports and locks.

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
from pathlib import Path
from typing import Any

from chain.keyfile import SignerKey, load_key, save_key
from demo._desk import CLI_USER, DESK_OPERATOR, DemoDesk
from demo._lifeline import die_with_us
from demo._site import print_pack, start_site
from demo._story import OPERATOR_IDS, DemoStory, demo_farm
from demo._witnesses import DemoWitness, demo_witnesses, start_witnesses
from firmware_sim.farm import SimulatedFarm
from firmware_sim.models.daycycle import HOUR_MS
from gateway.broker_accounts import find_dynsec_plugin
from gateway.broker_config import BrokerSettings, new_password, write_broker_files
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from gateway.mosquitto import MosquittoProcess
from signer.device import Device, ReadingFields
from signer.errors import OutboxFullError
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import MqttUrl
from signer.outbox import Outbox

__all__ = ["DemoPorts", "LiveDemo"]

_logger = logging.getLogger(__name__)
DAY_MS = 24 * HOUR_MS
ORIGIN = "demo.farmtrace.example/log"
FARM = "demo-farm"
ADMIN = "admin"
GATEWAY_USER = "gateway"
BROKER_ADMIN = "broker-admin"
"""The broker's accounts user: `farmtrace device add/retire/replace` log in as it."""
_STATE = "demo.json"
_STATE_VERSION = 4  # 2: operators, lifecycle events and the consumer site; 3: registered
# subjects; 4: a treated bird, products and best-before dates (the plan's seqs moved)
_CHUNK_MS = DAY_MS  # backfill a day at a time, so the gateway starts committing at once


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Where the demo's servers listen (all on 127.0.0.1)."""

    mqtt: int = 1883
    gateway: int = 8080
    web: int = 8000
    witnesses: tuple[int, int] = (7381, 7382)
    desk: int = 8001


class LiveDemo:
    """One demo data directory. :meth:`run` blocks until :meth:`stop` (or Ctrl-C)."""

    origin = ORIGIN
    farm_id = FARM

    def __init__(self, root: Path, ports: DemoPorts, *, history_days: int = 42) -> None:
        self.root = root.absolute()
        self.ports = ports
        self.history_days = history_days
        self.gateway_dir = DataDir(self.root / "gateway")
        self._stop = threading.Event()
        self.ready = threading.Event()
        """Set once the backfill is committed and the farm streams live."""
        self.backfill_seconds: float | None = None
        self.gateway_args: tuple[str, ...] = ()
        """More ``farmtrace gateway run`` options (e.g. ``--pins``)."""

    # -- set-up ----------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self.root / _STATE

    def _load_state(self) -> dict[str, Any]:
        """The demo's progress (raises RuntimeError for a data dir an older version made)."""
        state: dict[str, Any] = json.loads(self._state_path.read_text())
        if state.get("version") != _STATE_VERSION:
            raise RuntimeError(
                f"{self.root} holds a demo farm of an older farmtrace (its planned "
                "entries differ from this version's); start a new one with --fresh"
            )
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
        init_data_dir(self.gateway_dir, self.origin, [admin], start - DAY_MS)
        save_key(admin, self.gateway_dir.signer_key(ADMIN))
        seed = random.randrange(2**31)
        demo_farm(self.farm_id, start, self.history_days, seed)  # checks the arguments
        self._save_state(
            {
                "version": _STATE_VERSION,
                "start_ms": start,
                "days": self.history_days,
                "seed": seed,
                "sampled_ms": start,
                "planned": 0,
            }
        )
        return True

    @property
    def _credentials_path(self) -> Path:
        return self.root / "broker" / "demo-credentials.json"

    @property
    def _admin_state(self) -> Path:
        return self.root / "devices" / ADMIN

    def _credentials(self, device_ids: list[str]) -> dict[str, str]:
        path = self._credentials_path
        known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for user in [GATEWAY_USER, BROKER_ADMIN, ADMIN, DESK_OPERATOR, *device_ids]:
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
        """Start the broker, the gateway, the site and the signers; stream until :meth:`stop`.

        Raises:
            MosquittoError: the broker could not start (e.g. not installed).
            RuntimeError: the gateway or the site could not start, or the data
                directory is an older version's.
        """
        state = self._load_state()
        story_farm = demo_farm(self.farm_id, state["start_ms"], state["days"], state["seed"])
        farm = SimulatedFarm(story_farm.sim_config(), random.Random(state["seed"]))
        device_ids = [spec.id for spec in farm.devices]
        users = self._credentials([*OPERATOR_IDS, *device_ids])
        # The CLI's login has the admin's topics: the dynamic security plugin keeps it.
        broker = self._start_broker({u: p for u, p in users.items() if u != CLI_USER})
        desk = DemoDesk(self.root, self.farm_id, self.ports.mqtt, self._credentials_path)
        desk.set_up_meanwhile()
        children: list[subprocess.Popen[bytes]] = []
        signers: dict[str, Device] = {}
        fleets: list[Fleet] = []
        try:
            witnesses = demo_witnesses(self.root, self.gateway_dir, self.ports.witnesses)
            children.extend(start_witnesses(self.root, witnesses))
            gateway = self._start_gateway(users[GATEWAY_USER])
            children.append(gateway)
            desk.ready()
            desk.add_logins(users, BROKER_ADMIN)
            api = f"http://127.0.0.1:{self.ports.gateway}"
            desk_proc = desk.start(self.ports.desk, api, users[DESK_OPERATOR])
            children.append(desk_proc)
            children.append(start_site(self.root, self.gateway_dir, self.ports))
            desk.wait_running(desk_proc)  # started alongside the site
            for signer_id in (ADMIN, *OPERATOR_IDS, *device_ids):
                signers[signer_id] = self._open_device(signer_id)
            story = DemoStory(story_farm, farm, signers, ADMIN)
            if state["sampled_ms"] > state["start_ms"]:  # replay the models' state, unsigned
                story.see(farm.readings(state["start_ms"], state["sampled_ms"]))
            # Registrations (and the hatchery's first events) precede every reading.
            state["planned"] = story.sign_until(state["start_ms"], state["planned"])
            if not state.get("desk_registered"):  # in the admin's outbox, sent with the rest
                admin = signers[ADMIN]
                raw = admin.identity.sign_payload(desk.registration(now_ms()))
                admin.outbox.put(admin.identity.last_seq, raw)
                state["desk_registered"] = True
            self._save_state(state)
            # Registrations first: an entry of a signer not yet registered is refused.
            for group in ([ADMIN], OPERATOR_IDS, device_ids):
                fleets.append(Fleet([self._link(signers[i], users) for i in group]))
                fleets[-1].start()
                if group == [ADMIN]:
                    fleet_drained(fleets[-1], 60, "the registrations")
            self._print_urls(witnesses, desk)
            self._sample(farm, story, state, signers, tuple(fleets), gateway)
        finally:
            shut_down(fleets, children, broker, signers)

    def _start_broker(self, users: dict[str, str]) -> MosquittoProcess:
        settings = BrokerSettings(
            farm=self.farm_id,
            state_dir=self.root / "broker" / "state",
            port=self.ports.mqtt,
            users=users,
            gateway_user=GATEWAY_USER,
            run_as="root" if os.geteuid() == 0 else None,
            # Logins live in the dynamic security plugin: devices are added and
            # retired on the running broker (docs/broker.md), none other touched.
            dynsec_plugin=find_dynsec_plugin(),
            accounts_user=BROKER_ADMIN,
        )
        files = write_broker_files(settings, self.root / "broker")
        broker = MosquittoProcess(files.config, port=self.ports.mqtt, command_prefix=die_with_us())
        broker.start()
        return broker

    def _start_gateway(self, password: str) -> subprocess.Popen[bytes]:
        log_path = self.root / "gateway.log"
        url = f"mqtt://{GATEWAY_USER}@127.0.0.1:{self.ports.mqtt}"
        secret = self.root / "gateway-mqtt-password"  # never in argv: 'ps' shows those
        secret.touch(mode=0o600)
        secret.write_text(password + "\n")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    *die_with_us(), sys.executable, "-m", "farmtrace", "gateway", "run",
                    "--data-dir", str(self.gateway_dir.root), "--farm", self.farm_id, "--mqtt", url,
                    "--mqtt-password-file", str(secret),
                    "--http-port", str(self.ports.gateway),
                    "--block-entries", "5000", "--block-interval-ms", "1000",
                    *self.gateway_args,
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
            admin = load_key(self.gateway_dir.signer_key(ADMIN))
            with DeviceIdentity.create(state_dir, admin) as genesis:
                genesis.next_seq()  # seq 1: the genesis self-registration, not in the outbox
        if device_id == ADMIN:  # shared: `farmtrace operator add` may sign as the admin meanwhile
            identity = DeviceIdentity.open(state_dir, shared=True)
        else:
            identity = DeviceIdentity.open_or_create(state_dir, device_id, reserve_block=64)
        return Device(identity, Outbox.open(state_dir / "outbox.db"))

    def _link(self, device: Device, users: dict[str, str]) -> MqttLink:
        url = MqttUrl("127.0.0.1", self.ports.mqtt, device.id, users[device.id])
        return MqttLink(device, url, self.farm_id, window=200, resend_after=20.0)

    def _print_urls(self, witnesses: list[DemoWitness], desk: DemoDesk) -> None:
        api = f"http://127.0.0.1:{self.ports.gateway}"
        people = desk.people_commands(
            self.gateway_dir.signer_key(ADMIN), self._admin_state, BROKER_ADMIN
        )
        cosigners = "".join(
            f"  {w.label + ' witness':<18} {w.url}/  ({w.config.name})\n" for w in witnesses
        )
        print(
            f"farmtrace demo: farm {self.farm_id!r} with 2 barns, 8 environment sensors, "
            f"100 tagged birds and {len(OPERATOR_IDS)} operators (hatchery to shop)\n"
            f"  gateway read API   {api}/checkpoint  {api}/api/v1/log  {api}/api/v1/blocks/1\n"
            f"  metrics            {api}/metrics\n"
            f"  MQTT broker        mqtt://127.0.0.1:{self.ports.mqtt}  (credentials in "
            f"{self.root / 'broker'})\n"
            f"  add a device       farmtrace device add ... --broker-admin "
            f"mqtt://{BROKER_ADMIN}@127.0.0.1:{self.ports.mqtt}  (docs/operators.md)\n"
            f"  consumer site      http://127.0.0.1:{self.ports.web}/\n"
            f"  operators' desk    http://127.0.0.1:{self.ports.desk}/  (staff log-in in "
            f"{desk.staff_login})\n"
            f"{people}"
            f"{cosigners}"
            f"  live audit         farmtrace audit --url {api} --trust "
            f"{self.gateway_dir.trust} --witnesses {self.gateway_dir.witnesses}\n"
            "Ctrl-C stops everything cleanly.",
            flush=True,
        )

    def _sample(
        self,
        farm: SimulatedFarm,
        story: DemoStory,
        state: dict[str, Any],
        signers: dict[str, Device],
        fleets: tuple[Fleet, ...],
        gateway: subprocess.Popen[bytes],
    ) -> None:
        """Backfill up to now in day-sized chunks, then sample every second until stopped.

        Each chunk's readings are recorded first, then the events planned in
        it (a pack's weight is its bird's last live weight).

        Raises:
            RuntimeError: the gateway process exited (its log says why).
        """
        started = time.monotonic()
        backlog = now_ms() - state["sampled_ms"]
        if backlog > 60_000:
            self._say(f"backfilling {backlog / DAY_MS:.1f} days of readings ...")
        while not self._stop.is_set():
            if gateway.poll() is not None:
                raise RuntimeError(
                    f"the gateway exited with status {gateway.returncode}; "
                    f"see {self.root / 'gateway.log'}"
                )
            end = min(now_ms(), state["sampled_ms"] + _CHUNK_MS)
            batches: dict[str, list[ReadingFields]] = defaultdict(list)
            for r in story.see(farm.readings(state["sampled_ms"], end)):
                batches[r.device].append((r.kind, r.subject, r.value, r.unit, r.ts))
            for device_id, readings in batches.items():
                self._record(signers[device_id], readings)
            state["planned"] = story.sign_until(end, state["planned"])
            for fleet in fleets:
                fleet.wake()
            state["sampled_ms"] = end
            self._save_state(state)
            caught_up = now_ms() - end < 60_000
            if not self.ready.is_set() and caught_up and all(f.wait_drained(120) for f in fleets):
                self.backfill_seconds = time.monotonic() - started
                done = f"backfilled {backlog / DAY_MS:.1f} days in {self.backfill_seconds:.1f} s; "
                self._say(f"{done if backlog > 60_000 else ''}streaming live")
                self._on_ready(story)
                self.ready.set()
            if self.ready.is_set():
                self._stop.wait(1.0)

    def _say(self, text: str) -> None:
        print(text, flush=True)

    def _on_ready(self, story: DemoStory) -> None:
        """Called once the backfill is committed: print a pack's page and its QR code."""
        print_pack(self.ports, story.pack_links, self._stop)

    def _record(self, device: Device, readings: list[ReadingFields]) -> None:
        while readings and not self._stop.is_set():
            try:
                done = device.record_many(readings)
            except OutboxFullError:
                self._stop.wait(0.5)  # the outbox warned; wait for receipts to free space
                continue
            readings = readings[done:]


def shut_down(
    fleets: list[Fleet],
    children: list[subprocess.Popen[bytes]],
    broker: MosquittoProcess,
    signers: dict[str, Device],
) -> None:
    """Stop the signers' links, then the children in reverse order, the broker; close outboxes."""
    for fleet in fleets:
        fleet.stop()
    for child in reversed(children):  # the site, the desk, the gateway, the witnesses
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    broker.stop()
    for device in signers.values():
        device.outbox.close()
        device.identity.close()


def fleet_drained(fleet: Fleet, timeout: float, what: str) -> None:
    if not fleet.wait_drained(timeout):
        raise RuntimeError(f"the gateway did not commit {what} within {timeout:.0f} s")
