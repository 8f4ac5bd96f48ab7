"""Who is to blame for a reference the other log no longer shows (chain.crosslog_blame).

Real logs built in memory (unit.chain.test_crosslog's builders): the farm's
cosigned notes, a fork of it, and the kept note a plant's gateway would hold.
"""

from __future__ import annotations

import dataclasses

import pytest
from unit.chain.test_crosslog import COSIGNERS, FARM, PLANT, SLAUGHTER, T0, Chain, _event

from chain import note
from chain.checkpoint import cosign
from chain.crosslog import CrossLogReferenceError, LogReference, check_reference
from chain.crosslog_blame import (
    REFERENCED,
    REFERENCING,
    UNDETERMINED,
    ShownTree,
    blame,
)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def _placed_ref(chain: Chain) -> LogReference:
    return chain.ref(chain.farm, chain.placed, "bird:0001")  # seen at size 3


def test_a_reference_without_a_kept_note_is_blamed_on_the_referencing_log(chain: Chain) -> None:
    forged = dataclasses.replace(_placed_ref(chain), entry_hash="ab" * 32)
    verdict = blame(forged, "ref_entry_mismatch", None, chain.pins, referencing=PLANT)
    assert (verdict.party, verdict.log) == (REFERENCING, PLANT)
    assert "kept none" in verdict.evidence and "made this reference up" in verdict.evidence
    assert verdict.to_json()["kept"] is None


def test_a_kept_note_that_fails_the_pins_does_not_clear_the_referencing_log(chain: Chain) -> None:
    ref = _placed_ref(chain)
    genuine = chain.farm.notes[3]
    other_key = chain.farm.fork(3)
    other_key.skey, _ = note.generate_key(FARM, seed=b"\x07" * 32)
    uncosigned = chain.farm.publish(cosigners=COSIGNERS[:1], size=3)
    chain.farm.notes[3] = genuine  # publish() replaced it
    bad = {
        "not signed by the pinned key": other_key.publish(size=3),
        "not cosigned": uncosigned,
        "of size 2": chain.farm.publish(size=2),
    }
    for why, served in bad.items():
        verdict = blame(ref, "ref_rolled_back", served, chain.pins, referencing=PLANT)
        assert verdict.party == REFERENCING, why
        assert why in verdict.evidence
    wrong_root = dataclasses.replace(ref, root="cd" * 32)
    verdict = blame(wrong_root, "ref_rolled_back", genuine, chain.pins, referencing=PLANT)
    assert verdict.party == REFERENCING and "with root" in verdict.evidence


def test_a_farm_that_forked_after_the_kept_note_is_blamed_with_both_checkpoints(
    chain: Chain,
) -> None:
    ref = _placed_ref(chain)
    kept = chain.farm.notes[3]
    forked = chain.farm.fork(2)
    forked.append(_event("vet", "inspected", 1, T0 + 3000, ["bird:0001"], result="pass"))
    forked.append(_event("farmer", "died", 3, T0 + 4000, ["bird:0002"]))
    now = forked.publish()
    with pytest.raises(CrossLogReferenceError) as caught:
        check_reference(ref, chain.evidence(forked, ref), chain.pins, SLAUGHTER)
    assert caught.value.reason == "ref_rolled_back"
    shown = ShownTree(now, forked.consistency(3, 4))
    verdict = blame(ref, "ref_rolled_back", kept, chain.pins, referencing=PLANT, shown=shown)
    assert (verdict.party, verdict.log) == (REFERENCED, FARM)
    assert verdict.kept is not None and verdict.shown is not None
    assert (verdict.kept.size, verdict.shown.size) == (3, 4)
    assert verdict.kept_cosigners == ("w0.example/witness", "w1.example/witness")
    assert "not consistent" in verdict.evidence and "rolled back or forked" in verdict.evidence
    assert verdict.to_json()["shown"]["note"] == now
    # The same witnesses cosigned a tree inconsistent with one they had cosigned.
    assert verdict.cosigned_both == verdict.kept_cosigners
    assert "against their rules: w0.example/witness, w1.example/witness" in verdict.evidence
    # Without knowing what the farm shows now, the failed check's word is enough.
    alone = blame(ref, "ref_rolled_back", kept, chain.pins, referencing=PLANT)
    assert alone.party == REFERENCED and alone.shown is None


def test_a_farm_showing_a_smaller_tree_than_it_cosigned_is_blamed(chain: Chain) -> None:
    ref = _placed_ref(chain)
    behind = chain.farm.fork(2)
    now = behind.publish()
    verdict = blame(
        ref,
        "ref_rolled_back",
        chain.farm.notes[3],
        chain.pins,
        referencing=PLANT,
        shown=ShownTree(now),
    )
    assert verdict.party == REFERENCED and "now size 2" in verdict.evidence
    # Cosigned no later than the bigger tree: an old checkpoint served again, not the
    # witnesses' fault.
    assert verdict.cosigned_both == ()
    later = behind.fork(2)
    later.notes = {}
    signed = later.publish(cosigners=())
    text = note.parse(signed).text
    recosigned = signed + cosign(text, COSIGNERS[1], 1_780_000_001)
    verdict = blame(
        ref, "ref_rolled_back", chain.farm.notes[3], chain.pins, referencing=PLANT,
        shown=ShownTree(recosigned),
    )  # fmt: skip
    assert verdict.cosigned_both == ("w1.example/witness",)


def test_a_misstated_entry_in_a_tree_the_farm_still_shows_is_the_referencing_logs(
    chain: Chain,
) -> None:
    ref = dataclasses.replace(_placed_ref(chain), entry_hash="ab" * 32)
    kept = chain.farm.notes[3]
    grown = chain.farm.fork(3)
    grown.append(_event("farmer", "died", 3, T0 + 40_000, ["bird:0002"]))
    shown = ShownTree(grown.publish(), grown.consistency(3, 4))
    verdict = blame(ref, "ref_entry_mismatch", kept, chain.pins, referencing=PLANT, shown=shown)
    assert (verdict.party, verdict.log) == (REFERENCING, PLANT)
    assert "misstated the entry" in verdict.evidence
    # Not knowing what the farm shows now, a genuine kept note cannot tell.
    unknown = blame(ref, "ref_entry_mismatch", kept, chain.pins, referencing=PLANT)
    assert (unknown.party, unknown.log) == (UNDETERMINED, None)
    # A shown note the farm's key did not sign is no evidence of anything.
    fake = ShownTree(chain.plant.notes[max(chain.plant.notes)])
    assert (
        blame(ref, "ref_entry_mismatch", kept, chain.pins, referencing=PLANT, shown=fake).party
        == UNDETERMINED
    )


def test_only_the_two_reasons_a_kept_note_settles_are_blamed(chain: Chain) -> None:
    with pytest.raises(ValueError, match="ref_rolled_back"):
        blame(_placed_ref(chain), "ref_not_cosigned", None, chain.pins, referencing=PLANT)
    stranger = dataclasses.replace(_placed_ref(chain), log="other.example/log")
    with pytest.raises(CrossLogReferenceError, match="not pinned"):
        blame(stranger, "ref_rolled_back", None, chain.pins, referencing=PLANT)
