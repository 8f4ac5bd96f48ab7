"""The live demo's people and their lifecycle events, signed as the farm's time passes.

The demo farm is a :class:`~farmtrace.story_farm.StoryFarm` run live: the same
operators (hatchery, farm manager, vet, plant, distributor, retailer), each
with its own key, seq and durable outbox, publish over MQTT like the devices
do, and sign each planned registration and event once its time has come. The
story ends a day before the farm's first run, so that by then a few birds
have been slaughtered, packed, shipped and received at the shop (and one pack
recalled), while the rest of the flock lives on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chain.gs1 import DigitalLink
from farmtrace._story_plan import HOUR, MINUTE, OPERATORS, Planned, StoryPlan
from farmtrace.story_farm import StoryFarm
from firmware_sim.device import Device
from firmware_sim.farm import SimReading, SimulatedFarm

__all__ = ["OPERATOR_IDS", "DemoStory", "demo_farm"]

OPERATOR_IDS = tuple(op for _, op, _ in OPERATORS)
"""The demo's operators, who sign its lifecycle events."""

MIN_DAYS = 3


def demo_farm(farm_id: str, start_ms: int, history_days: int, seed: int) -> StoryFarm:
    """The demo farm: 2 barns, 100 tagged birds, sampled at a demo's rates.

    Rates are chosen so that six weeks backfill through MQTT in under a minute
    on two cores: climate every 10 min, activity hourly, weight every 6 h.

    Raises:
        ValueError: ``history_days`` < :data:`MIN_DAYS`.
    """
    if history_days < MIN_DAYS:
        raise ValueError(f"days of history: expected >= {MIN_DAYS}, found {history_days}")
    return StoryFarm(
        farm_id=farm_id,
        start_ms=start_ms,
        days=history_days - 1,
        barns=2,
        birds=100,
        shelf_birds=8,
        lot_birds=3,
        env_interval_ms=10 * MINUTE,
        activity_interval_ms=HOUR,
        weight_interval_ms=6 * HOUR,
        seed=seed,
    )


class DemoStory:
    """The planned entries of a demo farm, signed in time order by their signers.

    ``signers`` maps every signer id of the plan (the admin, the operators and
    the devices) to its open :class:`Device`; ``signed`` is how many planned
    entries earlier runs signed already (they are never signed twice).
    """

    def __init__(
        self, farm: StoryFarm, sim: SimulatedFarm, signers: Mapping[str, Device], admin: str
    ) -> None:
        keys = {signer_id: device.identity.key for signer_id, device in signers.items()}
        operators = {role: op for role, op, _ in OPERATORS}
        self._plan = StoryPlan(farm, sim, keys, admin, operators)
        self._planned: list[Planned] = self._plan.planned()
        self._signers = signers

    @property
    def pack_links(self) -> tuple[DigitalLink, ...]:
        """The Digital Links of the packs (single birds first, then the lot)."""
        return self._plan.pack_links()

    def see(self, readings: Iterable[SimReading]) -> list[SimReading]:
        """The readings whose devices are still on the farm; note the birds' weights.

        A slaughtered bird's tag goes quiet at catch time, and the packed
        weight derives from its last live weight.
        """
        left, weights = self._plan.left_ms, self._plan.last_weight_kg
        kept = []
        for r in readings:
            if r.ts >= left.get(r.subject, r.ts + 1):
                continue
            if r.kind == "weight":
                weights[r.subject] = r.value
            kept.append(r)
        return kept

    def sign_until(self, end_ms: int, signed: int) -> int:
        """Sign planned entries from number ``signed`` on, up to ``end_ms`` (exclusive).

        Each goes into its signer's durable outbox. Returns the new count.
        """
        while signed < len(self._planned) and self._planned[signed].ts < end_ms:
            item = self._planned[signed]
            device = self._signers[item.signer]
            raw = device.identity.sign_payload(item.build)
            device.outbox.put(device.identity.last_seq, raw)
            signed += 1
        return signed
