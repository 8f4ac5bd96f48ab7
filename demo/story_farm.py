"""The story farm: a whole farm-to-shelf history, signed and logged offline.

:func:`build_story_log` creates a data directory whose log tells the complete
story the consumer site shows: the genesis administrator registers six
operators (hatchery, farm manager, vet, plant, distributor, retailer) and every
device of a :class:`~firmware_sim.farm.SimulatedFarm` with its ``location``;
the devices sign weeks of readings (barn temperature and humidity, feed, water,
and each tagged bird's activity and weight); the operators sign each bird's
lifecycle: hatched and vaccinated at the hatchery, placed in a barn, barns
inspected weekly, the first bird treated with an antibiotic early on (its
withdrawal period over long before the catch), some birds moved to another
barn half way, then the first ``shelf_birds`` birds caught, inspected ante
mortem, slaughtered into ``carcass:<bird>``, packed one per GTIN + serial (the
last few together as one lot) with a product name and a best-before date,
shipped to a distributor and on to a retailer, received at each; one pack is
recalled. Entries are committed in timestamp order, ``block_size`` to a
block, with a signed checkpoint per block; the result passes
:func:`chain.audit.audit_store`.

Everything except the log's checkpoint key (made by
:func:`gateway.init.init_data_dir`) derives from ``seed``: the same farm gives
the same entries and blocks. Tests use it as a fixture, the benchmarks to
build logs of millions of entries (scale ``birds``, ``days`` and intervals).
"""

from __future__ import annotations

import multiprocessing
import random
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

from chain.entries import Entry, parse_entry, reading_payload, sign_entry
from chain.errors import GS1Error
from chain.gs1 import validate_gtin
from chain.keyfile import SignerKey, save_key
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from demo._story_plan import (
    DAY,
    HOUR,
    MINUTE,
    OPERATORS,
    PRODUCT,
    PRODUCT_LOT,
    TREATMENT,
    BarnStay,
    Planned,
    StoryDevice,
    StoryLot,
    StoryPack,
    StoryPlan,
    best_before,
)
from firmware_sim.farm import FarmConfig, SimReading, SimulatedFarm, VentilationFailure
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

__all__ = [
    "PRODUCT",
    "PRODUCT_LOT",
    "TREATMENT",
    "BarnStay",
    "StoryDevice",
    "StoryFarm",
    "StoryLot",
    "StoryManifest",
    "StoryPack",
    "best_before",
    "build_story_log",
]

_ADMIN_ID = "farm-admin"
_SIGN_BATCH = 2000


@dataclass(frozen=True, slots=True)
class StoryFarm:
    """The shape of a story farm. The defaults build ~5,000 entries in about a second.

    ``birds`` tagged birds (``0001`` ...) live through the whole story, spread
    over ``barns`` barns (``b1`` ...) whose flocks of ``flock_per_barn`` eat and
    drink. The flock is placed at ``start_ms`` and the farm records ``days``
    days of readings; ``shelf_birds`` birds (the first ones) are caught 12 hours
    before the end and go to the shelf, the last ``lot_birds`` of them packed
    as one lot. Every ``move_every``-th bird (2nd, 2 + move_every-th, ...) moves
    to the next barn half way (0: none). ``ventilation_failure`` gives barn
    ``b1`` a three-hour ventilation failure half way (a temperature excursion).

    Raises:
        ValueError: a count, interval or id out of range, or a GTIN that is not
            a valid GTIN-14.
    """

    origin: str = "farmtrace.example/story-farm"
    farm_id: str = "story-farm"
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    days: int = 3
    barns: int = 2
    birds: int = 12
    shelf_birds: int = 8
    lot_birds: int = 3
    move_every: int = 4
    flock_per_barn: int = 5000
    env_interval_ms: int = 10 * MINUTE
    activity_interval_ms: int = 30 * MINUTE
    weight_interval_ms: int = 4 * HOUR
    ventilation_failure: bool = True
    block_size: int = 500
    seed: int = 7
    gtin: str = "09506000134352"
    breed: str = "Ross 308"

    def __post_init__(self) -> None:
        limits = {"days": (self.days, 2), "birds": (self.birds, 1)}
        limits |= {"shelf_birds": (self.shelf_birds, 1), "block_size": (self.block_size, 1)}
        limits |= {"lot_birds": (self.lot_birds, 0), "move_every": (self.move_every, 0)}
        for name, (value, low) in limits.items():
            if value < low:
                raise ValueError(f"{name}: expected >= {low}, found {value}")
        if self.shelf_birds > self.birds:
            raise ValueError(
                f"shelf_birds: expected <= birds={self.birds}, found {self.shelf_birds}"
            )
        if self.lot_birds >= self.shelf_birds:
            raise ValueError(
                f"lot_birds: expected < shelf_birds={self.shelf_birds} (one pack is "
                f"recalled), found {self.lot_birds}"
            )
        try:
            canonical = validate_gtin(self.gtin) == self.gtin
        except GS1Error:
            canonical = False
        if not canonical:
            raise ValueError(f"gtin: expected a valid 14-digit GTIN, found {self.gtin!r}")
        self.sim_config()  # FarmConfig checks the rest

    @property
    def end_ms(self) -> int:
        """When the simulated readings stop."""
        return self.start_ms + self.days * DAY

    def sim_config(self) -> FarmConfig:
        """The :class:`~firmware_sim.farm.FarmConfig` of the farm's devices."""
        failures: tuple[VentilationFailure, ...] = ()
        if self.ventilation_failure:
            begin = self.start_ms + self.days // 2 * DAY + 13 * HOUR
            failures = (VentilationFailure("b1", begin, begin + 3 * HOUR),)
        return FarmConfig(
            farm_id=self.farm_id,
            barns=self.barns,
            birds_per_barn=self.flock_per_barn,
            tagged_birds=self.birds,
            start_ms=self.start_ms,
            env_interval_ms=self.env_interval_ms,
            activity_interval_ms=self.activity_interval_ms,
            weight_interval_ms=self.weight_interval_ms,
            scenarios=failures,
        )


@dataclass(frozen=True, slots=True)
class StoryManifest:
    """What :func:`build_story_log` put in the log, for tests and benchmarks to look up.

    ``birds`` are bird ids (subject ``bird:<id>``) and ``barns`` barn ids
    (``barn:<id>``); ``stays`` gives each bird's barn stays in time order.
    ``operators`` maps a role to its operator id, whose key is saved in the
    data directory (``data_dir.signer_key(id)``) like the admin's;
    ``last_seqs`` is the last seq each of those signed. ``packs`` are the
    single-bird packs in bird order (the last one is recalled), ``lots`` the
    multi-bird lots. ``devices`` are registered with their ``location``: a barn,
    or for a bird's tag the bird itself. ``excursions`` are the simulated
    ventilation failures.
    """

    origin: str
    trust: TrustRoot
    start_ms: int
    end_ms: int
    barns: tuple[str, ...]
    birds: tuple[str, ...]
    stays: Mapping[str, tuple[BarnStay, ...]]
    packs: tuple[StoryPack, ...]
    lots: tuple[StoryLot, ...]
    devices: tuple[StoryDevice, ...]
    excursions: tuple[VentilationFailure, ...]
    admin: str
    operators: Mapping[str, str]
    last_seqs: Mapping[str, int]
    readings: int
    events: int
    entries: int
    blocks: int


def build_story_log(
    data_dir: DataDir, farm: StoryFarm = StoryFarm(), *, jobs: int = 1
) -> StoryManifest:
    """Create ``data_dir`` holding the story farm's whole signed history; describe it.

    The admin's and operators' keys are saved under ``data_dir.keys``. The
    store is written without fsync per block (a bulk build: rerun it after a
    crash); everything is on disk once this returns. With ``jobs`` > 1, that
    many worker processes sign entries while this one simulates and commits
    (the log is the same).

    Raises:
        FileExistsError: ``data_dir`` already holds a log.
        StorageError: the store failed.
    """
    rng = random.Random(farm.seed)
    admin = SignerKey.generate(_ADMIN_ID, seed=rng.randbytes(32))
    operators = {role: SignerKey.generate(op, seed=rng.randbytes(32)) for role, op, _ in OPERATORS}
    sim = SimulatedFarm(farm.sim_config(), random.Random(rng.getrandbits(64)))
    keys = {key.id: key for key in (admin, *operators.values())}
    keys |= {d.id: SignerKey.generate(d.id, seed=rng.randbytes(32)) for d in sim.devices}
    plan = StoryPlan(farm, sim, keys, admin.id, {role: k.id for role, k in operators.items()})
    trust = init_data_dir(data_dir, farm.origin, [admin], farm.start_ms - 3 * DAY)
    for key in (admin, *operators.values()):
        save_key(key, data_dir.signer_key(key.id))
    seqs = {admin.id: 1}  # its genesis registration
    counts = {"reading": 0, "event": 0}
    with Store.open(data_dir.log, sync=False) as store:
        writer = LogWriter(store, read_log_signer(data_dir))
        block: list[Entry] = []
        stream = _payloads(plan, sim.readings(farm.start_ms, farm.end_ms), seqs)
        for raw in _signed(stream, jobs):
            entry = parse_entry(raw)
            counts[entry.type] = counts.get(entry.type, 0) + 1
            block.append(entry)
            if len(block) == farm.block_size:
                writer.commit_block(block, entry.ts)
                writer.sign_checkpoint()
                block = []
        if block:
            writer.commit_block(block, block[-1].ts)
            writer.sign_checkpoint()
        entries, blocks = store.entry_count, store.size
    return StoryManifest(
        origin=farm.origin,
        trust=trust,
        start_ms=farm.start_ms,
        end_ms=farm.end_ms,
        barns=plan.barns,
        birds=plan.birds,
        stays=MappingProxyType(plan.stays),
        packs=plan.packs(),
        lots=plan.lots(),
        devices=plan.devices,
        excursions=farm.sim_config().scenarios,
        admin=admin.id,
        operators=MappingProxyType({role: k.id for role, k in operators.items()}),
        last_seqs=MappingProxyType({i: seqs[i] for i in (admin.id, *plan.operator_ids)}),
        readings=counts["reading"],
        events=counts["event"],
        entries=entries,
        blocks=blocks,
    )


def _signed(stream: Iterator[tuple[SignerKey, dict[str, object]]], jobs: int) -> Iterator[bytes]:
    """Sign ``stream`` in order, here or in ``jobs`` worker processes."""
    if jobs <= 1:
        for key, payload in stream:
            yield sign_entry(payload, key.id, key.seed)
        return
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver")) as pool:
        in_flight: deque[Future[list[bytes]]] = deque()
        batch: list[tuple[str, bytes, dict[str, object]]] = []
        for key, payload in stream:
            batch.append((key.id, key.seed, payload))
            if len(batch) == _SIGN_BATCH:
                in_flight.append(pool.submit(_sign_batch, batch))
                batch = []
                if len(in_flight) > 2 * jobs:  # bounded: a big farm never sits in memory
                    yield from in_flight.popleft().result()
        in_flight.append(pool.submit(_sign_batch, batch))
        while in_flight:
            yield from in_flight.popleft().result()


def _sign_batch(batch: list[tuple[str, bytes, dict[str, object]]]) -> list[bytes]:
    return [sign_entry(payload, kid, seed) for kid, seed, payload in batch]


def _payloads(
    plan: StoryPlan, readings: Iterator[SimReading], seqs: dict[str, int]
) -> Iterator[tuple[SignerKey, dict[str, object]]]:
    """Planned entries and readings merged by ts (planned first on ties), with seqs."""
    keys, left, weights = plan.keys, plan.left_ms, plan.last_weight_kg
    planned = iter(plan.planned())
    upcoming: Planned | None = next(planned, None)

    def emit(item: Planned) -> tuple[SignerKey, dict[str, object]]:
        seq = seqs[item.signer] = seqs.get(item.signer, 0) + 1
        return keys[item.signer], item.build(seq)

    for r in readings:
        while upcoming is not None and upcoming.ts <= r.ts:
            yield emit(upcoming)
            upcoming = next(planned, None)
        if r.ts >= left.get(r.subject, r.ts + 1):
            continue  # the bird has left the farm; its tag is off
        if r.kind == "weight":
            weights[r.subject] = r.value
        seq = seqs[r.device] = seqs.get(r.device, 0) + 1
        payload = reading_payload(r.device, seq, r.ts, r.kind, r.subject, r.value, r.unit)
        yield keys[r.device], payload
    while upcoming is not None:
        yield emit(upcoming)
        upcoming = next(planned, None)
