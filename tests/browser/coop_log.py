"""A small log of two packs for the co-op's verifier page, cosigned by a given witness.

Pack ``GOOD`` has a ``shipped`` event signed by a plant operator (allowed); pack
``NO_ROLE`` has a ``shipped`` event signed by a vet, a role that may not
sign it (chain/registry.py EVENT_ROLES); pack ``INTRUDED`` has a
``recalled`` event signed by :data:`INTRUDER`, never registered. A gateway
would refuse both, and a verifier must too. Pack ``REVOKED`` has a ``shipped``
event signed by a distributor after its revocation: refused, unless a site
hides the revocation (and then the registry proof fails). The latest
checkpoint carries the cosignature of the witness whose signer key is given.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from chain import checkpoint, note
from chain.entries import Entry, event_payload, operator_payload, parse_entry, sign_entry
from chain.gs1 import DigitalLink, pack_subject
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer
from readapi import LogInfo

ORIGIN = "coop-test.example/log"
START_MS = 1_767_225_600_000
GOOD = DigitalLink("09506000134352", serial="S1")
NO_ROLE = DigitalLink("09506000134352", serial="S2")
INTRUDED = DigitalLink("09506000134352", serial="S3")
REVOKED = DigitalLink("09506000134352", serial="S4")


def _key(name: str) -> SignerKey:
    return SignerKey.generate(name, seed=random.Random(name).randbytes(32))


INTRUDER = _key("intruder")
"""A key the log never registered: only a site lying about its administrators could vouch."""


@dataclass
class CoopLog:
    """The built log, open; ``entries`` maps a case name to its global index."""

    trust: TrustRoot
    store: Store
    witnesses: tuple[str, ...]
    entries: dict[str, int]

    @property
    def source(self) -> LogInfo:
        trust = self.trust
        return LogInfo(trust.origin, trust.log_key, self.witnesses, self.store, trust.admins)

    def close(self) -> None:
        self.store.close()


def build_coop_log(root: Path, witness_skey: str, witness_vkey: str) -> CoopLog:
    """Build the log under ``root``; its checkpoint cosigned with ``witness_skey``."""
    admin, plant, vet = _key("farm-admin"), _key("plant-op"), _key("vet")
    dist = _key("dist-op")
    trust = init_data_dir(DataDir(root), ORIGIN, [admin], START_MS - 3_600_000)
    store = Store.open(DataDir(root).log)
    writer = LogWriter(store, read_log_signer(DataDir(root)))
    seqs = {"farm-admin": 1}
    entries: dict[str, int] = {}
    pending: list[Entry] = []

    def sign(name: str, payload: dict[str, object], key: SignerKey) -> None:
        entries[name] = store.entry_count + len(pending)
        pending.append(parse_entry(sign_entry(payload, key.id, key.seed)))

    def seq(signer: str) -> int:
        seqs[signer] = seqs.get(signer, 0) + 1
        return seqs[signer]

    t = START_MS
    for op, roles in ((plant, ["plant"]), (vet, ["vet"]), (dist, ["distributor"])):
        payload = operator_payload(
            "register", op.id, seq(admin.id), t - 60_000, pubkey=op.public_key, roles=roles
        )
        sign(f"{op.id}_registered", payload, admin)
    writer.commit_block(pending, t)
    pending.clear()
    sign("dist_revoked", operator_payload("revoke", dist.id, seq(admin.id), t - 30_000), admin)
    writer.commit_block(pending, t)
    pending.clear()
    good, bad = pack_subject(GOOD), pack_subject(NO_ROLE)
    shipped = {"destination": "shop:s1"}
    sign("good_event", event_payload("shipped", seq(plant.id), t, [good], **shipped), plant)
    sign("no_role", event_payload("shipped", seq(vet.id), t, [bad], **shipped), vet)
    recall = event_payload("recalled", 1, t, [pack_subject(INTRUDED)], reason="test")
    sign("intruder", recall, INTRUDER)
    late = event_payload("shipped", seq(dist.id), t, [pack_subject(REVOKED)], **shipped)
    sign("revoked_event", late, dist)
    writer.commit_block(pending, t)
    writer.sign_checkpoint()
    size, signed = store.latest_checkpoint() or (0, "")
    line = checkpoint.cosign(note.parse(signed).text, witness_skey, int(time.time()) - 60)
    store.put_checkpoint(size, signed + line)
    return CoopLog(trust, store, (witness_vkey,), entries)
