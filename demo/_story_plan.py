"""The story farm's registrations and lifecycle events, planned in time (see story_farm)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from chain.entries import device_payload, event_payload, operator_payload
from chain.gs1 import DigitalLink, pack_subject
from chain.keyfile import SignerKey
from firmware_sim.farm import SimulatedFarm

if TYPE_CHECKING:
    from demo.story_farm import StoryFarm

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
CHUNK = 40  # subjects per event: keeps every entry far below the 4096-byte limit
REF_CHUNK = 8  # subjects per event with a reference each: the most an event may carry
CARCASS_YIELD = 0.72
PRODUCT, PRODUCT_LOT = "Whole chicken", "Whole chickens"
SHELF_DAYS = 7  # fresh whole chicken, kept at 0-4 °C
TREATMENT_DAY = 2  # the last dose of the antibiotic course, days after placing
WITHDRAWAL_DAYS = 1  # amoxicillin in drinking water, chicken meat (as its label states)
TREATMENT: Mapping[str, str | int] = {
    "medicine": "Amoxicillin",
    "reason": "E. coli infection (colibacillosis)",
    "dose": "15 mg/kg a day in drinking water, 3 days",
    "withdrawal_days": WITHDRAWAL_DAYS,
}

OPERATORS = (  # role, operator id, name
    ("hatchery", "hatchery", "Sunrise Hatchery"),
    ("farm", "farm-manager", "Green Valley Farm"),
    ("vet", "vet", "Dr. Chen, poultry veterinarian"),
    ("plant", "plant", "Riverside Processing Plant"),
    ("distributor", "distributor", "ColdChain Distribution, DC North"),
    ("retailer", "retailer", "FreshMart Store 12"),
)
_NAMES = {role: name for role, _, name in OPERATORS}


@dataclass(frozen=True, slots=True)
class BarnStay:
    """A bird's stay in barn ``barn`` from ``start_ms`` to ``end_ms`` (exclusive)."""

    barn: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class StoryDevice:
    """A registered device: what it reports about which subject, and where it is installed.

    ``location`` is ``barn:<id>`` for barn devices and the bird itself
    (``bird:<id>``) for a bird's tag, which moves with its bird.
    """

    id: str
    kinds: tuple[str, ...]
    subject: str
    location: str


@dataclass(frozen=True, slots=True)
class StoryPack:
    """One packed bird: GTIN + serial; ``weight_g`` as packed."""

    gtin: str
    serial: str
    bird: str
    weight_g: int
    recalled: bool

    @property
    def link(self) -> DigitalLink:
        """Its GS1 Digital Link (``link.path`` is what its QR code points at)."""
        return DigitalLink(self.gtin, serial=self.serial)

    @property
    def subject(self) -> str:
        """``pack:<gtin>.<serial>``, the subject its packed event is indexed under."""
        return pack_subject(self.link)


@dataclass(frozen=True, slots=True)
class StoryLot:
    """Several birds packed together: GTIN + lot."""

    gtin: str
    lot: str
    birds: tuple[str, ...]
    weight_g: int
    recalled: bool

    @property
    def link(self) -> DigitalLink:
        """Its GS1 Digital Link."""
        return DigitalLink(self.gtin, lot=self.lot)

    @property
    def subject(self) -> str:
        """``lot:<gtin>.<lot>``, the subject its packed event is indexed under."""
        return pack_subject(self.link)


PlaceRefs = Callable[[Sequence[str], int], list[dict[str, object]]]
"""``(birds, ts)`` -> the ``refs`` of a ``placed`` event at ``ts``: each bird's ``hatched``."""


@dataclass(frozen=True, slots=True)
class Planned:
    """An entry to sign at ``ts`` as ``signer``: ``build(seq)`` makes its payload."""

    ts: int
    signer: str
    build: Callable[[int], dict[str, object]]


class StoryPlan:
    """Who is who on the story farm, and every registration and event in time order.

    ``operators`` maps each role to its operator id; the plan holds the
    registrations and events of those roles only. ``names`` overrides the
    operators' names by role (default: :data:`OPERATORS`' names). A farm's own log in the
    six-party demo has the farm's and the vet's: its birds were hatched in
    the hatchery's log, so each ``placed`` names their ``hatched`` entries
    by reference (``place_refs``, asked once per event when it is built
    first) and carries at most :data:`REF_CHUNK` birds; their slaughter,
    packing and sale are recorded in the other parties' logs.
    """

    def __init__(
        self,
        farm: StoryFarm,
        sim: SimulatedFarm,
        keys: Mapping[str, SignerKey],
        admin: str,
        operators: Mapping[str, str],
        *,
        place_refs: PlaceRefs | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.farm, self.keys, self.admin, self._ops = farm, keys, admin, operators
        self._names = {**_NAMES, **(names or {})}
        self._place_refs = place_refs
        self._refs_made: dict[tuple[str, ...], list[dict[str, object]]] = {}
        self.operator_ids = tuple(operators.values())
        specs = sim.devices
        self.barns = tuple(dict.fromkeys(spec.barn for spec in specs))
        tags = [spec for spec in specs if spec.subject.startswith("bird:")]
        self.birds = tuple(spec.subject.partition(":")[2] for spec in tags)
        self.devices = tuple(
            StoryDevice(s.id, s.kinds, s.subject, _location(s.subject, s.barn)) for s in specs
        )
        self.catch_ms = farm.end_ms - 12 * HOUR
        self.move_ms = farm.start_ms + farm.days // 2 * DAY + 10 * HOUR
        self.shelf = self.birds[: farm.shelf_birds]
        self.single = self.shelf[: farm.shelf_birds - farm.lot_birds]
        self.lotted = self.shelf[len(self.single) :]
        self.lot_id = "L" + datetime.fromtimestamp(self.catch_ms / 1000, UTC).strftime("%Y%m%d")
        self.left_ms = {f"bird:{bird}": self.catch_ms for bird in self.shelf}
        self.last_weight_kg: dict[str, float] = {}
        self.weights_g: dict[str, int] = {}
        every, first = farm.move_every, {b: s.barn for b, s in zip(self.birds, tags, strict=True)}
        moving = {
            bird
            for n, bird in enumerate(self.birds, start=1)
            if every and farm.barns > 1 and n % every == 2 % every
        }
        self.moves = {bird: _next_barn(first[bird], farm.barns) for bird in sorted(moving)}
        self.stays: dict[str, tuple[BarnStay, ...]] = {}
        for bird in self.birds:
            leave = self.catch_ms if f"bird:{bird}" in self.left_ms else farm.end_ms
            if bird in self.moves:
                self.stays[bird] = (
                    BarnStay(first[bird], farm.start_ms, self.move_ms),
                    BarnStay(self.moves[bird], self.move_ms, leave),
                )
            else:
                self.stays[bird] = (BarnStay(first[bird], farm.start_ms, leave),)
        self._first = first

    # -- the manifest's view, complete once every planned entry was built ---------

    def packs(self) -> tuple[StoryPack, ...]:
        """The single-bird packs; the last one is recalled."""
        gtin, recalled = self.farm.gtin, self.single[-1]
        return tuple(
            StoryPack(gtin, _serial(b), b, self.weights_g[f"bird:{b}"], b == recalled)
            for b in self.single
        )

    def lots(self) -> tuple[StoryLot, ...]:
        """The lot of the last ``lot_birds`` shelf birds, if any."""
        if not self.lotted:
            return ()
        grams = sum(self.weights_g[f"bird:{b}"] for b in self.lotted)
        return (StoryLot(self.farm.gtin, self.lot_id, self.lotted, grams, False),)

    def pack_links(self) -> tuple[DigitalLink, ...]:
        """The Digital Links of the single-bird packs, then the lot's (known before packing)."""
        links = [DigitalLink(self.farm.gtin, serial=_serial(b)) for b in self.single]
        if self.lotted:
            links.append(DigitalLink(self.farm.gtin, lot=self.lot_id))
        return tuple(links)

    # -- the plan -------------------------------------------------------------------

    def planned(self) -> list[Planned]:
        """Every registration and event, sorted by ts (stable: plan order on ties)."""
        self._out: list[Planned] = []
        self._registrations()
        self._farm_life()
        self._to_the_shelf()
        return sorted(self._out, key=lambda item: item.ts)

    def _registrations(self) -> None:
        ts = self.farm.start_ms - 2 * DAY
        for role, op, name in OPERATORS:
            if self._ops.get(role) != op:
                continue
            pubkey = self.keys[op].public_key
            name = self._names[role]
            build = partial(
                operator_payload, "register", op, ts=ts, pubkey=pubkey, roles=[role], name=name
            )
            self._out.append(Planned(ts, self.admin, build))
        for device in self.devices:
            build = partial(
                device_payload,
                "register",
                device.id,
                ts=ts + MINUTE,
                pubkey=self.keys[device.id].public_key,
                farm=self.farm.farm_id,
                kinds=device.kinds,
                location=device.location,
                subjects=[device.subject],
            )
            self._out.append(Planned(ts + MINUTE, self.admin, build))

    def _farm_life(self) -> None:
        farm, birds = self.farm, [f"bird:{b}" for b in self.birds]
        hatch = farm.start_ms - DAY
        if "hatchery" in self._ops:
            hatchery = {"hatchery": self._names["hatchery"], "parent_flock": "PF-2025-17"}
            self._event(hatch, "hatchery", "hatched", birds, breed=farm.breed, **hatchery)
            vaccine = {"vaccine": "Marek's disease (HVT)", "dose": "0.2 ml"}
            self._event(hatch + 2 * HOUR, "hatchery", "vaccinated", birds, **vaccine)
        for barn in self.barns:
            placed = [f"bird:{b}" for b in self.birds if self._first[b] == barn]
            if self._place_refs is None:
                self._event(farm.start_ms, "farm", "placed", placed, barn=barn)
            else:
                self._placed_with_refs(farm.start_ms, placed, barn)
        check = farm.start_ms + DAY + 9 * HOUR
        while check < self.catch_ms:
            for barn in self.barns:
                note = "weekly welfare and biosecurity check"
                self._event(check, "vet", "inspected", [f"barn:{barn}"], result="pass", note=note)
            check += 7 * DAY
        failure = farm.sim_config().scenarios
        if failure and failure[0].end_ms + HOUR < self.catch_ms:
            note = "ventilation failure; fans repaired, birds heat-stressed"
            self._event(
                failure[0].end_ms + HOUR, "vet", "inspected", ["barn:b1"], result="fail", note=note
            )
        self._treatment()
        booster = farm.start_ms + 10 * DAY + 8 * HOUR
        if booster < self.catch_ms:
            vaccine = {"vaccine": "Newcastle disease (La Sota)", "dose": "drinking water"}
            self._event(booster, "vet", "vaccinated", birds, **vaccine)
        for source in self.barns:
            for target in self.barns:
                movers = [
                    f"bird:{b}"
                    for b, t in self.moves.items()
                    if (self._first[b], t) == (source, target)
                ]
                if movers:
                    self._event(
                        self.move_ms, "farm", "moved", movers, barn=target, from_barn=source
                    )

    def _treatment(self) -> None:
        """The first shelf bird's antibiotic course, early in life; its withdrawal period
        ends long before the catch (skipped when the farm is too short for that)."""
        last_dose = self.farm.start_ms + TREATMENT_DAY * DAY + 8 * HOUR
        if not self.shelf or last_dose + WITHDRAWAL_DAYS * DAY >= self.catch_ms:
            return
        self._event(last_dose, "vet", "treated", [f"bird:{self.shelf[0]}"], **TREATMENT)

    def _placed_with_refs(self, ts: int, birds: Sequence[str], barn: str) -> None:
        for start in range(0, len(birds), REF_CHUNK):
            chunk = tuple(birds[start : start + REF_CHUNK])

            def build(seq: int, chunk: tuple[str, ...] = chunk) -> dict[str, object]:
                refs = self._refs_made.get(chunk)
                if refs is None:
                    assert self._place_refs is not None
                    refs = self._refs_made.setdefault(chunk, self._place_refs(chunk, ts))
                return event_payload("placed", seq, ts, chunk, barn=barn, refs=refs)

            self._out.append(Planned(ts, self._ops["farm"], build))

    def _to_the_shelf(self) -> None:
        if "plant" not in self._ops:
            return  # recorded in the plant's, the distributor's and the shop's own logs
        catch, plant = self.catch_ms, _NAMES["plant"]
        birds = [f"bird:{b}" for b in self.shelf]
        note = "ante-mortem inspection at the plant"
        self._event(catch + 2 * HOUR, "vet", "inspected", birds, result="pass", note=note)
        for i, bird in enumerate(self.shelf):
            outputs = [f"carcass:{bird}"]
            ts = catch + 3 * HOUR + i * 10_000
            self._event(ts, "plant", "slaughtered", [f"bird:{bird}"], plant=plant, outputs=outputs)
        for i, bird in enumerate(self.single):
            self._pack(
                catch + 5 * HOUR + i * 10_000,
                [bird],
                DigitalLink(self.farm.gtin, serial=_serial(bird)),
            )
        if self.lotted:
            self._pack(
                catch + 6 * HOUR, list(self.lotted), DigitalLink(self.farm.gtin, lot=self.lot_id)
            )
        goods = [f"pack:{self.farm.gtin}.{_serial(b)}" for b in self.single]
        goods += [f"lot:{self.farm.gtin}.{self.lot_id}"] if self.lotted else []
        dc, shop = _NAMES["distributor"], _NAMES["retailer"]
        self._event(catch + 8 * HOUR, "plant", "shipped", goods, destination=dc, source=plant)
        self._event(catch + 11 * HOUR, "distributor", "received", goods, location=dc)
        self._event(catch + 20 * HOUR, "distributor", "shipped", goods, destination=shop, source=dc)
        self._event(catch + 26 * HOUR, "retailer", "received", goods, location=shop)
        reason = "precautionary: cold chain break reported for this pack in transit"
        recalled = [goods[len(self.single) - 1]]
        self._event(catch + 30 * HOUR, "plant", "recalled", recalled, reason=reason)

    def _event(
        self, ts: int, role: str, event: str, subjects: Sequence[str], **fields: object
    ) -> None:
        signer = self._ops[role]
        for start in range(0, len(subjects), CHUNK):
            chunk = list(subjects[start : start + CHUNK])

            def build(seq: int, chunk: list[str] = chunk) -> dict[str, object]:
                return event_payload(event, seq, ts, chunk, **fields)

            self._out.append(Planned(ts, signer, build))

    def _pack(self, ts: int, birds: list[str], link: DigitalLink) -> None:
        def build(seq: int) -> dict[str, object]:
            grams = 0
            for bird in birds:
                kg = self.last_weight_kg.get(f"bird:{bird}", 0.05)
                self.weights_g[f"bird:{bird}"] = max(1, round(kg * 1000 * CARCASS_YIELD))
                grams += self.weights_g[f"bird:{bird}"]
            key = {"serial": link.serial} if link.serial is not None else {"lot": link.lot}
            carcasses = [f"carcass:{bird}" for bird in birds]
            label = {"product": PRODUCT if len(birds) == 1 else PRODUCT_LOT}
            label["best_before"] = best_before(ts)
            plant = _NAMES["plant"]
            return (
                event_payload(
                    "packed", seq, ts, carcasses, gtin=link.gtin, **key, plant=plant, weight_g=grams
                )
                | label
            )

        self._out.append(Planned(ts, self._ops["plant"], build))


def best_before(packed_ms: int) -> str:
    """The best-before date of a pack packed at ``packed_ms``: :data:`SHELF_DAYS` on (UTC)."""
    packed = datetime.fromtimestamp(packed_ms / 1000, UTC).date()
    return (packed + timedelta(days=SHELF_DAYS)).isoformat()


def _location(subject: str, barn: str) -> str:
    # A bird's tag goes where its bird goes; everything else stays in its barn.
    return subject if subject.startswith("bird:") else f"barn:{barn}"


def _serial(bird: str) -> str:
    return f"S{bird}"


def _next_barn(barn: str, barns: int) -> str:
    return f"b{int(barn[1:]) % barns + 1}"
