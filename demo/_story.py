"""The live demo's people and their lifecycle events, signed as the farm's time passes.

The demo farm is a :class:`~demo.story_farm.StoryFarm` run live: the same
operators (hatchery, farm manager, vet, plant, distributor, retailer), each
with its own key, seq and durable outbox, publish over MQTT like the devices
do, and sign each planned registration and event once its time has come. The
story ends a day before the farm's first run, so that by then a few birds
have been slaughtered, packed, shipped and received at the shop (and one pack
recalled), while the rest of the flock lives on.

The operators record their events the way ``farmtrace event`` and the web
form do (:mod:`signer.operator_events`): each event is built from its
members as text and validated, pre-checked against the events the story has
signed so far (the signer's role, the lifecycle rules), and only then signed
with the operator's seq. Only the transport differs: a durable outbox per
operator, not one MQTT round trip per event. Since operators publish in
parallel, an event that follows another operator's event about the same
item (the distributor receives what the plant shipped) is signed only once
that event is committed, so that the log holds them in order.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping

from chain.gs1 import DigitalLink
from demo._story_plan import HOUR, MINUTE, OPERATORS, PlaceRefs, Planned, StoryPlan
from demo.story_farm import StoryFarm
from firmware_sim.farm import SimReading, SimulatedFarm
from signer.device import Device
from signer.operator_events import EventDraft, draft_event, precheck

__all__ = ["OPERATOR_IDS", "DemoStory", "demo_farm"]

OPERATOR_IDS = tuple(op for _, op, _ in OPERATORS)
"""The demo's operators, who sign its lifecycle events."""

MIN_DAYS = 3
COMMIT_TIMEOUT_S = 120.0
"""How long an operator waits for another's event it follows to be committed."""


def demo_farm(
    farm_id: str,
    start_ms: int,
    history_days: int,
    seed: int,
    *,
    birds: int = 100,
    activity_interval_ms: int = HOUR,
) -> StoryFarm:
    """The demo farm: 2 barns, 100 tagged birds, sampled at a demo's rates.

    Rates are chosen so that six weeks backfill through MQTT in under a minute
    on two cores: climate every 10 min, activity hourly, weight every 6 h.
    The six-party demo runs two smaller farms (``birds``, ``activity_interval_ms``).

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
        birds=birds,
        shelf_birds=8,
        lot_birds=3,
        env_interval_ms=10 * MINUTE,
        activity_interval_ms=activity_interval_ms,
        weight_interval_ms=6 * HOUR,
        seed=seed,
    )


class DemoStory:
    """The planned entries of a demo farm, signed in time order by their signers.

    ``signers`` maps every signer id of the plan (the admin, the operators and
    the devices) to its open :class:`Device`; ``signed`` is how many planned
    entries earlier runs signed already (they are never signed twice).
    ``roles`` are the operators' roles this log records (default: all six);
    ``place_refs`` and ``names`` as for :class:`~demo._story_plan.StoryPlan`.
    """

    def __init__(
        self,
        farm: StoryFarm,
        sim: SimulatedFarm,
        signers: Mapping[str, Device],
        admin: str,
        *,
        roles: Iterable[str] | None = None,
        place_refs: PlaceRefs | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        keys = {signer_id: device.identity.key for signer_id, device in signers.items()}
        kept = None if roles is None else set(roles)
        operators = {role: op for role, op, _ in OPERATORS if kept is None or role in kept}
        self._plan = StoryPlan(
            farm, sim, keys, admin, operators, place_refs=place_refs, names=names
        )
        self._planned: list[Planned] = self._plan.planned()
        self._signers = signers
        self._roles = {op: frozenset({role}) for role, op in operators.items()}
        self._log = _StoryLog()
        self._replayed = 0

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

        Raises:
            AuthorizationError, LifecycleError: a planned event fails its
                pre-check (a bug in the plan: nothing of it is signed).
            RuntimeError: an event another operator's event follows was not
                committed within :data:`COMMIT_TIMEOUT_S`.
        """
        self._replay(signed)
        while signed < len(self._planned) and self._planned[signed].ts < end_ms:
            item = self._planned[signed]
            device = self._signers[item.signer]
            payload = item.build(1)  # to read it; what is signed gets the signer's next seq
            if payload["type"] == "event":
                draft = _draft(payload)
                precheck(draft, item.signer, self._log, roles=self._roles[item.signer])
                self._await_committed(self._log.touched_by_others(draft, item.signer))
                raw = device.identity.sign_payload(draft.payload)
                self._log.add(raw, draft, item.signer, device.identity.last_seq)
            else:
                raw = device.identity.sign_payload(item.build)
            device.outbox.put(device.identity.last_seq, raw)
            signed += 1
            self._replayed = signed
        return signed

    def _replay(self, signed: int) -> None:
        """Rebuild the pre-check's view of the events earlier runs signed (unsigned, seq 0)."""
        while self._replayed < signed:
            item = self._planned[self._replayed]
            payload = item.build(1)
            if payload["type"] == "event":
                draft = _draft(payload)
                self._log.add(draft.candidate(item.signer).raw, draft, item.signer, 0)
            self._replayed += 1

    def _await_committed(self, entries: Iterable[tuple[str, int]]) -> None:
        for signer, seq in entries:
            outbox = self._signers[signer].outbox
            deadline = time.monotonic() + COMMIT_TIMEOUT_S
            while any(kept.seq == seq for kept in outbox.pending(seq - 1, 1)):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the gateway did not commit {signer}'s seq {seq} within "
                        f"{COMMIT_TIMEOUT_S:.0f} s"
                    )
                time.sleep(0.05)


def _draft(payload: Mapping[str, object]) -> EventDraft:
    """The event a planned payload states, rebuilt as an operator's input (members as text)."""
    common = {"type", "seq", "ts", "event", "subjects", "refs"}
    members = {
        name: " ".join(value) if isinstance(value, list | tuple) else str(value)
        for name, value in payload.items()
        if name not in common
    }
    subjects = payload["subjects"]
    ts = payload["ts"]
    refs = payload.get("refs", [])
    assert isinstance(subjects, list) and isinstance(ts, int) and isinstance(refs, list)
    return draft_event(str(payload["event"]), subjects, members, ts, refs=refs)


class _StoryLog:
    """The events the story signed, by subject: the pre-check's view of the log (a History).

    Indexes count the story's events, not the log's entries. ``_last`` holds,
    per subject, who signed the latest event about it, with which seq.
    """

    def __init__(self) -> None:
        self._by_subject: defaultdict[str, list[tuple[int, bytes]]] = defaultdict(list)
        self._last: dict[str, tuple[str, int]] = {}
        self._count = 0

    def __call__(self, subject: str) -> list[tuple[int, bytes]]:
        return self._by_subject.get(subject, [])

    def add(self, raw: bytes, draft: EventDraft, signer: str, seq: int) -> None:
        for subject in (*draft.subjects, *draft.outputs):
            self._by_subject[subject].append((self._count, raw))
            self._last[subject] = (signer, seq)
        self._count += 1

    def touched_by_others(self, draft: EventDraft, signer: str) -> set[tuple[str, int]]:
        """``(signer, seq)`` of the latest event by another signer about each of its subjects."""
        found = {self._last.get(s) for s in (*draft.subjects, *draft.outputs)}
        return {last for last in found if last is not None and last[0] != signer and last[1]}
