"""One farm of the six-party demo: its Mosquitto, its gateway, its devices and its staff.

A :class:`FarmPart` is the live demo farm (:class:`demo.live.LiveDemo`)
keeping only what a farm keeps in its own log: the farm manager's and the
vet's events and the devices' readings. Its birds were hatched in the
hatchery's log, so each ``placed`` event names their ``hatched`` entries by
cross-log reference (``place_refs``); their slaughter, packing and sale are
the plant's, the distributor's and the shop's, in their own logs. The
witnesses and the consumer site are the six-party demo's, shared by all logs.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

from demo._desk import CLI_USER
from demo._story import DemoStory, demo_farm
from demo._story_plan import HOUR, OPERATORS, PlaceRefs
from demo.live import (
    ADMIN,
    GATEWAY_USER,
    DemoPorts,
    LiveDemo,
    fleet_drained,
    shut_down,
)
from demo.story_farm import StoryFarm
from firmware_sim.farm import SimulatedFarm
from gateway.datadir import DataDir
from signer.device import Device
from signer.fleet import Fleet

__all__ = ["FARM_ROLES", "FarmPart", "chain_farm"]

FARM_ROLES = ("farm", "vet")
"""The operators' roles whose events a farm's own log records."""
_BIRDS = 50
_ACTIVITY_INTERVAL_MS = 2 * HOUR


def chain_farm(farm_id: str, start_ms: int, days: int, seed: int) -> StoryFarm:
    """One of the six-party demo's farms: the demo farm with 50 tagged birds, activity
    every 2 h, so that two farms backfill weeks in about the time one demo farm does.

    Raises:
        ValueError: ``days`` is below the demo's minimum.
    """
    return demo_farm(
        farm_id, start_ms, days, seed, birds=_BIRDS, activity_interval_ms=_ACTIVITY_INTERVAL_MS
    )


_STATE_VERSION = 1


class FarmPart(LiveDemo):
    """One farm: state under ``root``, its log in ``log_dir`` (made by the six-party set-up).

    ``place_refs`` names the ``hatched`` entries of the birds it places (None:
    no references); with ``own_hatchery`` its chicks hatch in its own log.
    ``name`` is the farm's (its manager's registration names it).

    Run :meth:`run` in a thread that lives as long as the farm (its children
    die with the thread that started them, see :mod:`demo._lifeline`).
    """

    def __init__(
        self,
        root: Path,
        log_dir: DataDir,
        ports: DemoPorts,
        *,
        origin: str,
        farm_id: str,
        place_refs: PlaceRefs | None,
        own_hatchery: bool = False,
        name: str,
    ) -> None:
        super().__init__(root, ports)
        self.gateway_dir = log_dir
        self.origin, self.farm_id = origin, farm_id
        self._place_refs = place_refs
        self._roles = ("hatchery", *FARM_ROLES) if own_hatchery else FARM_ROLES
        self._names = {"farm": name, "hatchery": f"{name}'s own hatchery"}
        self.failure: BaseException | None = None
        """What stopped :meth:`run_caught` other than :meth:`stop`, if anything."""
        self.stopped = threading.Event()

    def set_up_farm(self, start_ms: int, days: int, seed: int) -> bool:
        """Record the farm's history span once; return True if it was new.

        Raises:
            ValueError: ``days`` is below the demo's minimum.
        """
        if self._state_path.exists():
            return False
        chain_farm(self.farm_id, start_ms, days, seed)  # checks the arguments
        self.root.mkdir(parents=True, exist_ok=True)
        state = {"start_ms": start_ms, "days": days, "seed": seed, "sampled_ms": start_ms}
        self._save_state({"version": _STATE_VERSION, "planned": 0} | state)
        return True

    def _load_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self._state_path.read_text())
        if state.get("version") != _STATE_VERSION:
            raise RuntimeError(f"{self.root} holds a farm of another demo version; use --fresh")
        return state

    def _say(self, text: str) -> None:
        print(f"{self.farm_id}: {text}", flush=True)

    def _on_ready(self, story: DemoStory) -> None:
        pass  # the six-party demo prints the packs, which the plant packed

    def run_caught(self) -> None:
        """:meth:`run`, keeping what stopped it in :attr:`failure`; sets :attr:`stopped`."""
        try:
            self.run()
        except BaseException as exc:  # reported by the six-party demo's thread
            self.failure = exc
        finally:
            self.stopped.set()

    def run(self) -> None:
        """Start the broker, the gateway and the signers; stream until :meth:`stop`.

        Raises:
            MosquittoError: the broker could not start.
            RuntimeError: the gateway could not start or exited, or the
                hatchery's entries could not be referenced.
        """
        state = self._load_state()
        story_farm = chain_farm(self.farm_id, state["start_ms"], state["days"], state["seed"])
        farm = SimulatedFarm(story_farm.sim_config(), random.Random(state["seed"]))
        device_ids = [spec.id for spec in farm.devices]
        operator_ids = [op for role, op, _ in OPERATORS if role in self._roles]
        users = self._credentials([*operator_ids, *device_ids])
        broker = self._start_broker({u: p for u, p in users.items() if u != CLI_USER})
        children = []
        signers: dict[str, Device] = {}
        fleets: list[Fleet] = []
        try:
            gateway = self._start_gateway(users[GATEWAY_USER])
            children.append(gateway)
            for signer_id in (ADMIN, *operator_ids, *device_ids):
                signers[signer_id] = self._open_device(signer_id)
            story = DemoStory(
                story_farm,
                farm,
                signers,
                ADMIN,
                roles=self._roles,
                place_refs=self._place_refs,
                names=self._names,
            )
            if state["sampled_ms"] > state["start_ms"]:
                story.see(farm.readings(state["start_ms"], state["sampled_ms"]))
            state["planned"] = story.sign_until(state["start_ms"], state["planned"])
            self._save_state(state)
            for group in ([ADMIN], operator_ids, device_ids):
                fleets.append(Fleet([self._link(signers[i], users) for i in group]))
                fleets[-1].start()
                if group == [ADMIN]:
                    fleet_drained(fleets[-1], 60, f"{self.farm_id}'s registrations")
            self._sample(farm, story, state, signers, tuple(fleets), gateway)
        finally:
            shut_down(fleets, children, broker, signers)
