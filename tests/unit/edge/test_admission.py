"""Admission of received messages: every bad input gets one clear, counted reason."""

from __future__ import annotations

import json

import pytest

from chain import note
from chain._encoding import b64url_encode
from chain.entries import device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.registry import Registry
from chain.trust import TrustRoot
from gateway.admission import AdmissionPolicy, Decision, Verdict, admit

ADMIN = SignerKey.generate("admin", seed=b"a" * 32)
DEV = SignerKey.generate("b1-temp", seed=b"d" * 32)
NOW = 1_767_225_600_000


def _registry() -> Registry:
    _, verifier = note.generate_key("farm.example/log", seed=b"l" * 32)
    registry = Registry.from_trust_root(
        TrustRoot("farm.example/log", verifier, ((ADMIN.id, ADMIN.public_key),))
    )
    reg = parse_entry(
        sign_entry(
            device_payload(
                "register",
                DEV.id,
                2,
                NOW - 3_600_000,
                pubkey=DEV.public_key,
                kinds=["temperature"],
                subjects=["barn:b1"],
            ),
            ADMIN.id,
            ADMIN.seed,
        )
    )
    registry.authorize(reg, 1)
    registry.apply(reg, 1)
    return registry


def _reading(seq: int = 1, ts: int = NOW, value: float = 21.5, key: SignerKey = DEV) -> bytes:
    payload = reading_payload(DEV.id, seq, ts, "temperature", "barn:b1", value, "Cel")
    return sign_entry(payload, DEV.id, key.seed)


def _admit(
    raw: bytes,
    publisher: str | None = DEV.id,
    held: dict[tuple[str, int], tuple[int, bytes]] | None = None,
) -> Decision:
    store = held or {}
    return admit(
        raw,
        publisher=publisher,
        registry=_registry(),
        held=lambda s, q: store.get((s, q)),
        next_index=10,
        now_ms=NOW,
    )


def test_a_good_reading_is_accepted() -> None:
    decision = _admit(_reading())
    assert decision.verdict is Verdict.ACCEPTED and not decision.late
    assert decision.entry is not None and decision.entry.seq == 1


def test_a_late_reading_is_accepted_and_marked() -> None:
    decision = _admit(_reading(ts=NOW - 3_000_000))
    assert decision.verdict is Verdict.ACCEPTED and decision.late


def _forged_alg_none() -> bytes:
    header = b64url_encode(json.dumps({"alg": "none", "kid": DEV.id}).encode())
    return _reading().replace(_reading().split(b".")[0], header.encode())


@pytest.mark.parametrize(
    ("raw", "publisher", "reason"),
    [
        (b"\x00\xff garbage", DEV.id, "malformed_entry"),
        (_reading()[:-10], DEV.id, "malformed_entry"),
        (_forged_alg_none(), DEV.id, "malformed_entry"),
        (_reading(key=SignerKey.generate(DEV.id, seed=b"x" * 32)), DEV.id, "bad_signature"),
        (_reading() + b"A" * 5000, DEV.id, "oversized"),
        (_reading(), "b2-temp", "wrong_topic"),
        (_reading(ts=NOW + 3_600_000), DEV.id, "clock_skew"),
        (_reading(ts=NOW - 2 * 3_600_000), DEV.id, "unauthorized"),
    ],
    ids=[
        "garbage",
        "truncated",
        "alg-none",
        "wrong-key",
        "oversized",
        "other-topic",
        "future",
        "before-registration",
    ],
)
def test_bad_inputs_are_rejected_with_their_reason(raw: bytes, publisher: str, reason: str) -> None:
    decision = _admit(raw, publisher)
    assert (decision.verdict, decision.reason) == (Verdict.REJECTED, reason), decision.message
    assert decision.message


def test_an_unknown_device_is_rejected() -> None:
    stranger = SignerKey.generate("stranger", seed=b"s" * 32)
    raw = sign_entry(
        reading_payload("stranger", 1, NOW, "temperature", "barn:b1", 1.0, "Cel"),
        "stranger",
        stranger.seed,
    )
    decision = _admit(raw, "stranger")
    assert (decision.verdict, decision.reason) == (Verdict.REJECTED, "unknown_signer")


def test_a_replay_is_a_duplicate_and_a_different_payload_an_equivocation() -> None:
    first = _reading(seq=7, value=20.0)
    held = {(DEV.id, 7): (42, first)}
    replay = _admit(first, held=held)
    assert (replay.verdict, replay.existing_index) == (Verdict.DUPLICATE, 42)
    clash = _admit(_reading(seq=7, value=30.0), held=held)
    assert (clash.verdict, clash.reason, clash.existing_index) == (
        Verdict.REJECTED,
        "equivocation",
        42,
    )


def test_policy_limits_apply() -> None:
    policy = AdmissionPolicy(max_entry_bytes=100)
    decision = admit(
        _reading(),
        publisher=None,
        registry=_registry(),
        held=lambda s, q: None,
        next_index=10,
        now_ms=NOW,
        policy=policy,
    )
    assert decision.reason == "oversized"
