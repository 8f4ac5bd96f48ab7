"""The six-party demo's story across logs: hatched, placed, slaughtered, packed, sold.

The farms' own parts (placing, vets, readings) are :mod:`demo._farm_part`'s;
this module writes the other parties' logs, each event signed by that
party's own staff member and sent to its operator-only log over HTTP
(:mod:`demo._submit`), exactly as ``farmtrace event --submit-url`` does:

1. every non-farm log's administrator registers its staff member;
2. the hatchery hatches (and vaccinates) Green Valley Farm's chicks;
   Green Valley's ``placed`` events then name them by reference
   (:meth:`ChainStory.place_refs`). Hillside Farm hatches its own chicks, in
   its own log: a log cannot hatch ``bird:0001`` twice, and both farms'
   first bird is ``bird:0001``, which the plant then tells apart by log;
3. the plant slaughters each farm's shelf birds (one reference each to the
   farm's entry about the bird), packs single birds and a lot per farm, ships
   them to the distributor and later recalls one pack;
4. the distributor receives them (references to the plant's ``shipped``)
   and ships them on; the shop receives them (references to the
   distributor's ``shipped``).

Every reference is made with :func:`readapi.crosslog.reference_to` against
the other party's read API at its current cosigned checkpoint, checked
before signing, and checked again by the receiving gateway (``--pins``).
Steps already done in an earlier run are skipped (``<demo>/chain-story.json``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from chain.crosslog import Referrer
from chain.entries import event_payload, operator_payload
from chain.gs1 import DigitalLink, pack_subject
from chain.keyfile import load_key
from demo._parties import ADMIN, PARTIES, ChainPorts, Party, party
from demo._story_plan import CHUNK, DAY, HOUR, REF_CHUNK, best_before
from demo._submit import await_receipt, submit
from demo.story_farm import StoryFarm
from firmware_sim.farm import SimulatedFarm
from gateway.datadir import DataDir
from readapi.crosslog import NoReferableEntryError, Pins, ReferenceUnavailableError, reference_to
from signer.identity import DeviceIdentity

__all__ = ["GTIN", "ChainStory", "FarmBirds", "farm_birds"]

GTIN = "09506000134352"
"""The plant's whole-chicken GTIN (company prefix :data:`demo._parties.PLANT_PREFIX`)."""
_REF_WAIT_S = 120.0
"""How long a writer waits for the entry it names to appear under a cosigned checkpoint."""
_STATE = "chain-story.json"


@dataclass(frozen=True, slots=True)
class FarmBirds:
    """One farm's birds as the other parties see them: all of them, and the ones sold.

    ``letter`` tells the farms' birds apart in the plant's own names
    (``carcass:A0001``, serial ``A0001``).
    """

    slug: str
    letter: str
    birds: tuple[str, ...]
    single: tuple[str, ...]
    lotted: tuple[str, ...]
    catch_ms: int


def farm_birds(slug: str, letter: str, farm: StoryFarm, seed: int) -> FarmBirds:
    """The birds of a demo farm (as its simulation numbers them) and its shelf birds."""
    sim = SimulatedFarm(farm.sim_config(), random.Random(seed))
    birds = tuple(s.subject for s in sim.devices if s.subject.startswith("bird:"))
    shelf = birds[: farm.shelf_birds]
    single = shelf[: farm.shelf_birds - farm.lot_birds]
    return FarmBirds(slug, letter, birds, single, shelf[len(single) :], farm.end_ms - 12 * HOUR)


class _Writer:
    """One operator-only party's signers (its administrator and its staff member)."""

    def __init__(self, root: Path, p: Party, data: DataDir, api: str) -> None:
        self.party, self.api = p, api
        home = root / "signers" / p.slug
        admin_dir = home / ADMIN
        if not (admin_dir / "device.key").exists():
            with DeviceIdentity.create(admin_dir, load_key(data.signer_key(ADMIN))) as genesis:
                genesis.next_seq()  # seq 1: the genesis self-registration, in block 0
        self.admin = DeviceIdentity.open(admin_dir)
        self.staff = DeviceIdentity.open_or_create(home / p.operator, p.operator)

    def sign(self, identity: DeviceIdentity, make: Callable[[int], dict[str, object]]) -> bytes:
        return identity.sign_payload(make)

    def close(self) -> None:
        self.admin.close()
        self.staff.close()


class ChainStory:
    """The non-farm parties' events, signed and sent step by step (each step once).

    Open it once the operator-only gateways and the witnesses run; call
    :meth:`run_hatchery` before the farms place their birds and :meth:`run_rest`
    after. Close it when done.
    """

    def __init__(
        self,
        root: Path,
        dirs: dict[str, DataDir],
        ports: ChainPorts,
        pins: Pins,
        farms: Sequence[FarmBirds],
        start_ms: int,
    ) -> None:
        self._root, self._pins, self._farms, self._start = root, pins, farms, start_ms
        self._writers = {
            p.slug: _Writer(root, p, dirs[p.slug], ports.api(p.slug))
            for p in PARTIES
            if not p.is_farm
        }
        path = root / _STATE
        kept: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"done": 0}
        self._done: int = kept["done"]
        self._pending: str | None = kept.get("pending")
        self._step = 0

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()

    # -- references -----------------------------------------------------------------

    def place_refs(self, birds: Sequence[str], ts: int) -> list[dict[str, object]]:
        """The ``refs`` of Green Valley's ``placed`` of ``birds``: each one's ``hatched``."""
        referrer = Referrer("placed", tuple(birds), ts)
        return [self._ref_to(party("hatchery").origin, b, referrer) for b in birds]

    def _ref_to(self, origin: str, subject: str, referrer: Referrer) -> dict[str, object]:
        """A checked reference, waiting for the entry to appear under a cosigned checkpoint.

        Raises:
            RuntimeError: none within :data:`_REF_WAIT_S` seconds.
            CrossLogReferenceError: the reference does not hold (a bug in the demo).
        """
        deadline = time.monotonic() + _REF_WAIT_S
        while True:
            try:
                return reference_to(origin, subject, self._pins, referrer).ref.to_json()
            except (NoReferableEntryError, ReferenceUnavailableError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot reference {subject} in {origin}: {exc}") from exc
            time.sleep(0.25)

    # -- steps ----------------------------------------------------------------------

    def _once(self, slug: str, sign: Callable[[], bytes]) -> str | None:
        """Sign and send step number ``self._step`` to ``slug``'s log unless an earlier run did.

        The signed entry is kept before it is sent: a run stopped in between
        sends the same bytes again (a duplicate the gateway answers with its
        receipt), never a second event. Returns its entry hash (None: done before).
        """
        digest = None
        if self._step >= self._done:
            if self._pending is None:
                self._pending = sign().decode()
                self._save()
            digest = submit(self._writers[slug].api, self._pending.encode())
            self._done, self._pending = self._step + 1, None
            self._save()
        self._step += 1
        return digest

    def _save(self) -> None:
        tmp = self._root / (_STATE + ".tmp")
        tmp.write_text(json.dumps({"done": self._done, "pending": self._pending}))
        os.replace(tmp, self._root / _STATE)

    def _event(
        self, slug: str, event: str, ts: int, subjects: Sequence[str], **fields: object
    ) -> None:
        writer = self._writers[slug]
        for start in range(0, len(subjects), CHUNK):
            chunk = list(subjects[start : start + CHUNK])

            def make(seq: int, chunk: list[str] = chunk) -> dict[str, object]:
                return event_payload(event, seq, ts, chunk, **fields)

            self._once(slug, partial(writer.sign, writer.staff, make))

    def _with_refs(
        self,
        slug: str,
        event: str,
        ts: int,
        named: Sequence[tuple[str, str]],
        **fields: object,
    ) -> str | None:
        """Events naming ``(origin, subject)`` pairs, :data:`REF_CHUNK` a time; the last's hash."""
        writer, last = self._writers[slug], None
        for start in range(0, len(named), REF_CHUNK):
            chunk = named[start : start + REF_CHUNK]
            subjects = [subject for _, subject in chunk]

            def sign(
                subjects: list[str] = subjects, chunk: Sequence[tuple[str, str]] = chunk
            ) -> bytes:
                referrer = Referrer(event, tuple(subjects), ts)
                refs = [self._ref_to(origin, s, referrer) for origin, s in chunk]

                def make(seq: int) -> dict[str, object]:
                    return event_payload(event, seq, ts, subjects, refs=refs, **fields)

                return writer.sign(writer.staff, make)

            last = self._once(slug, sign) or last
        return last

    def run_hatchery(self) -> None:
        """Register every party's staff member; hatch and vaccinate Green Valley's chicks."""
        ts = self._start - 2 * DAY
        for writer in self._writers.values():
            p, key = writer.party, writer.staff.key.public_key

            def register(seq: int, p: Party = p, key: bytes = key) -> dict[str, object]:
                return operator_payload(
                    "register", p.operator, seq, ts, pubkey=key, roles=list(p.roles), name=p.name
                )

            self._once(p.slug, partial(writer.sign, writer.admin, register))
        green = self._farms[0]
        hatch = self._start - DAY
        hatchery = {"hatchery": party("hatchery").name, "parent_flock": "PF-2025-17"}
        self._event("hatchery", "hatched", hatch, green.birds, breed="Ross 308", **hatchery)
        vaccine = {"vaccine": "Marek's disease (HVT)", "dose": "0.2 ml"}
        self._event("hatchery", "vaccinated", hatch + 2 * HOUR, green.birds, **vaccine)

    def run_rest(self) -> tuple[DigitalLink, ...]:
        """Slaughter, pack, ship, receive, sell and recall; return the packs' Digital Links.

        Raises:
            RuntimeError: an entry to name did not appear in time, or a log
                did not accept or commit an event.
            SubmitRefusedError: a gateway refused an event.
        """
        plant, plant_name = party("plant"), party("plant").name
        links: list[DigitalLink] = []
        goods: list[str] = []
        rng = random.Random(self._start)
        for farm in self._farms:
            origin = party(farm.slug).origin
            catch = farm.catch_ms
            for i, bird in enumerate((*farm.single, *farm.lotted)):
                outputs = [_carcass(farm, bird)]
                ts = catch + 3 * HOUR + i * 10_000
                self._with_refs(
                    "plant", "slaughtered", ts, [(origin, bird)], plant=plant_name, outputs=outputs
                )
            for i, bird in enumerate(farm.single):
                link = DigitalLink(GTIN, serial=_serial(farm, bird))
                self._pack(catch + 5 * HOUR + i * 10_000, [_carcass(farm, bird)], link, rng)
                links.append(link)
            if farm.lotted:
                lot = DigitalLink(GTIN, lot=f"L{farm.letter}{_day(catch)}")
                self._pack(catch + 6 * HOUR, [_carcass(farm, b) for b in farm.lotted], lot, rng)
                links.append(lot)
        goods = [pack_subject(link) for link in links]
        catch = max(farm.catch_ms for farm in self._farms)
        dc, shop = party("distributor").name, party("shop").name
        self._event("plant", "shipped", catch + 8 * HOUR, goods, destination=dc, source=plant_name)
        from_plant = [(plant.origin, good) for good in goods]
        self._with_refs("distributor", "received", catch + 11 * HOUR, from_plant, location=dc)
        self._event("distributor", "shipped", catch + 20 * HOUR, goods, destination=shop, source=dc)
        from_dc = [(party("distributor").origin, good) for good in goods]
        last = self._with_refs("shop", "received", catch + 26 * HOUR, from_dc, location=shop)
        reason = "precautionary: cold chain break reported for this pack in transit"
        recalled = [goods[len(self._farms[0].single) - 1]]
        self._event("plant", "recalled", catch + 30 * HOUR, recalled, reason=reason)
        if last is not None:
            await_receipt(self._writers["shop"].api, last)
        return tuple(links)

    def _pack(self, ts: int, carcasses: list[str], link: DigitalLink, rng: random.Random) -> None:
        grams = sum(rng.randrange(1500, 2100) for _ in carcasses)
        key = {"serial": link.serial} if link.serial is not None else {"lot": link.lot}
        label = {
            "product": "Whole chicken" if len(carcasses) == 1 else "Whole chickens",
            "best_before": best_before(ts),
        }
        plant = party("plant").name
        fields = {"gtin": link.gtin, **key, "plant": plant, "weight_g": grams, **label}
        self._event("plant", "packed", ts, carcasses, **fields)


def _carcass(farm: FarmBirds, bird: str) -> str:
    return f"carcass:{farm.letter}{bird.partition(':')[2]}"


def _serial(farm: FarmBirds, bird: str) -> str:
    return f"{farm.letter}{bird.partition(':')[2]}"


def _day(ms: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ms / 1000))
