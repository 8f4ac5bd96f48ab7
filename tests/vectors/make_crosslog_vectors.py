"""Write tests/vectors/crosslog.json: cross-log references every verifier must decide alike.

    .venv/bin/python tests/vectors/make_crosslog_vectors.py

Each case is a reference (a ``refs`` item), the evidence the other log
serves for it (its ``GET /api/v1/entries/<index>/proof`` body and its
``GET /api/v1/consistency`` body, or null), the referencing event (kind,
subjects, ts) and the verdict: ``reason`` null for a reference that holds
(with what the check returns), else the ``ref_*`` reason of
chain.crosslog.check_reference. Each of ``heads`` is a reference and the
other log's current checkpoint (its ``GET /checkpoint``), with the verdict
of chain.crosslog.check_head_covers. ``pins`` are the logs as the verifier pinned
them. A farm's log and a plant's log are built in memory with the pure
builders (block headers, RFC 6962 trees, signed and cosigned checkpoints),
keys from fixed seeds, so the file is the same on every run.
tests/unit/chain/test_crosslog_vectors.py runs the file through chain/,
tests/browser/test_crosslog_browser.py through static/verify/crosslog.js.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from chain import merkle, note  # noqa: E402
from chain.block import BlockHeader, build_header  # noqa: E402
from chain.checkpoint import (  # noqa: E402
    Checkpoint,
    cosign,
    generate_cosigner_key,
    sign_checkpoint,
)
from chain.crosslog import LogReference, reference_from_proof  # noqa: E402
from chain.entries import event_payload, reading_payload, sign_entry  # noqa: E402
from chain.gs1 import gtin_check_digit  # noqa: E402
from chain.proof_bundle import AuditPath, EntryProof, build_entry_proof  # noqa: E402

VECTORS = REPO / "tests" / "vectors" / "crosslog.json"

FARM = "farm-a.example/log"
PLANT = "plant.example/log"
T0 = 1_780_000_000_000
COSIGNED_AT = 1_780_000_000
WITNESSES = [
    generate_cosigner_key(f"w{i}.example/witness", seed=bytes([40 + i]) * 32) for i in range(2)
]
COSIGNERS = tuple(skey for skey, _ in WITNESSES)
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
PACK = f"pack:{GTIN}.S0001"
LOT = f"lot:{GTIN}.L7"


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def _event(kid: str, event: str, seq: int, ts: int, subjects: list[str], **fields: object) -> bytes:
    return sign_entry(event_payload(event, seq, ts, subjects, **fields), kid, _seed(kid))


class MemoryLog:
    """A log held in lists: a :class:`chain.proof_bundle.ProofSource` without LevelDB."""

    def __init__(self, origin: str, key_name: str | None = None) -> None:
        self.origin = origin
        self.skey, self.vkey = note.generate_key(origin, seed=_seed(key_name or origin))
        self.headers: list[BlockHeader] = []
        self.entries: list[bytes] = []
        self.notes: dict[int, str] = {}

    def append(self, *entries: bytes) -> int:
        """Close a block of ``entries``; return the index of its first entry."""
        prev = self.headers[-1] if self.headers else None
        header = build_header(log=self.origin, prev=prev, entries=entries, closed_at=T0)
        self.headers.append(header)
        self.entries.extend(entries)
        return header.first_index

    def publish(self, cosigners: Sequence[str] = COSIGNERS, size: int | None = None) -> str:
        """Sign (and have ``cosigners`` cosign) the checkpoint of ``size`` blocks (all)."""
        size = len(self.headers) if size is None else size
        checkpoint = Checkpoint(self.origin, size, self.root(size))
        signed = sign_checkpoint(checkpoint, self.skey)
        signed += "".join(cosign(checkpoint.to_text(), key, COSIGNED_AT) for key in cosigners)
        self.notes[size] = signed
        return signed

    def root(self, size: int) -> bytes:
        return merkle.root_hash([h.raw for h in self.headers[:size]])

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof([h.raw for h in self.headers[:size2]], size1)

    def fork(self, keep: int) -> MemoryLog:
        """The same log (same key) with only its first ``keep`` blocks: to be rewritten."""
        forked = type(self)(self.origin)
        forked.skey, forked.vkey = self.skey, self.vkey
        forked.headers = self.headers[:keep]
        forked.entries = self.entries[: self.headers[keep - 1].next_index]
        return forked

    def ref(self, index: int, subject: str, size: int | None = None) -> LogReference:
        """The reference a writer makes from this log's checkpoint of ``size`` (the latest)."""
        return reference_from_proof(build_entry_proof(self, index, size), subject)

    def evidence(self, ref: LogReference, *, consistent: bool = True) -> dict[str, Any]:
        """What this log serves for ``ref``: the proof at its latest checkpoint, and consistency."""
        proof = build_entry_proof(self, ref.index)
        size = proof.block_path.tree_size
        hashes = self.consistency(ref.size, size) if consistent and size > ref.size else []
        return _evidence(proof, hashes if size != ref.size else None)

    # -- ProofSource ----------------------------------------------------------------

    def latest_checkpoint(self) -> tuple[int, str] | None:
        size = max(self.notes, default=None)
        return None if size is None else (size, self.notes[size])

    def checkpoint(self, size: int) -> str:
        return self.notes[size]

    def entry(self, index: int) -> bytes:
        return self.entries[index]

    def entry_proof(self, index: int) -> tuple[int, list[bytes]]:
        header = next(h for h in self.headers if h.first_index <= index < h.next_index)
        block = self.entries[header.first_index : header.next_index]
        return header.height, merkle.inclusion_proof(block, index - header.first_index)

    def block_raw(self, height: int) -> bytes:
        return self.headers[height].raw

    def inclusion_proof(self, height: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof([h.raw for h in self.headers[:size]], height)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _evidence(proof: EntryProof, consistency: list[bytes] | None) -> dict[str, Any]:
    """The two read API bodies: the proof bundle, and the consistency proof (None: not needed)."""
    body = None if consistency is None else {"hashes": [_b64(h) for h in consistency]}
    return {"proof": json.loads(proof.to_json()), "consistency": body}


def _referrer(event: str, subjects: list[str], ts: int) -> dict[str, Any]:
    return {"event": event, "subjects": subjects, "ts": ts}


SLAUGHTER = _referrer("slaughtered", ["bird:0001"], T0 + 10_000)


class Chain:
    """A farm's log (hatch, placement and a reading, vaccination) and a plant's log."""

    def __init__(self) -> None:
        farm, plant = MemoryLog(FARM), MemoryLog(PLANT)
        self.hatched = farm.append(
            _event("farmer", "hatched", 1, T0, ["bird:0001", "bird:0002"], breed="Ross 308")
        )
        self.placed = farm.append(
            _event("farmer", "placed", 2, T0 + 1000, ["bird:0001"], barn="b1"),
            sign_entry(
                reading_payload("t1", 1, T0 + 2000, "temperature", "barn:b1", 21.5, "Cel"),
                "t1",
                _seed("t1"),
            ),
        )
        self.reading = self.placed + 1
        self.vaccinated = farm.append(
            _event("vet", "vaccinated", 1, T0 + 3000, ["bird:0001"], vaccine="ND")
        )
        farm.publish()  # size 3: the checkpoint the plant sees
        slaughter = {"plant": "plant-1", "outputs": ["carcass:0001", "carcass:0002"]}
        self.slaughtered = plant.append(
            _event("plant", "slaughtered", 1, T0 + 10_000, ["bird:0001"], **slaughter)
        )
        self.packed = plant.append(
            _event("plant", "packed", 2, T0 + 11_000, ["carcass:0001"], gtin=GTIN, serial="S0001")
        )
        self.lot = plant.append(
            _event("plant", "packed", 3, T0 + 12_000, ["carcass:0002"], gtin=GTIN, lot="L7")
        )
        plant.publish()
        self.farm, self.plant = farm, plant

    def pins(self) -> dict[str, Any]:
        witnesses = [vkey for _, vkey in WITNESSES]
        return {
            log.origin: {"vkey": log.vkey, "witnesses": witnesses, "quorum": 2}
            for log in (self.farm, self.plant)
        }


def _case(
    name: str,
    reason: str | None,
    ref: LogReference,
    evidence: dict[str, Any],
    referrer: dict[str, Any],
    **checked: object,
) -> dict[str, Any]:
    case = {"name": name, "reason": reason, "ref": ref.to_json(), "evidence": evidence}
    return case | {"referrer": referrer} | ({"checked": checked} if checked else {})


def holding(c: Chain) -> list[dict[str, Any]]:
    """References that hold: at write time, after the other log grew, each kind of subject."""
    cosigners = sorted(vkey.split("+", 1)[0] for _, vkey in WITNESSES)
    placed = c.farm.ref(c.placed, "bird:0001")
    hatched = c.farm.ref(c.hatched, "bird:0001")
    grown = c.farm.fork(3)
    grown.append(_event("farmer", "moved", 3, T0 + 20_000, ["bird:0002"], barn="b2"))
    grown.append(_event("farmer", "died", 4, T0 + 30_000, ["bird:0002"]))
    grown.publish()
    pack = c.plant.ref(c.packed, PACK)
    lot = c.plant.ref(c.lot, LOT)
    carcass = c.plant.ref(c.slaughtered, "carcass:0001")
    receipt = _referrer("received", [PACK, LOT], T0 + 50_000)
    return [
        _case(
            "slaughter_names_placement",
            None,
            placed,
            c.farm.evidence(placed),
            SLAUGHTER,
            event="placed",
            size=3,
            cosigners=cosigners,
        ),
        _case(
            "slaughter_names_hatch_after_growth",
            None,
            hatched,
            grown.evidence(hatched),
            SLAUGHTER,
            event="hatched",
            size=5,
            cosigners=cosigners,
        ),
        _case(
            "receipt_names_pack",
            None,
            pack,
            c.plant.evidence(pack),
            receipt,
            event="packed",
            size=3,
            cosigners=cosigners,
        ),
        _case(
            "receipt_names_lot",
            None,
            lot,
            c.plant.evidence(lot),
            receipt,
            event="packed",
            size=3,
            cosigners=cosigners,
        ),
        _case(
            "packing_names_slaughter_output",
            None,
            carcass,
            c.plant.evidence(carcass),
            _referrer("packed", ["carcass:0001"], T0 + 60_000),
            event="slaughtered",
            size=3,
            cosigners=cosigners,
        ),
    ]


def untrusted(c: Chain) -> list[dict[str, Any]]:
    """References the pins refuse: an unpinned log, another key, too few cosigners."""
    ref = c.farm.ref(c.placed, "bird:0001")
    impostor = MemoryLog(FARM, key_name="impostor")
    impostor.headers, impostor.entries = c.farm.headers, c.farm.entries
    impostor.publish()
    lonely = c.farm.fork(3)
    lonely.publish(cosigners=COSIGNERS[:1])
    tampered = c.farm.fork(3)
    signed = tampered.publish()
    line = signed.rstrip("\n").rsplit("\n", 1)[1]
    name, sig = line.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1  # the same key ID, a signature that does not verify
    tampered.notes[3] = signed.replace(line, f"{name} {_b64(bytes(raw))}")
    elsewhere = dataclasses.replace(ref, log="shop.example/log")
    return [
        _case("unpinned_log", "ref_unknown_log", elsewhere, c.farm.evidence(ref), SLAUGHTER),
        _case("impostor_key", "ref_bad_checkpoint", ref, impostor.evidence(ref), SLAUGHTER),
        _case("one_cosigner_of_two", "ref_not_cosigned", ref, lonely.evidence(ref), SLAUGHTER),
        _case("invalid_cosignature", "ref_not_cosigned", ref, tampered.evidence(ref), SLAUGHTER),
    ]


def rewritten(c: Chain) -> list[dict[str, Any]]:
    """The other log no longer shows what was referenced, or never showed it."""
    ref = c.farm.ref(c.placed, "bird:0001")  # seen at size 3
    behind = c.farm.fork(2)
    behind.publish()
    forked = c.farm.fork(2)  # block 2 rewritten; the placement itself survives
    forked.append(_event("vet", "inspected", 1, T0 + 3000, ["bird:0001"], result="pass"))
    forked.append(_event("farmer", "died", 3, T0 + 4000, ["bird:0002"]))
    forked.publish()
    same_size = c.farm.fork(2)
    same_size.append(_event("vet", "inspected", 1, T0 + 3000, ["bird:0001"], result="pass"))
    same_size.publish()
    grown = c.farm.fork(3)
    grown.append(_event("farmer", "died", 3, T0 + 40_000, ["bird:0002"]))
    grown.publish()
    # The plant claims a bird the farm never placed: a placement of its own
    # making, in a tree of its own making, at the index of the real one.
    never = _event("farmer", "placed", 2, T0 + 1000, ["bird:0009"], barn="b1")
    dream = c.farm.fork(1)
    dream.append(never, c.farm.entries[c.reading])
    dream.append(c.farm.entries[c.vaccinated])
    dream.publish()
    invented = dream.ref(c.placed, "bird:0009")
    forged_hash = dataclasses.replace(ref, entry_hash=hashlib.sha256(never).hexdigest())
    other_entry = _evidence(build_entry_proof(c.farm, c.hatched), None)
    nine = _referrer("slaughtered", ["bird:0009"], T0 + 10_000)
    return [
        _case("log_shows_smaller_tree", "ref_rolled_back", ref, behind.evidence(ref), SLAUGHTER),
        _case("log_forked_and_grew", "ref_rolled_back", ref, forked.evidence(ref), SLAUGHTER),
        _case("log_forked_same_size", "ref_rolled_back", ref, same_size.evidence(ref), SLAUGHTER),
        _case(
            "grown_without_consistency",
            "ref_rolled_back",
            ref,
            grown.evidence(ref, consistent=False),
            SLAUGHTER,
        ),
        _case(
            "placement_never_made", "ref_entry_mismatch", invented, c.farm.evidence(invented), nine
        ),
        _case(
            "forged_hash_real_root",
            "ref_entry_mismatch",
            forged_hash,
            c.farm.evidence(forged_hash),
            SLAUGHTER,
        ),
        _case("evidence_for_another_entry", "ref_entry_mismatch", ref, other_entry, SLAUGHTER),
    ]


def unproven(c: Chain) -> list[dict[str, Any]]:
    """Proofs that do not reach the checkpoint, and an entry the writer cannot have seen."""
    ref = c.farm.ref(c.placed, "bird:0001")
    proof = build_entry_proof(c.farm, c.placed)
    bent = AuditPath(proof.entry_path.leaf_index, proof.entry_path.tree_size, (b"\x00" * 32,))
    wrong_block = dataclasses.replace(proof, header=c.farm.headers[0].raw)
    at_two = c.farm.fork(3)
    at_two.publish(size=2)
    seen = at_two.ref(c.placed, "bird:0001", 2)
    vaccination = c.farm.ref(c.vaccinated, "bird:0001")
    beyond = dataclasses.replace(seen, index=c.vaccinated, entry_hash=vaccination.entry_hash)
    beyond_evidence = _evidence(build_entry_proof(c.farm, c.vaccinated), c.farm.consistency(2, 3))
    vet = _referrer("vaccinated", ["bird:0001"], T0 + 9000)
    return [
        _case(
            "bent_entry_path",
            "ref_not_included",
            ref,
            _evidence(dataclasses.replace(proof, entry_path=bent), None),
            SLAUGHTER,
        ),
        _case(
            "another_blocks_header",
            "ref_not_included",
            ref,
            _evidence(wrong_block, None),
            SLAUGHTER,
        ),
        _case("entry_beyond_seen_size", "ref_beyond_seen", beyond, beyond_evidence, vet),
    ]


def misnamed(c: Chain) -> list[dict[str, Any]]:
    """References between the wrong kinds of event, subjects, or order in time."""
    vaccination = c.farm.ref(c.vaccinated, "bird:0001")
    reading = c.farm.ref(c.reading, "barn:b1")
    placed = c.farm.ref(c.placed, "bird:0001")
    placed_two = c.farm.ref(c.placed, "bird:0002")
    hatched_two = c.farm.ref(c.hatched, "bird:0002")
    garbage = MemoryLog(FARM)
    garbage.append(b"not.a.jws")
    garbage.publish()
    unreadable = garbage.ref(0, "bird:0001")
    return [
        _case(
            "slaughter_names_vaccination",
            "ref_wrong_kind",
            vaccination,
            c.farm.evidence(vaccination),
            SLAUGHTER,
        ),
        _case(
            "slaughter_names_reading",
            "ref_wrong_kind",
            reading,
            c.farm.evidence(reading),
            _referrer("slaughtered", ["barn:b1"], T0 + 10_000),
        ),
        _case(
            "move_may_not_reference",
            "ref_wrong_kind",
            placed,
            c.farm.evidence(placed),
            _referrer("moved", ["bird:0001"], T0 + 10_000),
        ),
        _case(
            "unreadable_entry",
            "ref_wrong_kind",
            unreadable,
            garbage.evidence(unreadable),
            SLAUGHTER,
        ),
        _case(
            "entry_about_another_bird",
            "ref_wrong_subject",
            placed_two,
            c.farm.evidence(placed_two),
            _referrer("slaughtered", ["bird:0002"], T0 + 10_000),
        ),
        _case(
            "event_about_another_bird",
            "ref_wrong_subject",
            hatched_two,
            c.farm.evidence(hatched_two),
            SLAUGHTER,
        ),
        _case(
            "entry_later_than_event",
            "ref_out_of_order",
            placed,
            c.farm.evidence(placed),
            _referrer("slaughtered", ["bird:0001"], T0 + 999),
        ),
    ]


def heads(c: Chain) -> list[dict[str, Any]]:
    """The other log's current checkpoint, asked before any proof (check_head_covers)."""
    ref = c.farm.ref(c.placed, "bird:0001")  # seen at size 3
    grown = c.farm.fork(3)
    grown.append(_event("farmer", "died", 3, T0 + 40_000, ["bird:0002"]))
    impostor = MemoryLog(FARM, key_name="impostor")
    impostor.headers = c.farm.headers
    behind = c.farm.fork(2)
    cosigners = sorted(vkey.split("+", 1)[0] for _, vkey in WITNESSES)

    def head(name: str, reason: str | None, note: str, **checked: object) -> dict[str, Any]:
        case = {"name": name, "reason": reason, "ref": ref.to_json(), "checkpoint": note}
        return case | ({"checked": checked} if checked else {})

    return [
        head("head_at_seen_size", None, c.farm.notes[3], size=3, cosigners=cosigners),
        head("head_grown", None, grown.publish(), size=4, cosigners=cosigners),
        head("head_behind_uncosigned", "ref_rolled_back", behind.publish(cosigners=())),
        head("head_short_of_quorum", "ref_not_cosigned", grown.publish(COSIGNERS[:1])),
        head("head_of_impostor", "ref_bad_checkpoint", impostor.publish()),
        {**head("head_of_unpinned_log", "ref_unknown_log", c.farm.notes[3]),
         "ref": dataclasses.replace(ref, log="shop.example/log").to_json()},
    ]  # fmt: skip


def vectors() -> dict[str, Any]:
    """The whole document."""
    c = Chain()
    cases = [*holding(c), *untrusted(c), *rewritten(c), *unproven(c), *misnamed(c)]
    return {
        "source": "Generated by tests/vectors/make_crosslog_vectors.py: do not edit by hand.",
        "pins": c.pins(),
        "cases": cases,
        "heads": heads(c),
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> None:
    write(VECTORS, json.dumps(vectors(), indent=1) + "\n")


if __name__ == "__main__":
    main()
