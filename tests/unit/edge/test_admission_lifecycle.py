"""Admission judges events by the lifecycle rules last, and changes nothing itself."""

from __future__ import annotations

from chain import note
from chain.entries import event_payload, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from chain.lifecycle import LifecycleState
from chain.registry import Registry
from chain.trust import TrustRoot
from gateway.admission import Decision, Verdict, admit

ADMIN = SignerKey.generate("admin", seed=b"a" * 32)
PLANT = SignerKey.generate("plant", seed=b"p" * 32)
NOW = 1_767_225_600_000


def _registry() -> Registry:
    _, verifier = note.generate_key("farm.example/log", seed=b"l" * 32)
    registry = Registry.from_trust_root(
        TrustRoot("farm.example/log", verifier, ((ADMIN.id, ADMIN.public_key),))
    )
    payload = operator_payload(
        "register", PLANT.id, 2, NOW - 3_600_000, pubkey=PLANT.public_key, roles=["plant"]
    )
    reg = parse_entry(sign_entry(payload, ADMIN.id, ADMIN.seed))
    registry.authorize(reg, 1)
    registry.apply(reg, 1)
    return registry


def _slaughter(seq: int, ts: int = NOW, output: str = "carcass:1") -> bytes:
    payload = event_payload("slaughtered", seq, ts, ["bird:1"], plant="P", outputs=[output])
    return sign_entry(payload, PLANT.id, PLANT.seed)


def _admit(raw: bytes, state: LifecycleState, held: dict[int, bytes] | None = None) -> Decision:
    return admit(
        raw,
        publisher=PLANT.id,
        registry=_registry(),
        held=lambda s, q: (3, (held or {})[q]) if q in (held or {}) else None,
        next_index=10,
        now_ms=NOW,
        lifecycle=state,
    )


def test_an_event_against_the_log_is_rejected_with_its_rule() -> None:
    state = LifecycleState()
    decision = _admit(_slaughter(1), state)
    assert (decision.verdict, decision.reason) == (Verdict.REJECTED, "lifecycle_conflict")
    assert decision.message == "slaughtered: bird:1 was never hatched"
    assert decision.entry is not None and decision.entry.seq == 1


def test_earlier_checks_keep_their_reasons_and_admission_applies_nothing() -> None:
    state = LifecycleState()
    hatched = event_payload("hatched", 1, NOW, ["bird:1"], breed="Ross 308")
    state.apply(parse_entry(sign_entry(hatched, "hatchery", b"h" * 32)), 2)
    first = _slaughter(2)
    assert _admit(first, state).verdict is Verdict.ACCEPTED
    assert _admit(first, state).verdict is Verdict.ACCEPTED, "admit itself records nothing"
    state.apply(parse_entry(first), 10)
    assert _admit(_slaughter(3, ts=NOW + 3_600_000), state).reason == "clock_skew"
    assert _admit(_slaughter(2, output="cut:1"), state, {2: first}).reason == "equivocation"
    assert _admit(first, state, {2: first}).verdict is Verdict.DUPLICATE
    assert _admit(_slaughter(3), state).reason == "lifecycle_conflict"
