"""Cross-log references (chain.crosslog) between real logs built in memory.

A farm's log and a plant's log are built with the pure builders (block
headers, RFC 6962 trees, signed and cosigned checkpoints) and proofs come
from :func:`chain.proof_bundle.build_entry_proof` over an in-memory source:
the very bundle the read API serves.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors.make_crosslog_vectors import MemoryLog as VectorsLog

from chain.checkpoint import generate_cosigner_key
from chain.crosslog import (
    FAILURE_REASONS,
    MAX_REFS,
    REFERABLE,
    CrossLogReferenceError,
    LogReference,
    PinnedLog,
    ReferenceEvidence,
    Referrer,
    check_head_covers,
    check_reference,
    parse_refs,
    reference_from_proof,
    refs_in,
    refs_to_json,
)
from chain.entries import EVENTS, event_payload, parse_entry, reading_payload, sign_entry
from chain.errors import MalformedEntryError, VerificationError
from chain.gs1 import gtin_check_digit
from chain.proof_bundle import AuditPath, build_entry_proof
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy

FARM = "farm-a.example/log"
PLANT = "plant.example/log"
T0 = 1_780_000_000_000
WITNESS_KEYS = [
    generate_cosigner_key(f"w{i}.example/witness", seed=bytes([40 + i]) * 32) for i in range(2)
]
POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in WITNESS_KEYS))
COSIGNERS = tuple(skey for skey, _ in WITNESS_KEYS)
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
PACK = f"pack:{GTIN}.S0001"


def _seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def _event(kid: str, event: str, seq: int, ts: int, subjects: list[str], **fields: object) -> bytes:
    return sign_entry(event_payload(event, seq, ts, subjects, **fields), kid, _seed(kid))


class MemoryLog(VectorsLog):
    """The vectors' in-memory log (tests/vectors/make_crosslog_vectors.py), with its trust root."""

    def trust(self) -> TrustRoot:
        return TrustRoot(self.origin, self.vkey, (("admin", _seed("admin")),))


class Chain:
    """A farm's log (hatch, placement, vaccination, a reading) and a plant's (slaughter, pack)."""

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
        slaughter = dict(plant="plant-1", outputs=["carcass:0001"])
        self.slaughtered = plant.append(
            _event("plant", "slaughtered", 1, T0 + 10_000, ["bird:0001"], **slaughter)
        )
        self.packed = plant.append(
            _event("plant", "packed", 2, T0 + 11_000, ["carcass:0001"], gtin=GTIN, serial="S0001")
        )
        plant.publish()
        self.farm, self.plant = farm, plant
        self.pins = {FARM: PinnedLog(farm.trust(), POLICY), PLANT: PinnedLog(plant.trust(), POLICY)}

    def ref(self, log: MemoryLog, index: int, subject: str) -> LogReference:
        """The reference a writer makes at the log's latest checkpoint (write time)."""
        return reference_from_proof(build_entry_proof(log, index), subject)

    def evidence(self, log: MemoryLog, ref: LogReference) -> ReferenceEvidence:
        """What ``log`` serves for ``ref``: a proof at its latest checkpoint, and consistency."""
        proof = build_entry_proof(log, ref.index)
        size = proof.block_path.tree_size
        consistency = log.consistency(ref.size, size) if size > ref.size else ()
        return ReferenceEvidence(proof, tuple(consistency))


SLAUGHTER = Referrer("slaughtered", ("bird:0001",), T0 + 10_000)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def _fails(
    reason: str,
    ref: LogReference,
    evidence: ReferenceEvidence,
    chain: Chain,
    referrer: Referrer = SLAUGHTER,
) -> CrossLogReferenceError:
    """Check ``ref`` and return its error, once sure the failure is ``reason``."""
    with pytest.raises(CrossLogReferenceError) as caught:
        check_reference(ref, evidence, chain.pins, referrer)
    assert caught.value.reason == reason, str(caught.value)
    assert reason in FAILURE_REASONS
    return caught.value


# -- the format ---------------------------------------------------------------------------


def test_a_reference_round_trips_through_its_json_member(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    member = refs_to_json([ref])
    assert list(member[0]) == ["log", "index", "hash", "size", "root", "subject"]
    assert member[0]["hash"] == hashlib.sha256(chain.farm.entries[chain.placed]).hexdigest()
    assert (member[0]["size"], member[0]["root"]) == (3, chain.farm.root(3).hex())
    assert parse_refs(member) == (ref,)


GOOD = {
    "log": FARM,
    "index": 1,
    "hash": "ab" * 32,
    "size": 3,
    "root": "cd" * 32,
    "subject": "bird:1",
}


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ({"refs": GOOD}, "a list of 1 to 8"),
        ([], "a list of 1 to 8"),
        ([GOOD | {"index": i} for i in range(MAX_REFS + 1)], "a list of 1 to 8"),
        (["farm-a.example/log 1"], "item: expected an object"),
        ([{k: v for k, v in GOOD.items() if k != "root"}], "missing ['root']"),
        ([GOOD | {"seen": 3}], "unknown ['seen']"),
        ([GOOD | {"index": True}], "index: expected an integer"),
        ([GOOD | {"index": -1}], "index: expected an integer"),
        ([GOOD | {"index": 1.0}], "index: expected an integer"),
        ([GOOD | {"index": 2**53}], "index: expected an integer"),
        ([GOOD | {"size": 0}], "size: expected an integer in [1"),
        ([GOOD | {"hash": "AB" * 32}], "hash: expected 64 lowercase hex"),
        ([GOOD | {"hash": "ab" * 31}], "hash: expected 64 lowercase hex"),
        ([GOOD | {"root": None}], "root: expected 64 lowercase hex"),
        ([GOOD | {"log": "farm a/log"}], "log: expected an origin"),
        ([GOOD | {"log": "farm+a/log"}], "log: expected an origin"),
        ([GOOD | {"log": ""}], "log: expected an origin"),
        ([GOOD | {"subject": "0001"}], "subject: expected a subject"),
        ([GOOD, dict(GOOD)], "found farm-a.example/log entry 1 (bird:1) twice"),
    ],
)
def test_a_malformed_refs_member_is_refused_with_what_was_expected(
    value: object, complaint: str
) -> None:
    with pytest.raises(MalformedEntryError) as caught:
        parse_refs(value)
    assert caught.value.reason == "malformed_reference"
    assert complaint in str(caught.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=7)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({k: st.just(v) | _JSON for k, v in GOOD.items()}) | _JSON, max_size=3
    )
)
def test_any_json_value_parses_or_is_refused_as_malformed(value: object) -> None:
    try:
        refs = parse_refs(value)
    except MalformedEntryError as exc:
        assert exc.reason == "malformed_reference"
    else:
        assert parse_refs(refs_to_json(refs)) == refs


def test_the_same_entry_may_be_referenced_for_two_subjects() -> None:
    refs = parse_refs([GOOD, GOOD | {"subject": "bird:2"}])
    assert [r.subject for r in refs] == ["bird:1", "bird:2"]


def test_the_kind_table_names_only_real_events() -> None:
    assert set(REFERABLE) <= EVENTS
    assert all(kinds and kinds <= EVENTS for kinds in REFERABLE.values())


# -- references that hold -------------------------------------------------------------------


def test_a_slaughter_names_the_placement_at_write_time(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    checked = check_reference(ref, chain.evidence(chain.farm, ref), chain.pins, SLAUGHTER)
    assert checked.entry.raw == chain.farm.entries[chain.placed]
    assert checked.entry.payload["event"] == "placed"
    assert checked.checkpoint.size == ref.size == 3
    assert checked.cosigners == ("w0.example/witness", "w1.example/witness")


def test_a_reference_still_holds_once_the_other_log_has_grown(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.hatched, "bird:0001")
    grown = chain.farm.fork(3)
    grown.append(_event("farmer", "moved", 3, T0 + 20_000, ["bird:0002"], barn="b2"))
    grown.append(_event("farmer", "died", 4, T0 + 30_000, ["bird:0002"]))
    grown.publish()
    evidence = chain.evidence(grown, ref)
    assert evidence.proof.block_path.tree_size == 5
    assert evidence.consistency
    checked = check_reference(ref, evidence, chain.pins, SLAUGHTER)
    assert (checked.checkpoint.size, checked.entry.payload["event"]) == (5, "hatched")


def test_a_receipt_names_a_pack_another_log_packed(chain: Chain) -> None:
    ref = chain.ref(chain.plant, chain.packed, PACK)
    receipt = Referrer("received", (PACK,), T0 + 50_000)
    checked = check_reference(ref, chain.evidence(chain.plant, ref), chain.pins, receipt)
    assert checked.entry.payload["event"] == "packed"


# -- references that do not -----------------------------------------------------------------


def test_a_log_the_verifier_did_not_pin_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    evidence = chain.evidence(chain.farm, ref)
    with pytest.raises(CrossLogReferenceError) as caught:
        check_reference(ref, evidence, {PLANT: chain.pins[PLANT]}, SLAUGHTER)
    assert caught.value.reason == "ref_unknown_log"
    assert f"expected one of: {PLANT}, found {FARM}" in str(caught.value)
    misfiled = {FARM: chain.pins[PLANT]}  # a pin under the wrong origin pins nothing
    with pytest.raises(CrossLogReferenceError) as caught:
        check_reference(ref, evidence, misfiled, SLAUGHTER)
    assert (caught.value.reason, caught.value.expected) == ("ref_unknown_log", "one of: none")


def test_a_checkpoint_signed_by_another_key_under_the_farms_name_is_refused(chain: Chain) -> None:
    impostor = MemoryLog(FARM, key_name="impostor")
    impostor.headers, impostor.entries = chain.farm.headers, chain.farm.entries
    impostor.publish()
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    error = _fails("ref_bad_checkpoint", ref, chain.evidence(impostor, ref), chain)
    assert isinstance(error.__cause__, VerificationError)


def test_a_checkpoint_short_of_the_witness_quorum_is_refused(chain: Chain) -> None:
    lonely = chain.farm.fork(3)
    lonely.publish(cosigners=COSIGNERS[:1])
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    error = _fails("ref_not_cosigned", ref, chain.evidence(lonely, ref), chain)
    assert error.expected == "2 of 2 witnesses"
    assert "found 1 (w0.example/witness)" in error.found


def test_a_forged_reference_to_a_placement_the_farm_never_made_is_refused(chain: Chain) -> None:
    forged_entry = _event("farmer", "placed", 2, T0 + 1000, ["bird:0009"], barn="b1")
    real = chain.ref(chain.farm, chain.placed, "bird:0009")
    forged = dataclasses.replace(real, entry_hash=hashlib.sha256(forged_entry).hexdigest())
    error = _fails("ref_entry_mismatch", forged, chain.evidence(chain.farm, forged), chain)
    assert error.expected == f"entry {chain.placed} with hash {forged.entry_hash}"
    assert error.found == f"entry {chain.placed} with hash {real.entry_hash}"


def test_a_forgery_made_against_a_fake_farm_log_is_named_a_forgery(chain: Chain) -> None:
    # A plant that pinned a fake "farm" (its own key under the farm's origin)
    # references that fake log's placement: index, hash, size and root all
    # come from a tree the real farm never had. Against the real farm the tree
    # is inconsistent AND another entry sits at the index: a forgery, not a
    # rollback of the farm.
    fake = MemoryLog(FARM, key_name="the plant's fake farm")
    fake.append(_event("farmer", "hatched", 1, T0, ["bird:0009"], breed="Ross 308"))
    fake.append(_event("farmer", "placed", 2, T0 + 1000, ["bird:0009"], barn="b1"))
    fake.append(_event("farmer", "died", 3, T0 + 2000, ["bird:0002"]))
    fake.publish()
    forged = reference_from_proof(build_entry_proof(fake, 1), "bird:0009")
    assert forged.size == 3 and forged.index == 1
    evidence = chain.evidence(chain.farm, forged)
    slaughter = Referrer("slaughtered", ("bird:0009",), T0 + 10_000)
    error = _fails("ref_entry_mismatch", forged, evidence, chain, slaughter)
    assert isinstance(error.__cause__, Exception)  # the failed consistency proof, kept
    # The same fake tree referencing an entry the real farm does have at that
    # index, byte for byte: the entry survives, the tree does not: rolled back.
    survivor = dataclasses.replace(
        forged,
        index=chain.hatched,
        entry_hash=chain.ref(chain.farm, chain.hatched, "bird:0001").entry_hash,
        subject="bird:0001",
    )
    _fails("ref_rolled_back", survivor, chain.evidence(chain.farm, survivor), chain)


def test_evidence_for_another_entry_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    other = ReferenceEvidence(build_entry_proof(chain.farm, chain.hatched))
    _fails("ref_entry_mismatch", ref, other, chain)


def test_a_proof_that_does_not_reach_the_checkpoint_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    proof = build_entry_proof(chain.farm, chain.placed)
    bent = AuditPath(proof.entry_path.leaf_index, proof.entry_path.tree_size, (b"\x00" * 32,))
    evidence = ReferenceEvidence(dataclasses.replace(proof, entry_path=bent))
    _fails("ref_not_included", ref, evidence, chain)
    wrong_block = dataclasses.replace(proof, header=chain.farm.headers[0].raw)
    _fails("ref_not_included", ref, ReferenceEvidence(wrong_block), chain)


def test_an_entry_beyond_the_checkpoint_the_reference_saw_is_refused(chain: Chain) -> None:
    # A writer claiming to have seen entry 3 (block 2) in the farm's tree of 2 blocks.
    at_two = chain.farm.fork(3)
    at_two.publish(size=2)
    seen = reference_from_proof(build_entry_proof(at_two, chain.placed, 2), "bird:0001")
    ref = dataclasses.replace(
        seen,
        index=chain.vaccinated,
        entry_hash=chain.ref(chain.farm, chain.vaccinated, "bird:0001").entry_hash,
    )
    evidence = ReferenceEvidence(
        build_entry_proof(chain.farm, chain.vaccinated), tuple(chain.farm.consistency(2, 3))
    )
    vet = Referrer("vaccinated", ("bird:0001",), T0 + 9000)
    error = _fails("ref_beyond_seen", ref, evidence, chain, vet)
    assert (error.expected, error.found) == ("a block below 2", "block 2")


def test_a_farm_that_forks_after_the_reference_is_caught_rolling_back(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")  # seen at size 3
    # The farm rewrites block 2 (the vaccination) and grows on: the placement
    # itself survives, index and bytes alike, yet the tree the plant saw is gone.
    forked = chain.farm.fork(2)
    forked.append(_event("vet", "inspected", 1, T0 + 3000, ["bird:0001"], result="pass"))
    forked.append(_event("farmer", "died", 3, T0 + 4000, ["bird:0002"]))
    forked.publish()
    error = _fails("ref_rolled_back", ref, chain.evidence(forked, ref), chain)
    assert "consistent with root" in error.expected
    # The same fork at the very size the plant saw: another root for size 3.
    same_size = chain.farm.fork(2)
    same_size.append(_event("vet", "inspected", 1, T0 + 3000, ["bird:0001"], result="pass"))
    same_size.publish()
    _fails("ref_rolled_back", ref, chain.evidence(same_size, ref), chain)


def test_a_farm_that_shows_a_smaller_tree_than_was_referenced_is_caught(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    behind = chain.farm.fork(2)
    behind.publish()
    error = _fails(
        "ref_rolled_back", ref, ReferenceEvidence(build_entry_proof(behind, chain.placed)), chain
    )
    assert (error.expected, error.found) == ("a checkpoint of size >= 3", "size 2")


def test_a_grown_log_without_a_valid_consistency_proof_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    grown = chain.farm.fork(3)
    grown.append(_event("farmer", "died", 3, T0 + 40_000, ["bird:0002"]))
    grown.publish()
    bare = ReferenceEvidence(build_entry_proof(grown, chain.placed))
    _fails("ref_rolled_back", ref, bare, chain)


@pytest.mark.parametrize(
    ("index_of", "subject", "found"),
    [
        ("vaccinated", "bird:0001", "a vaccinated event"),
        ("reading", "barn:b1", "a reading entry"),
    ],
)
def test_a_slaughter_naming_an_entry_of_the_wrong_kind_is_refused(
    chain: Chain, index_of: str, subject: str, found: str
) -> None:
    ref = chain.ref(chain.farm, getattr(chain, index_of), subject)
    referrer = Referrer("slaughtered", (subject,), T0 + 10_000)
    error = _fails("ref_wrong_kind", ref, chain.evidence(chain.farm, ref), chain, referrer)
    assert error.expected == "an event of kind hatched or moved or placed"
    assert error.found == found


def test_an_event_kind_that_may_not_reference_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    moved = Referrer("moved", ("bird:0001",), T0 + 10_000)
    error = _fails("ref_wrong_kind", ref, chain.evidence(chain.farm, ref), chain, moved)
    assert "a moved event may not reference another log" in str(error)


def test_a_reference_about_a_bird_the_entry_does_not_name_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0002")  # placed names bird:0001 only
    referrer = Referrer("slaughtered", ("bird:0002",), T0 + 10_000)
    error = _fails("ref_wrong_subject", ref, chain.evidence(chain.farm, ref), chain, referrer)
    assert error.found == "bird:0001"


def test_a_reference_about_a_subject_the_event_does_not_name_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.hatched, "bird:0002")
    error = _fails("ref_wrong_subject", ref, chain.evidence(chain.farm, ref), chain)
    assert (error.expected, error.found) == ("bird:0002 among its subjects", "bird:0001")


def test_a_reference_to_a_later_entry_is_refused(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    early = Referrer("slaughtered", ("bird:0001",), T0 + 999)
    error = _fails("ref_out_of_order", ref, chain.evidence(chain.farm, ref), chain, early)
    assert (error.expected, error.found) == (f"ts <= {T0 + 999}", f"ts {T0 + 1000}")


def test_referrer_is_read_from_an_event_payload() -> None:
    payload = event_payload("received", 7, T0, [PACK], location="shop-1")
    assert Referrer.from_payload(payload) == Referrer("received", (PACK,), T0)


def test_a_current_checkpoint_is_checked_before_any_proof_is_fetched(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")  # seen at size 3
    checkpoint, cosigners = check_head_covers(ref, chain.farm.notes[3], chain.pins)
    assert (checkpoint.size, cosigners) == (3, ("w0.example/witness", "w1.example/witness"))
    behind = chain.farm.fork(2)
    # The farm's own key on a smaller tree is enough: no witness needs to agree.
    for cosigners_of_behind in (COSIGNERS, ()):
        with pytest.raises(CrossLogReferenceError) as caught:
            check_head_covers(ref, behind.publish(cosigners_of_behind, size=2), chain.pins)
        assert caught.value.reason == "ref_rolled_back"
    grown = chain.farm.fork(3)
    grown.append(_event("farmer", "died", 3, T0 + 40_000, ["bird:0002"]))
    with pytest.raises(CrossLogReferenceError) as caught:
        check_head_covers(ref, grown.publish(COSIGNERS[:1]), chain.pins)
    assert caught.value.reason == "ref_not_cosigned"
    stranger = MemoryLog(FARM, key_name="not the farm")
    stranger.append(_event("farmer", "died", 3, T0, ["bird:0002"]))
    with pytest.raises(CrossLogReferenceError) as caught:
        check_head_covers(ref, stranger.publish(), chain.pins)
    assert caught.value.reason == "ref_bad_checkpoint"


def test_the_refs_of_a_parsed_entry_read_as_those_it_was_signed_with(chain: Chain) -> None:
    ref = chain.ref(chain.farm, chain.placed, "bird:0001")
    raw = _event(
        "plant",
        "slaughtered",
        3,
        T0 + 10_000,
        ["bird:0001"],
        plant="p",
        outputs=["carcass:0001"],
        refs=refs_to_json([ref]),
    )
    entry = parse_entry(raw)
    assert isinstance(entry.payload["refs"], tuple)
    assert refs_in(entry.payload) == (ref,)
    assert refs_in({"event": "died", "subjects": ["bird:0001"]}) == ()
    with pytest.raises(MalformedEntryError):
        refs_in({"refs": []})
