"""One witness's push state machine, against the spec witness in-process and scripted replies."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

import pytest
from gw_witness_fakes import ORIGIN, InProcess, Scripted, ToyLog
from merkle_reference import ref_consistency, ref_root
from spec_witness import SpecWitness, verify_consistency

from chain import note
from chain.checkpoint import verify_cosignatures
from chain.witness_policy import Witness
from gateway._witness_http import Reply
from gateway._witness_session import Retry, WitnessSession, backoff_delay


def setup(size: int = 3) -> tuple[ToyLog, SpecWitness, WitnessSession]:
    log = ToyLog(size)
    witness = SpecWitness("w1.test/witness")
    witness.trust_log(log.vkey)
    return log, witness, WitnessSession(Witness(witness.vkey, "http://w1"), InProcess(witness), log)


def test_first_push_is_from_zero_and_returns_a_verified_cosignature() -> None:
    log, witness, session = setup(3)
    size, signed = log.signed()
    assert session.wants(size)
    attempt = session.push(size, signed)
    assert (attempt.outcome, attempt.retry, attempt.old_size) == ("cosigned", Retry.AGAIN, 0)
    assert witness.requests[0].body == b"old 0\n\n" + signed.encode()
    cosigned = note.add_signature(signed, *_fields(attempt.cosignatures[0]))
    assert set(verify_cosignatures(cosigned, [witness.vkey])) == {witness.name}
    assert not session.wants(size) and session.witness_size == 3


def test_next_push_carries_the_consistency_proof_line_by_line() -> None:
    log, witness, session = setup(3)
    session.push(*log.signed())
    log.grow(4)
    size, signed = log.signed()
    assert session.wants(size)
    attempt = session.push(size, signed)
    assert attempt.outcome == "cosigned" and attempt.old_size == 3
    proof = "".join(base64.b64encode(h).decode() + "\n" for h in ref_consistency(log.leaves, 3))
    assert witness.requests[-1].body == f"old 3\n{proof}\n{signed}".encode()


def test_a_409_names_the_witness_size_and_the_push_is_resent_from_it() -> None:
    log, witness, session = setup(7)
    witness.preload(ORIGIN, 5, log.root(5))
    size, signed = log.signed()
    first = session.push(size, signed)
    assert (first.outcome, first.retry, first.witness_size) == ("size_conflict", Retry.AGAIN, 5)
    second = session.push(size, signed)
    assert second.outcome == "cosigned" and second.old_size == 5
    assert [r.status for r in witness.requests] == [409, 200]


def test_a_witness_ahead_of_the_log_is_a_refusal_and_later_probes_start_from_zero() -> None:
    log, witness, session = setup(7)
    witness.preload(ORIGIN, 20, b"\x01" * 32)
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.refusal, attempt.retry) == (
        "refused",
        "witness_ahead",
        Retry.BACKOFF,
    )
    assert "20" in attempt.message and "rolled back" in attempt.message
    session.push(*log.signed())
    assert witness.requests[-1].body.startswith(b"old 0\n\n")


@pytest.mark.parametrize("status", [422, 409], ids=["current-text", "v1.0.0"])
def test_another_root_at_the_same_size_is_a_root_mismatch_refusal(status: int) -> None:
    """Current c2sp.org/tlog-witness (C2SP PR #280) answers 422; v1.0.0 answered 409."""
    log, witness, session = setup(7)
    witness.same_size_status = status
    witness.preload(ORIGIN, 7, ToyLog(7, fork=b"x").root(7))
    assert session.push(*log.signed()).outcome == "size_conflict"
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.refusal, attempt.retry) == (
        "refused",
        "root_mismatch",
        Retry.BACKOFF,
    )
    assert [r.status for r in witness.requests] == [409, status]
    assert "fork" in attempt.message and f"answered {status}" in attempt.message
    assert witness.requests[-1].body.startswith(b"old 7\n\n")  # same size, no proof


def test_a_same_size_409_without_a_size_body_is_a_root_mismatch_refusal() -> None:
    """The spec gives no body for that 409: our own witness answers it in text/plain."""
    log, _, session, _ = _session(
        [
            Reply(409, "text/x.tlog.size", b"3\n"),
            Reply(409, "text/plain; charset=utf-8", b"another root at size 3\n"),
        ]
    )
    assert session.push(*log.signed()).outcome == "size_conflict"
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.refusal, attempt.old_size) == ("refused", "root_mismatch", 3)
    # From another old size, a 409 must carry the witness's size.
    log.grow(4)
    session.transport = Scripted([Reply(409, "text/plain", b"?")])
    assert session.push(*log.signed()).outcome == "bad_response"


def test_an_inconsistent_history_is_refused_with_422() -> None:
    log, witness, session = setup(7)
    witness.preload(ORIGIN, 3, ToyLog(3, fork=b"x").root(3))
    session.push(*log.signed())
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.refusal, attempt.old_size) == ("refused", "inconsistent", 3)
    assert witness.requests[-1].status == 422 and "answered 422" in attempt.message


def test_a_witness_that_does_not_know_the_log_or_its_key_is_a_misconfiguration() -> None:
    log = ToyLog(3)
    stranger = SpecWitness("w2.test/witness")
    session = WitnessSession(Witness(stranger.vkey, "http://w2"), InProcess(stranger), log)
    assert session.push(*log.signed()).outcome == "unknown_log"
    stranger.trust_log(ToyLog(1).vkey)  # same origin, another key
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.retry) == ("forbidden", Retry.BACKOFF)
    assert "add-log" in attempt.message


def _fields(sig: note.NoteSignature) -> tuple[str, int, bytes]:
    return sig.name, sig.key_id, sig.signature


def _session(
    answers: list[Reply | BaseException | Callable[[bytes], Reply]],
) -> tuple[ToyLog, SpecWitness, WitnessSession, Scripted]:
    log, witness, _ = setup(3)
    transport = Scripted(answers)
    return (
        log,
        witness,
        WitnessSession(Witness(witness.vkey, "http://w"), transport, log),
        transport,
    )


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (ConnectionRefusedError("refused"), "unreachable"),
        (TimeoutError("timed out"), "timeout"),
        (Reply(503, "text/plain", b"busy"), "server_error"),
        (Reply(400, "text/plain", b"bad"), "bad_request"),
        (Reply(302, "text/plain", b""), "bad_response"),
        (Reply(200, "text/plain", b"not a signature line\n"), "bad_response"),
        (Reply(409, "text/plain", b"5\n"), "bad_response"),
        (Reply(409, "text/x.tlog.size", b"five\n"), "bad_response"),
    ],
)
def test_trouble_backs_off_and_changes_nothing(answer: Reply | BaseException, outcome: str) -> None:
    log, _, session, _ = _session([answer])
    attempt = session.push(*log.signed())
    assert (attempt.outcome, attempt.retry, attempt.cosignatures) == (outcome, Retry.BACKOFF, ())
    assert session.cosigned is None and session.witness_size == 0


def test_a_cosignature_that_does_not_verify_under_the_witness_key_is_an_alarm() -> None:
    log, witness, session, _ = _session([])
    size, signed = log.signed()

    def forged(body: bytes) -> Reply:
        status, ctype, data = witness.handle(body)
        line = data.decode()
        raw = bytearray(base64.b64decode(line.split(" ")[2]))
        raw[-1] ^= 1
        return Reply(status, ctype, f"— {witness.name} {base64.b64encode(raw).decode()}\n".encode())

    session.transport = Scripted([forged])
    attempt = session.push(size, signed)
    assert (attempt.outcome, attempt.cosignatures) == ("bad_response", ())
    assert attempt.message.startswith("ALARM")


def test_a_200_without_a_line_by_the_witness_key_is_a_bad_response() -> None:
    log, _, session, _ = _session([])
    other = SpecWitness("w9.test/other")
    other.trust_log(log.vkey)
    session.transport = InProcess(other)  # answers with its own, unknown, cosignature
    attempt = session.push(*log.signed())
    assert attempt.outcome == "bad_response" and "without a cosignature" in attempt.message


def test_a_witness_that_keeps_changing_its_size_is_backed_off() -> None:
    answers: list[Reply | BaseException | Callable[[bytes], Reply]] = [
        Reply(409, "text/x.tlog.size", b"%d\n" % (i % 2 + 1)) for i in range(4)
    ]
    log, _, session, _ = _session(answers)
    retries = [session.push(*log.signed()).retry for _ in range(4)]
    assert retries == [Retry.AGAIN, Retry.AGAIN, Retry.AGAIN, Retry.BACKOFF]


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    assert backoff_delay(1, 0.5, 30, lambda: 0.0) == 0.25
    assert backoff_delay(1, 0.5, 30, lambda: 0.999999) == pytest.approx(0.5)
    assert backoff_delay(4, 0.5, 30, lambda: 0.999999) == pytest.approx(4.0)
    assert backoff_delay(100, 0.5, 30, lambda: 0.999999) == pytest.approx(30.0)
    delays = {backoff_delay(3, 1, 30, random.Random(i).random) for i in range(20)}
    assert len(delays) == 20 and all(2 <= d < 4 for d in delays)


def test_the_spec_witness_consistency_check_agrees_with_the_reference_tree() -> None:
    leaves = [b"%d" % i for i in range(20)]
    for n in range(1, 21):
        for m in range(1, n + 1):
            proof = ref_consistency(leaves[:n], m)
            root_m, root_n = ref_root(leaves[:m]), ref_root(leaves[:n])
            assert verify_consistency(m, n, root_m, root_n, proof), (m, n)
            if proof:
                bad = [*proof[:-1], bytes(32)]
                assert not verify_consistency(m, n, root_m, root_n, bad), (m, n)
            assert not verify_consistency(m, n, root_m, ref_root(leaves[1 : n + 1]), proof)
