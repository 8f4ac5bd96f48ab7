"""witness.decide: every answer of C2SP tlog-witness's add-checkpoint, without I/O."""

from __future__ import annotations

import base64

import pytest
from c2sp_witness_examples import SPEC_REQUEST
from witness_fake_log import FakeLog

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key, open_checkpoint, verify_cosignatures
from chain.tlog_witness import AddCheckpointRequest
from witness import LogState, Refusal, decide

NOW = 1_760_000_000
WKEY, WVKEY = generate_cosigner_key("w.test/witness", seed=bytes(range(32)))
SIGNER = note.parse_signer_key(WKEY)


def logs_for(*logs: FakeLog) -> dict[str, tuple[note.VerifierKey, ...]]:
    return {log.origin: (note.parse_verifier_key(log.vkey),) for log in logs}


def state_at(log: FakeLog, size: int, at: int = NOW - 100) -> LogState:
    return decide(log.request(0, size), logs_for(log), None, SIGNER, at).state


def refusal(log: FakeLog, request: AddCheckpointRequest, latest: LogState | None) -> Refusal:
    with pytest.raises(Refusal) as caught:
        decide(request, logs_for(log), latest, SIGNER, NOW)
    return caught.value


def test_spec_example_parses_and_is_refused_as_unknown_origin() -> None:
    request = AddCheckpointRequest.from_bytes(SPEC_REQUEST)
    assert (request.old_size, len(request.proof)) == (20852014, 4)
    assert request.checkpoint.origin == "example.com/behind-the-sofa"
    assert request.checkpoint.size == 20852163
    with pytest.raises(Refusal) as caught:
        decide(request, logs_for(FakeLog()), None, SIGNER, NOW)
    assert (caught.value.status, caught.value.reason) == (404, "unknown_log")
    assert "example.com/behind-the-sofa" in str(caught.value)


def test_first_checkpoint_is_cosigned_with_the_time_given() -> None:
    log = FakeLog()
    result = decide(log.request(0, 5), logs_for(log), None, SIGNER, NOW)
    assert result.state.size == 5 and result.state.root == log.root(5)
    assert result.state.cosigned_at == NOW
    assert verify_cosignatures(result.state.note, [WVKEY]) == {"w.test/witness": NOW}
    assert open_checkpoint(result.state.note, log.vkey) == log.checkpoint(5)
    line = note.parse_signature_line(result.line)
    assert line.name == "w.test/witness" and line.signature[:8] == NOW.to_bytes(8, "big")


def test_growth_with_a_valid_proof_is_cosigned() -> None:
    log = FakeLog()
    latest = state_at(log, 5)
    result = decide(log.request(5, 13), logs_for(log), latest, SIGNER, NOW)
    assert (result.state.size, result.state.root) == (13, log.root(13))


def test_same_checkpoint_again_is_cosigned_again() -> None:
    log = FakeLog()
    latest = state_at(log, 7)
    result = decide(log.request(7, 7), logs_for(log), latest, SIGNER, NOW)
    assert result.state.size == 7 and result.state.cosigned_at == NOW


def test_a_clock_stepping_back_never_dates_a_bigger_tree_earlier() -> None:
    log = FakeLog()
    latest = state_at(log, 5, at=NOW)
    result = decide(log.request(5, 6), logs_for(log), latest, SIGNER, NOW - 3600)
    assert result.state.cosigned_at == NOW


def test_unknown_origin_is_404() -> None:
    log, other = FakeLog(), FakeLog("log.test/other")
    with pytest.raises(Refusal) as caught:
        decide(other.request(0, 3), logs_for(log), None, SIGNER, NOW)
    assert caught.value.status == 404 and "log.test/other" in str(caught.value)


def test_signature_by_an_untrusted_key_is_403() -> None:
    log, impostor = FakeLog(), FakeLog()  # same origin, another key
    found = refusal(log, impostor.request(0, 3), None)
    assert (found.status, found.reason) == (403, "bad_signature")
    assert "expected a valid signature by a key trusted" in str(found)


def test_bad_signature_by_the_trusted_key_is_403() -> None:
    log = FakeLog()
    request = log.request(0, 3)
    sig = note.parse(request.note).signatures[0]
    bad = note.add_signature(request.note, sig.name, sig.key_id, bytes(64))
    assert refusal(log, AddCheckpointRequest(0, (), bad), None).status == 403


def test_a_trusted_keys_failing_line_is_403_even_beside_a_valid_one() -> None:
    """Current text: 403 when a line's key name and ID match a trusted key but it fails."""
    log = FakeLog()
    parsed = note.parse(log.signed(3))
    good = parsed.signatures[0]
    failing = note.NoteSignature(good.name, good.key_id, bytes(64))
    for lines in ((failing, good), (good, failing)):
        bad = note.Note(parsed.text, lines).to_text()
        found = refusal(log, AddCheckpointRequest(0, (), bad), None)
        assert (found.status, found.reason) == (403, "bad_signature")
        assert "does not verify" in str(found)


def test_the_cosignature_time_is_never_0() -> None:
    log = FakeLog()
    result = decide(log.request(0, 2), logs_for(log), None, SIGNER, 0)
    assert result.state.cosigned_at == 1
    assert note.parse_signature_line(result.line).signature[:8] == (1).to_bytes(8, "big")


def test_unknown_signatures_are_ignored_and_not_served() -> None:
    log, stranger = FakeLog(), FakeLog()
    other_witness, _ = generate_cosigner_key("other.test/witness")
    signed = log.signed(4)
    text = note.parse(signed).text
    junk = note.create_signature(text, note.parse_signer_key(stranger.skey))
    cosig = note.parse_signature_line(cosign(text, other_witness, 1))
    first_junk = note.Note(text, (junk, *note.parse(signed).signatures, cosig)).to_text()
    result = decide(AddCheckpointRequest(0, (), first_junk), logs_for(log), None, SIGNER, NOW)
    assert result.state.received == first_junk
    served = note.parse(result.state.note).signatures
    assert [s.name for s in served] == [log.origin, "w.test/witness"]
    assert served[0] == note.parse(signed).signatures[0]


def test_old_size_bigger_than_the_checkpoint_is_400() -> None:
    log = FakeLog()
    request = AddCheckpointRequest(6, (), log.signed(5))
    found = refusal(log, request, state_at(log, 6))
    assert (found.status, found.reason) == (400, "bad_old_size")
    assert "old size 6 is bigger than the checkpoint's size 5" in str(found)


def test_stale_old_size_is_409_with_the_latest_size() -> None:
    log = FakeLog()
    found = refusal(log, log.request(3, 9), state_at(log, 5))
    assert (found.status, found.reason, found.latest_size) == (409, "conflict", 5)
    assert not found.evidence
    assert "old size 3 is not the latest size this witness cosigned" in str(found)


def test_nonzero_old_size_without_state_is_409_with_size_0() -> None:
    log = FakeLog()
    found = refusal(log, log.request(3, 9), None)
    assert (found.status, found.latest_size) == (409, 0)


def test_old_size_0_after_cosigning_is_409_so_a_client_learns_the_size() -> None:
    log = FakeLog()
    found = refusal(log, log.request(0, 9), state_at(log, 5))
    assert (found.status, found.latest_size) == (409, 5)


def test_rollback_to_a_smaller_tree_is_refused() -> None:
    log = FakeLog()
    latest = state_at(log, 8)
    assert refusal(log, log.request(5, 5), latest).latest_size == 8
    older = AddCheckpointRequest(8, (), log.signed(5))
    assert refusal(log, older, latest).status == 400


def test_same_size_other_root_is_a_422_fork_kept_as_evidence() -> None:
    """C2SP PR #280: 422 (v1.0.0: 409), so that every 409 carries the size body."""
    log = FakeLog()
    fork = log.sibling(b" forked")
    found = refusal(log, fork.request(6, 6), state_at(log, 6))
    assert (found.status, found.reason, found.latest_size) == (422, "fork", None)
    assert found.evidence and "a fork" in str(found)


def test_stale_old_size_naming_our_size_with_another_root_is_evidence_too() -> None:
    log = FakeLog()
    fork = log.sibling(b" forked")
    found = refusal(log, fork.request(0, 6), state_at(log, 6))
    assert (found.status, found.latest_size, found.evidence) == (409, 6, True)


def test_proof_from_a_forked_history_is_422_evidence() -> None:
    log = FakeLog()
    fork = log.sibling(b" forked")
    found = refusal(log, fork.request(5, 9), state_at(log, 5))
    assert (found.status, found.reason) == (422, "bad_proof") and found.evidence
    assert "consistency proof of 'log.test/a' from size 5" in str(found)


def test_garbled_proof_is_422() -> None:
    log = FakeLog()
    good = log.request(5, 9)
    bad = AddCheckpointRequest(5, (*good.proof[:-1], b"\x07" * 32), good.note)
    assert refusal(log, bad, state_at(log, 5)).status == 422
    short = AddCheckpointRequest(5, good.proof[:-1], good.note)
    assert refusal(log, short, state_at(log, 5)).status == 422


def test_a_proof_with_old_equal_to_size_is_422() -> None:
    log = FakeLog()
    request = AddCheckpointRequest(5, (log.root(5),), log.signed(5))
    assert refusal(log, request, state_at(log, 5)).status == 422


def test_size_0_checkpoint_must_have_the_empty_root() -> None:
    log = FakeLog()
    assert decide(log.request(0, 0), logs_for(log), None, SIGNER, NOW).state.size == 0
    text = f"{log.origin}\n0\n{base64.b64encode(log.root(1)).decode()}\n"
    bogus = AddCheckpointRequest(0, (), note.sign(text, log.skey))
    found = refusal(log, bogus, None)
    assert (found.status, found.reason, found.evidence) == (422, "bad_empty_root", True)
    assert "not the empty tree's" in str(found)
    # The same from a witness that cosigned the empty tree before.
    found = refusal(log, bogus, state_at(log, 0))
    assert (found.status, found.reason) == (422, "bad_empty_root")
