"""The later holders for the federated site's tests: a distributor's log and a shop's.

Built on the plant's log of tests/web/federation_logs.py: the distributor
(origin :data:`DC`) receives two of the plant's packs, each ``received``
naming the plant's ``packed`` entry of that pack by a reference, ships them
on, then recalls the second; the shop (:data:`SHOP`) receives both, each
``received`` naming the distributor's ``shipped``: the first truly, the second (``forged_serial``)
with a hash the distributor's log never held there. Each log is its own
(own key, trust root), written with the real store and log writer, and its
latest checkpoint cosigned by the test witness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from web.federation_logs import PLANT, PLANT_GTIN, witnessed

from chain.crosslog import LogReference, reference_from_proof, refs_to_json
from chain.entries import Entry, event_payload, operator_payload, parse_entry, sign_entry
from chain.gs1 import DigitalLink, pack_subject
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.proof_bundle import build_entry_proof
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

DC = "dc.example/log"
SHOP = "shop.example/log"
DAY = 86_400_000

_Planned = tuple[str, list[str], dict[str, object]]


@dataclass(frozen=True)
class HolderLog:
    """One later holder's log: its ``store`` and ``trust``, and the index of each planned
    event in ``indexes``."""

    store: Store
    trust: TrustRoot
    indexes: list[int]


@dataclass(frozen=True)
class Holders:
    """The distributor's and the shop's logs; ``serials`` the two packs they held (the
    truly received one first), ``forged_serial`` the one the shop's reference forges."""

    dc: HolderLog
    shop: HolderLog
    serials: tuple[str, str]
    forged_serial: str


def pack_of(serial: str) -> str:
    """The plant's pack subject of ``serial``."""
    return pack_subject(DigitalLink(PLANT_GTIN, serial=serial))


def _last_ts(store: Store) -> int:
    return parse_entry(store.entry(store.entry_count - 1)).ts


def _indexed(store: Store, subject: str, event: str) -> int:
    for index in store.subject_events(subject):
        if parse_entry(store.entry(index)).payload.get("event") == event:
            return index
    raise AssertionError(f"no {event} about {subject}")


def _ref(store: Store, index: int, subject: str) -> LogReference:
    latest = store.latest_checkpoint()
    assert latest is not None
    return reference_from_proof(build_entry_proof(store, index, latest[0]), subject)


def build_holder_log(
    root: Path, origin: str, name: str, role: str, seed: int, start: int, plan: list[_Planned]
) -> HolderLog:
    """A log for ``origin`` in ``root`` whose staff member (``role``) signs ``plan``'s events
    (kind, subjects, fields), one a second from ``start``; its checkpoint is cosigned."""
    data_dir = DataDir(root)
    admin = SignerKey.generate(f"{role}-admin", seed=bytes([seed]) * 32)
    staff = SignerKey.generate(f"{role}-op", seed=bytes([seed + 1]) * 32)
    trust = init_data_dir(data_dir, origin, [admin], start)
    store = Store.open(data_dir.log, sync=False)
    writer = LogWriter(store, read_log_signer(data_dir))
    register = operator_payload(
        "register", staff.id, 2, start, pubkey=staff.public_key, roles=[role], name=name
    )
    entries: list[Entry] = [parse_entry(sign_entry(register, admin.id, admin.seed))]
    first = store.entry_count + 1
    ts = start
    for seq, (event, subjects, fields) in enumerate(plan, start=1):
        ts += 1000
        payload = event_payload(event, seq, ts, subjects, **fields)
        entries.append(parse_entry(sign_entry(payload, staff.id, staff.seed)))
    writer.commit_block(entries, ts)
    store.put_checkpoint(store.size, witnessed(writer.sign_checkpoint()))
    return HolderLog(store, trust, list(range(first, first + len(plan))))


def build_holders(root: Path, plant: Store, serials: tuple[str, str]) -> Holders:
    """The distributor's and the shop's logs (see the module docstring) in ``root``."""
    packs = [pack_of(serial) for serial in serials]
    from_plant = [_ref(plant, _indexed(plant, pack, "packed"), pack) for pack in packs]
    dc = build_holder_log(
        root / "dc",
        DC,
        "ColdChain DC",
        "distributor",
        0x51,
        _last_ts(plant) + DAY,
        [
            ("received", packs, {"location": "ColdChain DC", "refs": refs_to_json(from_plant)}),
            ("shipped", packs, {"destination": "Corner Shop", "source": "ColdChain DC"}),
            ("recalled", [packs[1]], {"reason": "Cold chain broken at the DC"}),
        ],
    )
    shipped = dc.indexes[1]
    true_ref = _ref(dc.store, shipped, packs[0])
    real = _ref(dc.store, shipped, packs[1])
    forged = LogReference(
        real.log, real.index, hashlib.sha256(b"never shipped").hexdigest(), real.size,
        real.root, real.subject,
    )  # fmt: skip
    shop = build_holder_log(
        root / "shop",
        SHOP,
        "Corner Shop",
        "retailer",
        0x61,
        _last_ts(dc.store) + DAY,
        [
            ("received", [packs[0]], {"location": "Corner Shop", "refs": refs_to_json([true_ref])}),
            ("received", [packs[1]], {"location": "Corner Shop", "refs": refs_to_json([forged])}),
        ],
    )
    return Holders(dc, shop, serials, serials[1])


def chain_pins(base: dict[str, object], holders: Holders, root: Path, policy: Path) -> dict:
    """``base`` (the farm's and plant's pins document) with the distributor and shop added."""
    logs = list(base["logs"])  # type: ignore[call-overload]
    for origin, name, role, slug, log in (
        (DC, "ColdChain DC", "distributor", "dc", holders.dc),
        (SHOP, "Corner Shop", "shop", "shop", holders.shop),
    ):
        trust = root / f"{slug}-trust.json"
        trust.write_text(log.trust.to_json())
        logs.append(
            {
                "origin": origin,
                "name": name,
                "role": role,
                "slug": slug,
                "trust": str(trust),
                "witnesses": str(policy),
                "sources": [f"http://{slug}.invalid"],
            }
        )
    assert PLANT in {item["origin"] for item in logs}
    return {"logs": logs}
