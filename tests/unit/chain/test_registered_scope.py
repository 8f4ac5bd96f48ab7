"""A device registration's kinds and subjects: what its readings may report (issue 11 item 5)."""

from __future__ import annotations

import pytest

from chain import note
from chain.entries import (
    Entry,
    device_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.errors import AuthorizationError, MalformedEntryError
from chain.keyfile import SignerKey
from chain.registry import Grant, Registry, check_reading_allowed
from chain.trust import TrustRoot

ADMIN = SignerKey.generate("admin", seed=b"a" * 32)
DEV = SignerKey.generate("b1-temp", seed=b"d" * 32)
T0 = 1_767_225_600_000


def _grant(kinds: set[str], subjects: set[str]) -> Grant:
    return Grant(
        DEV.id, "device", DEV.public_key, frozenset(), T0, 3, frozenset(kinds), frozenset(subjects)
    )


@pytest.mark.parametrize(
    ("kind", "subject"),
    [("temperature", "barn:b1"), ("weight", "bird:0001"), ("weight", "bird:9999")],
)
def test_a_reading_the_registration_names_is_allowed(kind: str, subject: str) -> None:
    check_reading_allowed(
        _grant({"temperature", "weight"}, {"barn:b1", "bird:*"}), kind, subject, 9
    )


@pytest.mark.parametrize(
    ("kinds", "subjects", "kind", "subject", "reason"),
    [
        ({"temperature"}, {"barn:b1"}, "weight", "barn:b1", "kind_not_registered"),
        ({"temperature"}, {"barn:b1"}, "temperature", "barn:b2", "subject_not_registered"),
        ({"temperature"}, {"barn:b1"}, "temperature", "bird:0001", "subject_not_registered"),
        # A wildcard covers its own kind of subject only.
        ({"weight"}, {"bird:*"}, "weight", "barn:b1", "subject_not_registered"),
        # The kind is checked first: a reading wrong in both is a wrong kind.
        ({"temperature"}, {"barn:b1"}, "activity", "bird:9999", "kind_not_registered"),
        # Registrations made before v2 name neither: they allow no reading.
        (set(), set(), "temperature", "barn:b1", "kind_not_registered"),
        ({"temperature"}, set(), "temperature", "barn:b1", "subject_not_registered"),
    ],
)
def test_a_reading_outside_the_registration_is_refused_with_its_reason(
    kinds: set[str], subjects: set[str], kind: str, subject: str, reason: str
) -> None:
    with pytest.raises(AuthorizationError) as caught:
        check_reading_allowed(_grant(kinds, subjects), kind, subject, 9)
    assert caught.value.reason == reason
    assert "entry 9" in str(caught.value) and "entry 3" in str(caught.value)
    assert repr(subject if reason == "subject_not_registered" else kind) in str(caught.value)


def test_the_message_says_what_is_registered_and_what_was_found() -> None:
    with pytest.raises(AuthorizationError, match=r"registered for it: temperature, found 'weight'"):
        check_reading_allowed(_grant({"temperature"}, {"barn:b1"}), "weight", "bird:0001", 9)
    with pytest.raises(AuthorizationError, match="its registration lists no subjects"):
        check_reading_allowed(_grant({"temperature"}, set()), "temperature", "barn:b1", 9)


def _signed(payload: dict[str, object], key: SignerKey) -> Entry:
    return parse_entry(sign_entry(payload, key.id, key.seed))


def _registry(kinds: list[str], subjects: list[str]) -> Registry:
    _, verifier = note.generate_key("farm.example/log", seed=b"l" * 32)
    registry = Registry.from_trust_root(
        TrustRoot("farm.example/log", verifier, ((ADMIN.id, ADMIN.public_key),))
    )
    payload = device_payload(
        "register", DEV.id, 2, T0, pubkey=DEV.public_key, kinds=kinds, subjects=subjects
    )
    registry.apply(_signed(payload, ADMIN), 1)
    return registry


def _reading(kind: str, subject: str, value: float, unit: str) -> Entry:
    return _signed(reading_payload(DEV.id, 1, T0 + 1, kind, subject, value, unit), DEV)


def test_authorize_applies_the_registered_scope_of_the_grant_in_force() -> None:
    registry = _registry(["temperature"], ["barn:b1"])
    assert registry.authorize(_reading("temperature", "barn:b1", 21.0, "Cel"), 5) == DEV.public_key
    with pytest.raises(AuthorizationError) as caught:
        registry.authorize(_reading("weight", "bird:0001", 99, "kg"), 5)
    assert caught.value.reason == "kind_not_registered"
    with pytest.raises(AuthorizationError) as caught:
        registry.authorize(_reading("temperature", "barn:b2", 21.0, "Cel"), 5)
    assert caught.value.reason == "subject_not_registered"


def test_a_re_registration_changes_the_scope_from_its_ts_on() -> None:
    registry = _registry(["temperature"], ["barn:b1"])
    moved = device_payload(
        "register",
        DEV.id,
        3,
        T0 + 10,
        pubkey=DEV.public_key,
        kinds=["temperature"],
        subjects=["barn:b2"],
    )
    registry.apply(_signed(moved, ADMIN), 2)
    before = _signed(reading_payload(DEV.id, 1, T0 + 5, "temperature", "barn:b1", 21.0, "Cel"), DEV)
    after = _signed(reading_payload(DEV.id, 2, T0 + 15, "temperature", "barn:b1", 21.0, "Cel"), DEV)
    registry.authorize(before, 5)
    with pytest.raises(AuthorizationError) as caught:
        registry.authorize(after, 5)
    assert caught.value.reason == "subject_not_registered"


def test_the_scope_survives_the_trip_to_worker_processes() -> None:
    registry = _registry(["weight"], ["bird:*"])
    copy = Registry.from_grants(registry.grants())
    copy.authorize(_reading("weight", "bird:0001", 1.5, "kg"), 5)
    with pytest.raises(AuthorizationError):
        copy.authorize(_reading("weight", "barn:b1", 1.5, "kg"), 5)


@pytest.mark.parametrize(
    "subjects",
    [
        [],
        ["bird:**"],
        ["*"],
        ["bird:"],
        ["pack:*"],
        ["carcass:c1"],
        ["barn:b1", "barn:b1"],
        "barn:b1",
    ],
)
def test_registered_subjects_follow_their_grammar(subjects: object) -> None:
    payload = device_payload("register", DEV.id, 2, T0, pubkey=DEV.public_key, kinds=["weight"])
    with pytest.raises(MalformedEntryError, match="subjects"):
        sign_entry(payload | {"subjects": subjects}, ADMIN.id, ADMIN.seed)


def test_registered_subjects_may_be_exact_or_any_of_a_kind() -> None:
    subjects = ["barn:b1", "feeder:b1-feeder1", "bird:0001", "bird:*", "barn:*", "feeder:*"]
    entry = _signed(
        device_payload(
            "register", DEV.id, 2, T0, pubkey=DEV.public_key, kinds=["weight"], subjects=subjects
        ),
        ADMIN,
    )
    assert list(entry.payload["subjects"]) == subjects
