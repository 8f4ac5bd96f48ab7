"""Two logs for the federated site's tests: the story farm's, and a plant's that names its birds.

The farm is a copy of the story farm's log whose latest checkpoint one
witness cosigned. The plant runs its own log (origin :data:`PLANT`, GS1
company prefix :data:`PLANT_PREFIX`): its staff member slaughters farm birds,
each ``slaughtered`` event naming the farm's ``placed`` entry of the bird by
a reference made from the farm's proof, and packs each carcass as a pack
with serial ``S<bird>``. One reference is forged (``forged_bird``: its hash
names another entry), and one pack (``recalled_serial``) is recalled by the
plant. Everything is written with the real store and log writer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.crosslog import LogReference, reference_from_proof, refs_to_json
from chain.entries import Entry, event_payload, operator_payload, parse_entry, sign_entry
from chain.gs1 import gtin_check_digit
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

PLANT = "plant.example/log"
PLANT_PREFIX = "950600099"
PLANT_GTIN = "0" + PLANT_PREFIX + "001" + str(gtin_check_digit("0" + PLANT_PREFIX + "001"))
WITNESS_SKEY, WITNESS_VKEY = generate_cosigner_key("w1.example/witness", seed=b"\x31" * 32)
POLICY = WitnessPolicy(1, (Witness(WITNESS_VKEY),))
DAY = 86_400_000


@dataclass(frozen=True)
class PlantLog:
    """The plant's log and what is in it: ``serials`` by bird, the forged and recalled ones."""

    store: Store
    trust: TrustRoot
    serials: dict[str, str]
    forged_bird: str
    recalled_serial: str
    refs: dict[str, LogReference]


def cosigned_copy(store: Store, path: Path) -> Store:
    """A copy of ``store`` at ``path`` whose latest checkpoint the test witness cosigned."""
    store.copy_to(path)
    copy = Store.open(path)
    latest = copy.latest_checkpoint()
    assert latest is not None
    size, signed = latest
    copy.put_checkpoint(size, witnessed(signed))
    return copy


def witnessed(signed: str) -> str:
    """``signed`` with the test witness's cosignature added."""
    return signed + cosign(note.parse(signed).text, WITNESS_SKEY, 1_780_000_000)


def placed_index(farm: Store, bird: str) -> int:
    """The farm's first ``placed`` entry about ``bird``."""
    for index in farm.subject_events(f"bird:{bird}"):
        entry = parse_entry(farm.entry(index))
        if entry.payload.get("event") == "placed":
            return index
    raise AssertionError(f"bird {bird} was never placed")


def build_plant_log(
    root: Path, farm: Store, birds: list[str], *, forged_bird: str, recalled_bird: str
) -> PlantLog:
    """The plant's log in ``root`` (see the module docstring); its checkpoint is cosigned."""
    data_dir = DataDir(root)
    admin = SignerKey.generate("plant-admin", seed=b"\x41" * 32)
    staff = SignerKey.generate("plant-op", seed=b"\x42" * 32)
    latest = farm.latest_checkpoint()
    assert latest is not None
    farm_size = latest[0]
    start = max(parse_entry(farm.entry(farm.entry_count - 1)).ts, 1_780_000_000_000) + DAY
    trust = init_data_dir(data_dir, PLANT, [admin], start)
    store = Store.open(data_dir.log, sync=False)
    writer = LogWriter(store, read_log_signer(data_dir))
    register = operator_payload(
        "register", staff.id, 2, start, pubkey=staff.public_key, roles=["plant"], name="Riverside"
    )
    entries: list[Entry] = [parse_entry(sign_entry(register, admin.id, admin.seed))]
    seq, ts = 0, start + 1000
    serials: dict[str, str] = {}
    refs: dict[str, LogReference] = {}

    def sign(event: str, subjects: list[str], **fields: object) -> None:
        nonlocal seq, ts
        seq, ts = seq + 1, ts + 1000
        payload = event_payload(event, seq, ts, subjects, **fields)
        entries.append(parse_entry(sign_entry(payload, staff.id, staff.seed)))

    for bird in birds:
        proof = build_entry_proof(farm, placed_index(farm, bird), farm_size)
        ref = reference_from_proof(proof, f"bird:{bird}")
        if bird == forged_bird:  # the plant claims an entry the farm never showed there
            ref = LogReference(
                ref.log, ref.index, hashlib.sha256(b"never placed").hexdigest(), ref.size,
                ref.root, ref.subject,
            )  # fmt: skip
        refs[bird] = ref
        carcass = f"carcass:P{bird}"
        sign(
            "slaughtered",
            [f"bird:{bird}"],
            plant="Riverside",
            outputs=[carcass],
            refs=refs_to_json([ref]),
        )
        serials[bird] = f"S{bird}"
        sign("packed", [carcass], gtin=PLANT_GTIN, serial=serials[bird], plant="Riverside")
    recalled = f"pack:{PLANT_GTIN}.{serials[recalled_bird]}"
    sign("recalled", [recalled], reason="Salmonella found at the plant")
    writer.commit_block(entries, ts)
    store.put_checkpoint(store.size, witnessed(writer.sign_checkpoint()))
    return PlantLog(store, trust, serials, forged_bird, serials[recalled_bird], refs)


def pins_document(
    farm_trust: Path, plant_trust: Path, policy_file: Path, *, farm_url: str, plant_url: str
) -> dict[str, object]:
    """A pins file's content for the farm (``farm_url``) and the plant (``plant_url``)."""
    return {
        "logs": [
            {
                "origin": TrustRoot.from_json(farm_trust.read_text()).origin,
                "name": "Green Valley Farm",
                "role": "farm",
                "slug": "farm",
                "trust": str(farm_trust),
                "witnesses": str(policy_file),
                "sources": [farm_url],
            },
            {
                "origin": PLANT,
                "name": "Riverside Processing",
                "role": "plant",
                "slug": "plant",
                "trust": str(plant_trust),
                "witnesses": str(policy_file),
                "sources": [plant_url],
                "gs1_prefixes": [PLANT_PREFIX],
            },
        ]
    }


def write_policy(path: Path) -> Path:
    """The test witness policy (quorum 1 of the one test witness) as a witnesses.json."""
    path.write_text(json.dumps({"quorum": 1, "witnesses": [{"vkey": WITNESS_VKEY}]}))
    return path
