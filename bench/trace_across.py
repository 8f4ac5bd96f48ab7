"""Trace and recall across logs at 10 farms x 100k entries (issue 15: "within 1 s").

Builds (once; cached in ``bench/.cache/trace-across*``) ten farm logs of about
100,000 entries each (200 birds each, with the same ids on every farm: hatch,
placement, vaccination, a move, deaths, weekly barn inspections, and
temperature readings for the rest, 100 entries a block), a plant's log that
slaughters every farm's birds (each ``slaughtered`` carries a reference to
the farm's placement), packs them in lots of 20 (two birds of each farm),
and recalls one lot; a distributor's log that receives every lot (a reference to the
packing) and ships it; a shop's log that receives every lot (a reference to
the shipment). Every log is published under a checkpoint cosigned by two
witnesses, and pinned in a pins file.

Then, as ``farmtrace trace --pins`` runs it (:func:`gateway.offline_trace.trace_local_copies`:
the stores opened, indexed, every crossed reference checked against the
other log's local copy and the pins), it times:

* building the 13 logs' trace indexes (reported apart: a site keeps them);
* tracing and recalling the recalled lot across all logs (upstream to both
  farms, downstream to the shop), and a farm's barn over the whole period
  downstream to every shop lot;
* the raw limit, in the same run: the single-log trace of the same lot in
  the plant's log alone (:func:`chain.trace.trace`, index prebuilt).

Usage: ``.venv/bin/python bench/trace_across.py [--quick]``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from _common import CACHE, Figure, main_for

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.crosslog import LogReference, reference_from_proof, refs_to_json
from chain.entries import Entry, event_payload, parse_entry, reading_payload, sign_entry
from chain.gs1 import gtin_check_digit
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.trace import TraceIndex, trace
from chain.trace_across import LogCopy, trace_across
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.offline_trace import TracedAcross, trace_local_copies

T0 = 1_780_000_000_000
HOUR, DAY = 3_600_000, 86_400_000
BLOCK = 100
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
PLANT, DISTRIBUTOR, SHOP = "plant.example/log", "distributor.example/log", "shop.example/log"
RECALLED_LOT = 42
_WITNESSES = [
    generate_cosigner_key(f"w{i}.example/witness", seed=bytes([80 + i]) * 32) for i in range(2)
]
_POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in _WITNESSES))


@dataclass(frozen=True)
class Size:
    farms: int
    entries: int  # per farm
    birds: int  # per farm
    days: int


FULL = Size(farms=10, entries=100_000, birds=200, days=42)
QUICK = Size(farms=3, entries=3_000, birds=40, days=14)


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def _farm_origin(farm: int) -> str:
    return f"farm{farm:02d}.example/log"


class _Log:
    """One log being written in blocks of :data:`BLOCK` entries."""

    def __init__(self, root: Path, origin: str) -> None:
        self.origin = origin
        self.dir = root / origin.split(".")[0]
        self.dir.mkdir(parents=True)
        skey, self.vkey = note.generate_key(origin, seed=_seed(origin))
        self.store = Store.open(self.dir / "log", origin=origin, sync=False)
        self.writer = LogWriter(self.store, skey)
        self.pending: list[Entry] = []
        self.seqs: dict[str, int] = {}
        trust = TrustRoot(origin, self.vkey, (("admin", _seed("admin")),))
        (self.dir / "trust.json").write_text(trust.to_json())
        (self.dir / "witnesses.json").write_text(_POLICY.to_json())

    def next_index(self) -> int:
        return self.store.entry_count + len(self.pending)

    def add(self, raw: bytes) -> int:
        index = self.next_index()
        self.pending.append(parse_entry(raw))
        if len(self.pending) == BLOCK:
            self.flush()
        return index

    def event(
        self,
        ts: int,
        event: str,
        subjects: Sequence[str],
        refs: Sequence[LogReference] = (),
        **f: object,
    ) -> int:
        kid = self.origin.split(".")[0] + "-staff"
        seq = self.seqs[kid] = self.seqs.get(kid, 0) + 1
        if refs:
            f["refs"] = refs_to_json(refs)
        return self.add(
            sign_entry(event_payload(event, seq, ts, list(subjects), **f), kid, _seed(kid))
        )

    def flush(self) -> None:
        if self.pending:
            self.writer.commit_block(self.pending, max(e.ts for e in self.pending))
            self.pending = []

    def publish(self) -> None:
        self.flush()
        signed = self.writer.sign_checkpoint()
        text = note.parse(signed).text
        signed += "".join(cosign(text, skey, 1_790_000_000) for skey, _ in _WITNESSES)
        self.store.put_checkpoint(self.store.size, signed)

    def close(self) -> None:
        self.store.close()


def _build_farm(args: tuple[Path, int, Size]) -> dict[str, int]:
    """Build farm ``farm``'s log; return each bird's placement index (by bird subject)."""
    root, farm, size = args
    log = _Log(root, _farm_origin(farm))
    birds = [f"bird:{i:04d}" for i in range(size.birds)]
    half = size.birds // 2
    events: list[tuple[int, str, list[str], dict[str, object]]] = []
    for start in range(0, size.birds, 20):
        events.append((T0, "hatched", birds[start : start + 20], {"breed": "Ross 308"}))
    for i, bird in enumerate(birds):
        events.append((T0 + HOUR + i, "placed", [bird], {"barn": "b1" if i < half else "b2"}))
        events.append((T0 + 7 * DAY + i, "vaccinated", [bird], {"vaccine": "ND"}))
    for i in range(0, size.birds, 20):
        events.append(
            (T0 + size.days // 2 * DAY + i, "moved", [birds[i]], {"barn": "b2", "from_barn": "b1"})
        )
    for week in range(size.days // 7):
        for barn in ("b1", "b2"):
            events.append(
                (T0 + week * 7 * DAY + 2 * HOUR, "inspected", [f"barn:{barn}"], {"result": "pass"})
            )
    readings = size.entries - len(events)
    step = size.days * DAY // readings
    kinds = [(f"t{d}", f"barn:b{1 + d % 2}") for d in range(4)]
    timeline: list[tuple[int, int, int]] = [(e[0], 0, n) for n, e in enumerate(events)]
    timeline += [(T0 + 2 * HOUR + r * step, 1, r) for r in range(readings)]
    timeline.sort()
    placed: dict[str, int] = {}
    dev_seq = [0, 0, 0, 0]
    for ts, kind, n in timeline:
        if kind == 0:
            _ts, event, subjects, fields = events[n]
            index = log.event(ts, event, subjects, (), **fields)
            if event in ("placed", "moved"):
                placed[subjects[0]] = index
        else:
            d = n % 4
            dev_seq[d] += 1
            dev, subject = kinds[d]
            value = 20.0 + (n % 50) / 10
            payload = reading_payload(dev, dev_seq[d], ts, "temperature", subject, value, "Cel")
            log.add(sign_entry(payload, dev, _seed(dev)))
    log.publish()
    log.close()
    return placed


def _build(root: Path, size: Size) -> dict[str, object]:
    began = time.perf_counter()
    jobs = [(root, farm, size) for farm in range(size.farms)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        placed = pool.map(_build_farm, jobs)
    print(f"   built {size.farms} farm logs in {time.perf_counter() - began:.0f} s")
    farms = {farm: Store.open(root / f"farm{farm:02d}" / "log") for farm in range(size.farms)}
    plant, dist, shop = (_Log(root, origin) for origin in (PLANT, DISTRIBUTOR, SHOP))
    day = T0 + size.days * DAY
    carcasses: list[str] = []  # bird by bird, each farm's in turn: a lot of 20 mixes 10 farms
    for number in range(size.birds):
        bird = f"bird:{number:04d}"
        for farm, birds in enumerate(placed):
            ref = reference_from_proof(build_entry_proof(farms[farm], birds[bird]), bird)
            carcass = f"carcass:f{farm:02d}-{number:04d}"
            plant.event(day, "slaughtered", [bird], [ref], plant="plant-1", outputs=[carcass])
            carcasses.append(carcass)
    for store in farms.values():
        store.close()
    packed: dict[str, int] = {}
    for k in range(0, len(carcasses), 20):
        lot = f"lot:{GTIN}.L{k // 20:04d}"
        packed[lot] = plant.event(
            day + HOUR, "packed", carcasses[k : k + 20], gtin=GTIN, lot=f"L{k // 20:04d}"
        )
    which = min(RECALLED_LOT, len(packed) - 1)
    recalled = f"lot:{GTIN}.L{which:04d}"
    first_bird, first_farm = divmod(which * 20, size.farms)  # the lot's first carcass
    barn = (_farm_origin(first_farm), "barn:b1" if first_bird < size.birds // 2 else "barn:b2")
    plant.event(day + 8 * HOUR, "recalled", [recalled], reason="Salmonella in the lot's samples")
    plant.publish()
    shipped: dict[str, int] = {}
    for lot, index in packed.items():
        ref = reference_from_proof(build_entry_proof(plant.store, index), lot)
        dist.event(day + 2 * HOUR, "received", [lot], [ref], location="DC 1")
        shipped[lot] = dist.event(day + 3 * HOUR, "shipped", [lot], destination=f"Shop {index % 5}")
    dist.publish()
    for lot, index in shipped.items():
        ref = reference_from_proof(build_entry_proof(dist.store, index), lot)
        shop.event(day + 4 * HOUR, "received", [lot], [ref], location="Shop 1")
    shop.publish()
    for log in (plant, dist, shop):
        log.close()
    origins = [_farm_origin(f) for f in range(size.farms)] + [PLANT, DISTRIBUTOR, SHOP]
    pins = [
        {
            "origin": origin,
            "name": origin.split(".")[0],
            "trust": f"{origin.split('.')[0]}/trust.json",
            "witnesses": f"{origin.split('.')[0]}/witnesses.json",
            "sources": ["http://127.0.0.1:9"],
        }
        for origin in origins
    ]
    (root / "pins.json").write_text(json.dumps({"logs": pins}, indent=1))
    manifest = {
        "recalled": recalled,
        "barn": list(barn),
        "dirs": [o.split(".")[0] for o in origins],
        "seconds": time.perf_counter() - began,
    }
    (root / "built.json").write_text(json.dumps(manifest))
    print(f"   built all {len(origins)} logs in {manifest['seconds']:.0f} s")
    return manifest


def _built(quick: bool) -> tuple[Path, dict[str, object]]:
    size = QUICK if quick else FULL
    root = CACHE / f"trace-across-{size.farms}x{size.entries}"
    marker = root / "built.json"
    if marker.is_file():
        return root, json.loads(marker.read_text())
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root, _build(root, size)


def _unchecked(dirs: Sequence[Path], lot: str) -> Figure:
    """The same lot's trace across logs with every reference taken as holding: the walk alone."""
    with ExitStack() as stack:
        logs: dict[str, LogCopy] = {}
        for d in dirs:
            store = stack.enter_context(Store.open(d / "log"))
            index = TraceIndex(store)
            index.advance(store.entry_count)
            logs[store.origin] = (store, index)
        began = time.perf_counter()
        result = trace_across(logs, lot, ref_status=lambda ref, referrer: None)
        seconds = time.perf_counter() - began
    print(
        f"   the lot across logs, references not checked (the walk alone): {seconds * 1000:.1f} ms"
    )
    assert result.recalled
    return Figure("lot across logs, refs not checked", seconds * 1000, "ms")


def _block_lookups(dirs: Sequence[Path]) -> list[Figure]:
    """``Store.block_of_entry`` on freshly opened stores: its first call, then 1,000 lookups.

    Raw limit, in the same run: what its first call did before (every block
    header parsed into a list), on the same stores, freshly opened too.
    """
    scan = first = lookups = 0.0
    blocks = 0
    for d in dirs:
        with Store.open(d / "log") as store:
            began = time.perf_counter()
            firsts = [store.block(h).first_index for h in range(store.size)]
            scan += time.perf_counter() - began
            blocks += len(firsts)
        with Store.open(d / "log") as store:
            began = time.perf_counter()
            store.block_of_entry(store.entry_count // 2)
            first += time.perf_counter() - began
            step = max(1, store.entry_count // 1000)
            began = time.perf_counter()
            for index in range(0, store.entry_count, step):
                store.block_of_entry(index)
            lookups += (time.perf_counter() - began) / len(range(0, store.entry_count, step))
    per_header = scan / blocks
    print(
        f"   block_of_entry, {len(dirs)} fresh stores ({blocks:,} blocks): first call "
        f"{first * 1000:.1f} ms in all; raw: the old full header scan {scan * 1000:.0f} ms "
        f"({per_header * 1e6:.0f} us a header, so ~{per_header * 1e6:.0f} s at 10^6 blocks); "
        f"then {lookups / len(dirs) * 1e6:.0f} us a lookup"
    )
    return [
        Figure("block_of_entry: old first call (full scan)", scan * 1000, "ms", note="raw"),
        Figure(
            "block_of_entry: first call, binary search",
            first * 1000,
            "ms",
            note=f"{len(dirs)} stores, {blocks:,} blocks, {scan / first:.0f} x faster",
        ),
        Figure("block_of_entry: a lookup, mean", lookups / len(dirs) * 1e6, "us"),
    ]


def run(*, quick: bool = False) -> list[Figure]:
    """Build (or reuse) the logs, time the traces; return the figures."""
    root, manifest = _built(quick)
    lot = str(manifest["recalled"])
    dirs = [root / name for name in manifest["dirs"]]  # type: ignore[attr-defined]
    pins = root / "pins.json"
    entries = 0
    with Store.open(root / "plant" / "log") as plant:
        index = TraceIndex(plant)
        index.advance(plant.entry_count)
        began = time.perf_counter()
        single = trace(plant, lot, index=index)
        raw = time.perf_counter() - began
    for d in dirs:
        with Store.open(d / "log") as store:
            entries += store.entry_count
    print(f"   {len(dirs)} logs, {entries:,} entries")
    print(f"   raw: single-log trace of {lot} in the plant's log: {raw * 1000:.1f} ms")
    assert single.recalled
    figures = [Figure("single-log trace of a lot (raw limit)", raw * 1000, "ms")]
    figures.append(_unchecked(dirs, lot))
    figures.extend(_block_lookups(dirs))
    runs: list[tuple[str, TracedAcross]] = []
    runs.append(("recall a plant lot across logs", trace_local_copies(pins, dirs, lot)))
    barn_log, barn = (str(part) for part in manifest["barn"])  # type: ignore[attr-defined]
    runs.append(
        ("a farm barn downstream across logs", trace_local_copies(pins, dirs, barn, log=barn_log))
    )
    index_s = runs[0][1].index_seconds
    print(
        f"   index build, all {len(dirs)} logs: {index_s:.2f} s "
        f"({entries / index_s:,.0f} entries/s)"
    )
    figures.append(
        Figure(f"index build, {len(dirs)} logs", index_s * 1000, "ms", note=f"{entries:,} entries")
    )
    for name, traced in runs:
        result = traced.result
        assert result.found and result.recalled and not result.failing, name
        shop = sum(1 for i in result.downstream if i.origin == SHOP)
        print(
            f"   {name}: {traced.seconds * 1000:.0f} ms ({traced.seconds / raw:.0f} x raw), "
            f"{len(result.logs())} logs, {len(result.references)} references checked, "
            f"{shop} shop receipts, {len(result.recalls)} recall(s), {len(result.birds)} birds"
        )
        figures.append(
            Figure(
                name,
                traced.seconds * 1000,
                "ms",
                goal="< 1000 ms" if not quick else "",
                met=(traced.seconds < 1.0) if not quick else None,
                note=f"{traced.seconds / raw:.0f} x raw; {len(result.references)} refs checked",
            )
        )
    return figures


if __name__ == "__main__":
    main_for(__doc__.splitlines()[0], run)
