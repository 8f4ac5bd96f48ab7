"""Small real logs of a supply chain for trace tests: two farms, a plant, a distributor, a shop.

Each party's log is a real LevelDB store in a gateway data directory
(``<root>/<slug>/log``, ``trust.json``), written with :class:`chain.log.LogWriter`
one event per block, and published under checkpoints cosigned by two
witnesses. A ``pins.json`` names all of them. The story::

    farm A  hatched bird:0001, bird:0002; placed both in barn b1; a reading
    farm B  hatched bird:0001; placed it in barn b1
    plant   slaughtered A's bird:0001 -> carcass:a1, B's bird:0001 -> carcass:b1,
            A's bird:0002 -> carcass:a2 (each with a ref to the farm's placement);
            a forged slaughter of bird:0009 claiming A's placement of bird:0001
            (another entry's hash) -> carcass:f9;
            packed carcass:a1 + carcass:b1 -> LOT, carcass:a2 -> PACK, carcass:f9 -> FORGED;
            recalled LOT; recalled A's bird:0002 (a reference to A's hatch of both birds)
    distributor  received LOT and PACK (refs to the plant's packings), shipped both
    shop    received LOT and PACK (refs to the distributor's shipments)

``rewrite_farm_b=True`` builds farm B as it shows itself after a rollback:
the same entries up to the placement, then another history, so that the
plant's reference (made at the older checkpoint) no longer holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.crosslog import LogReference, PinnedLog, reference_from_proof, refs_to_json
from chain.entries import event_payload, parse_entry, reading_payload, sign_entry
from chain.gs1 import gtin_check_digit
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir

T0 = 1_780_000_000_000
HOUR = 3_600_000
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
LOT = f"lot:{GTIN}.L1"
PACK = f"pack:{GTIN}.S1"
FORGED = f"pack:{GTIN}.S9"
WITNESS_KEYS = [
    generate_cosigner_key(f"w{i}.example/witness", seed=bytes([60 + i]) * 32) for i in range(2)
]
POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in WITNESS_KEYS))

FARM_A, FARM_B = "farm-a.example/log", "farm-b.example/log"
PLANT, DISTRIBUTOR, SHOP = "plant.example/log", "distributor.example/log", "shop.example/log"
_ROLES = {FARM_A: "farm", FARM_B: "farm", PLANT: "plant"} | {
    DISTRIBUTOR: "distributor",
    SHOP: "shop",
}


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


@dataclass
class PartyLog:
    """One party's log being written: a store, its writer, its signers' next seqs."""

    origin: str
    data_dir: DataDir
    store: Store
    writer: LogWriter
    vkey: str
    seqs: dict[str, int] = field(default_factory=dict)
    clock: int = T0

    @classmethod
    def create(cls, root: Path, origin: str) -> PartyLog:
        data_dir = DataDir(root / origin.split(".")[0])
        skey, vkey = note.generate_key(origin, seed=_seed(origin))
        data_dir.root.mkdir(parents=True)
        store = Store.open(data_dir.log, origin=origin, sync=False)
        log = cls(origin, data_dir, store, LogWriter(store, skey), vkey)
        data_dir.trust.write_text(log.trust().to_json())
        data_dir.witnesses.write_text(POLICY.to_json())
        return log

    def trust(self) -> TrustRoot:
        return TrustRoot(self.origin, self.vkey, (("admin", _seed("admin")),))

    def add(self, raw: bytes) -> int:
        """Commit ``raw`` as a block of its own; return its index."""
        entry = parse_entry(raw)
        self.clock = max(self.clock, entry.ts) + 1
        return self.writer.commit_block([entry], self.clock).first_index

    def event(
        self,
        ts: int,
        event: str,
        subjects: Sequence[str],
        refs: Sequence[LogReference] = (),
        **fields: object,
    ) -> int:
        kid = self.origin.split(".")[0] + "-staff"
        seq = self.seqs[kid] = self.seqs.get(kid, 0) + 1
        if refs:
            fields["refs"] = refs_to_json(refs)
        return self.add(
            sign_entry(event_payload(event, seq, ts, list(subjects), **fields), kid, _seed(kid))
        )

    def reading(self, ts: int, value: float) -> int:
        seq = self.seqs["t1"] = self.seqs.get("t1", 0) + 1
        payload = reading_payload("t1", seq, ts, "temperature", "barn:b1", value, "Cel")
        return self.add(sign_entry(payload, "t1", _seed("t1")))

    def publish(self) -> None:
        """Sign the checkpoint of the log as it is, cosigned by both witnesses."""
        signed = self.writer.sign_checkpoint()
        text = note.parse(signed).text
        signed += "".join(cosign(text, skey, 1_780_000_000) for skey, _ in WITNESS_KEYS)
        self.store.put_checkpoint(self.store.size, signed)

    def ref(self, index: int, subject: str) -> LogReference:
        """The reference a writer makes to entry ``index`` at the latest checkpoint."""
        return reference_from_proof(build_entry_proof(self.store, index), subject)


@dataclass(frozen=True)
class SupplyChain:
    """The built logs (closed), where they are, and the indexes of the story's entries."""

    dirs: dict[str, DataDir]
    pins_file: Path
    at: dict[str, int]

    def pins(self) -> dict[str, PinnedLog]:
        return {
            origin: PinnedLog(TrustRoot.from_json(d.trust.read_text()), POLICY)
            for origin, d in self.dirs.items()
        }


def build_supply_chain(root: Path, *, rewrite_farm_b: bool = False) -> SupplyChain:
    """Build the story of the module docstring under ``root``; stores are closed on return."""
    logs = {origin: PartyLog.create(root, origin) for origin in _ROLES}
    a, b, plant, dist, shop = (logs[o] for o in _ROLES)
    at: dict[str, int] = {}
    try:
        at["a_hatched"] = a.event(T0, "hatched", ["bird:0001", "bird:0002"], breed="Ross 308")
        at["a_placed_1"] = a.event(T0 + HOUR, "placed", ["bird:0001"], barn="b1")
        at["a_placed_2"] = a.event(T0 + HOUR, "placed", ["bird:0002"], barn="b1")
        a.reading(T0 + 2 * HOUR, 21.5)
        a.publish()
        b.event(T0, "hatched", ["bird:0001"], breed="Ross 308")
        at["b_placed_1"] = b.event(T0 + HOUR, "placed", ["bird:0001"], barn="b1")
        b.reading(T0 + 2 * HOUR, 20.0)
        b.publish()
        day = T0 + 24 * HOUR
        plant_at = {"plant": "plant-1"}
        at["slaughter_a1"] = plant.event(
            day,
            "slaughtered",
            ["bird:0001"],
            [a.ref(at["a_placed_1"], "bird:0001")],
            outputs=["carcass:a1"],
            **plant_at,
        )
        at["slaughter_b1"] = plant.event(
            day,
            "slaughtered",
            ["bird:0001"],
            [b.ref(at["b_placed_1"], "bird:0001")],
            outputs=["carcass:b1"],
            **plant_at,
        )
        at["slaughter_a2"] = plant.event(
            day,
            "slaughtered",
            ["bird:0002"],
            [a.ref(at["a_placed_2"], "bird:0002")],
            outputs=["carcass:a2"],
            **plant_at,
        )
        real = a.ref(at["a_placed_1"], "bird:0001")
        forged = LogReference(real.log, real.index, "ab" * 32, real.size, real.root, "bird:0009")
        at["slaughter_f9"] = plant.event(
            day, "slaughtered", ["bird:0009"], [forged], outputs=["carcass:f9"], **plant_at
        )
        at["packed_lot"] = plant.event(
            day + HOUR, "packed", ["carcass:a1", "carcass:b1"], gtin=GTIN, lot="L1"
        )
        at["packed_pack"] = plant.event(
            day + HOUR, "packed", ["carcass:a2"], gtin=GTIN, serial="S1"
        )
        at["packed_forged"] = plant.event(
            day + HOUR, "packed", ["carcass:f9"], gtin=GTIN, serial="S9"
        )
        at["recall"] = plant.event(day + 5 * HOUR, "recalled", [LOT], reason="label error")
        at["recall_bird"] = plant.event(
            day + 6 * HOUR,
            "recalled",
            ["bird:0002"],
            [a.ref(at["a_hatched"], "bird:0002")],
            reason="residue found",
        )
        plant.publish()
        for subject, packing in ((LOT, "packed_lot"), (PACK, "packed_pack")):
            at[f"dist_received_{subject}"] = dist.event(
                day + 2 * HOUR,
                "received",
                [subject],
                [plant.ref(at[packing], subject)],
                location="DC 1",
            )
            at[f"dist_shipped_{subject}"] = dist.event(
                day + 3 * HOUR, "shipped", [subject], destination="Shop 12"
            )
        dist.publish()
        for subject in (LOT, PACK):
            at[f"shop_received_{subject}"] = shop.event(
                day + 4 * HOUR,
                "received",
                [subject],
                [dist.ref(at[f"dist_shipped_{subject}"], subject)],
                location="Shop 12",
            )
        shop.publish()
        if rewrite_farm_b:
            _rewrite(b)
    finally:
        for log in logs.values():
            log.store.close()
    pins_file = root / "pins.json"
    _write_pins(pins_file, {o: log.data_dir for o, log in logs.items()})
    return SupplyChain({o: log.data_dir for o, log in logs.items()}, pins_file, at)


def _rewrite(farm: PartyLog) -> None:
    """Farm B rolls its log back to before its reading, and writes another history."""
    path = farm.data_dir.log
    keep = farm.store.entry_count - 1  # everything but the reading
    raws = [farm.store.entry(i) for i in range(keep)]
    farm.store.close()
    for child in sorted(path.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    skey, _vkey = note.generate_key(farm.origin, seed=_seed(farm.origin))
    farm.store = Store.open(path, origin=farm.origin, sync=False)
    farm.writer = LogWriter(farm.store, skey)
    farm.clock = T0
    for raw in raws:
        farm.add(raw)
    farm.reading(T0 + 3 * HOUR, 35.0)  # another reading where the first one was
    farm.reading(T0 + 4 * HOUR, 36.0)
    farm.publish()


def _write_pins(path: Path, dirs: dict[str, DataDir]) -> None:
    logs = [
        {
            "origin": origin,
            "name": origin.split(".")[0],
            "role": _ROLES[origin],
            "trust": str(d.trust.relative_to(path.parent)),
            "witnesses": str(d.witnesses.relative_to(path.parent)),
            "sources": ["http://127.0.0.1:9"],
            "gs1_prefixes": ["950600013"] if origin == PLANT else [],
        }
        for origin, d in dirs.items()
    ]
    path.write_text(json.dumps({"logs": logs}, indent=1))
