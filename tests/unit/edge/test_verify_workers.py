"""Issue 16: signature checks in worker processes decide exactly what inline checks decide.

``verify_batch`` is pure; the pool tests use real worker processes (and kill one).
"""

from __future__ import annotations

import os
import select
import signal
import time

import pytest
from test_admission import DEV, NOW, _registry

from chain.entries import reading_payload, sign_entry
from chain.keyfile import SignerKey
from gateway.admission import Decision, admit
from gateway.verify_workers import MAX_ATTEMPTS, Hints, VerifierPool, keys_of, verify_batch

OTHER = SignerKey.generate("b1-temp", seed=b"o" * 32)  # same id, another key
STRANGER = SignerKey.generate("nobody", seed=b"n" * 32)


def _reading(seq: int, key: SignerKey = DEV, kid: str = DEV.id) -> bytes:
    payload = reading_payload(kid, seq, NOW, "temperature", "barn:b1", 21.5, "Cel")
    return sign_entry(payload, kid, key.seed)


def _tampered() -> bytes:
    raw = bytearray(_reading(9))
    raw[-5] = ord("A") if raw[-5] != ord("A") else ord("B")
    return bytes(raw)


def _payloads() -> list[bytes]:
    return [
        _reading(1),
        _reading(2, key=OTHER),  # signed by a key the registry does not hold for it
        _reading(3, key=STRANGER, kid=STRANGER.id),  # unknown signer
        _tampered(),
        b'{"status":"online"}',  # a status message
        b"\xff" * 10,
        b"x" * 5000,  # oversized
        _reading(4),
    ]


def test_verify_batch_names_the_key_only_for_good_signatures() -> None:
    registry = _registry()
    hints = verify_batch(_payloads(), keys_of(registry), 4096)
    assert hints == [DEV.public_key, None, None, None, None, None, None, DEV.public_key]


def test_verify_batch_tries_every_key_a_signer_was_granted() -> None:
    keys = {DEV.id: (OTHER.public_key, DEV.public_key)}
    assert verify_batch([_reading(1)], keys, 4096) == [DEV.public_key]


def _decide(raw: bytes, hint: bytes | None) -> Decision:
    return admit(
        raw,
        publisher=DEV.id,
        registry=_registry(),
        held=lambda _s, _q: None,
        next_index=5,
        now_ms=NOW,
        verified_key=hint,
    )


def test_admission_decides_the_same_with_or_without_the_workers_hints() -> None:
    payloads = _payloads()
    hints = verify_batch(payloads, keys_of(_registry()), 4096)
    for raw, hint in zip(payloads, hints, strict=True):
        assert _decide(raw, hint) == _decide(raw, None), raw[:40]


def test_a_hint_under_another_key_does_not_skip_the_signature_check() -> None:
    decision = _decide(_tampered(), OTHER.public_key)
    assert decision.reason == "bad_signature"


def _collect(pool: VerifierPool, want: int, timeout: float = 20) -> list[tuple[int, Hints]]:
    got: list[tuple[int, Hints]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want:
        assert time.monotonic() < deadline, f"only {len(got)} of {want} answers"
        select.select(pool.waitables(), [], [], 0.05)
        pool.poll()
        got += pool.ready()
    return got


def test_the_pool_answers_in_submission_order() -> None:
    pool = VerifierPool(2, 4096)
    try:
        pool.set_keys(keys_of(_registry()))
        assert pool.submit([_reading(1)]) == 0
        assert pool.submit([_tampered(), _reading(2)]) == 1
        assert not pool.has_room()  # one batch per worker
        got = _collect(pool, 2)
        assert got == [(0, [DEV.public_key]), (1, [None, DEV.public_key])]
        assert pool.in_flight == 0 and pool.restarts == 0
    finally:
        pool.close()


def test_a_killed_worker_is_replaced_and_its_batch_answered() -> None:
    pool = VerifierPool(1, 4096)
    try:
        pool.set_keys(keys_of(_registry()))
        (pid,) = pool.pids
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        pool.submit([_reading(1)] * 2000)
        assert _collect(pool, 1) == [(0, [DEV.public_key] * 2000)]
        assert pool.restarts == 1 and pool.pids != [pid]
        pool.submit([_reading(2)])  # the new worker has the keys too
        assert _collect(pool, 1) == [(1, [DEV.public_key])]
    finally:
        pool.close()


def test_a_batch_that_keeps_killing_workers_is_left_to_the_ingest_thread() -> None:
    pool = VerifierPool(1, 4096)
    try:
        pool.set_keys(keys_of(_registry()))
        pool.submit([_reading(1)] * 50_000)  # seconds of work: it is in flight at each kill
        for attempt in range(1, MAX_ATTEMPTS + 1):
            (pid,) = pool.pids
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            _wait_dead(pid)
            pool.poll()
            assert pool.restarts == attempt
        assert pool.ready() == [(0, [None] * 50_000)]
    finally:
        pool.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_without_workers_every_batch_is_answered_at_once_with_no_keys() -> None:
    pool = VerifierPool(0, 4096)
    assert pool.submit([_reading(1), b"x"]) == 0
    assert not pool.has_room()
    assert pool.ready() == [(0, [None, None])]
    assert pool.has_room()
    pool.close()


def test_abandon_answers_everything_with_no_keys() -> None:
    pool = VerifierPool(1, 4096)
    try:
        pool.submit([_reading(1)] * 3)
        assert pool.abandon() == [(0, [None, None, None])]
        assert pool.in_flight == 0 and pool.has_room()
        pool.set_keys(keys_of(_registry()))
        pool.submit([_reading(2)])  # the late answer to the abandoned batch is ignored
        assert _collect(pool, 1) == [(1, [DEV.public_key])]
    finally:
        pool.close()


def test_negative_workers_are_refused() -> None:
    with pytest.raises(ValueError):
        VerifierPool(-1, 4096)
