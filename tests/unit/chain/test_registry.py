"""Who may sign what, from when: the registry replayed from registration entries."""

from __future__ import annotations

from typing import Any

import pytest

from chain import note
from chain.entries import (
    Entry,
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.errors import AuthorizationError, UnknownSignerError
from chain.keyfile import SignerKey
from chain.registry import GENESIS_INDEX, Registry
from chain.trust import TrustRoot

ADMIN = SignerKey.generate("admin", seed=b"a" * 32)
VET = SignerKey.generate("vet-anna", seed=b"v" * 32)
DEV = SignerKey.generate("barn1-temp", seed=b"d" * 32)
T0 = 1_767_225_600_000
SCOPE: dict[str, Any] = {"kinds": ["temperature"], "subjects": ["barn:b1"]}


def _trust() -> TrustRoot:
    _, verifier = note.generate_key("farm.example/log", seed=b"l" * 32)
    return TrustRoot("farm.example/log", verifier, ((ADMIN.id, ADMIN.public_key),))


def _signed(payload: dict[str, object], key: SignerKey) -> Entry:
    return parse_entry(sign_entry(payload, key.id, key.seed))


def _reading(seq: int, ts: int, key: SignerKey = DEV) -> Entry:
    return _signed(reading_payload(key.id, seq, ts, "temperature", "barn:b1", 21.0, "Cel"), key)


def _apply(registry: Registry, entry: Entry, index: int) -> None:
    registry.authorize(entry, index)
    registry.apply(entry, index)


@pytest.fixture
def registry() -> Registry:
    registry = Registry.from_trust_root(_trust())
    _apply(
        registry,
        _signed(device_payload("register", DEV.id, 2, T0, pubkey=DEV.public_key, **SCOPE), ADMIN),
        1,
    )
    vet = operator_payload("register", VET.id, 3, T0, pubkey=VET.public_key, roles=["vet"])
    _apply(registry, _signed(vet, ADMIN), 2)
    return registry


def test_registered_device_may_sign_readings(registry: Registry) -> None:
    assert registry.authorize(_reading(1, T0), 10) == DEV.public_key


def test_registration_counts_only_for_later_entries(registry: Registry) -> None:
    with pytest.raises(UnknownSignerError):
        registry.authorize(_reading(1, T0), 1)


def test_readings_before_the_registration_time_are_refused(registry: Registry) -> None:
    with pytest.raises(AuthorizationError, match="before its registration"):
        registry.authorize(_reading(1, T0 - 1), 10)


def test_revocation_ends_the_key_at_its_time(registry: Registry) -> None:
    _apply(registry, _signed(device_payload("revoke", DEV.id, 4, T0 + 100), ADMIN), 5)
    assert registry.authorize(_reading(1, T0 + 99), 6) == DEV.public_key
    with pytest.raises(AuthorizationError, match="revoked"):
        registry.authorize(_reading(2, T0 + 100), 6)


def test_re_registration_rotates_the_key(registry: Registry) -> None:
    new = SignerKey.generate(DEV.id, seed=b"n" * 32)
    _apply(
        registry,
        _signed(
            device_payload("register", DEV.id, 4, T0 + 100, pubkey=new.public_key, **SCOPE), ADMIN
        ),
        5,
    )
    assert registry.authorize(_reading(1, T0 + 50), 6) == DEV.public_key
    assert registry.authorize(_reading(2, T0 + 100, new), 6) == new.public_key


def test_roles_decide_who_signs_what(registry: Registry) -> None:
    inspected = _signed(event_payload("inspected", 1, T0 + 1, ["barn:b1"], result="pass"), VET)
    assert registry.authorize(inspected, 10) == VET.public_key
    slaughtered = _signed(
        event_payload("slaughtered", 2, T0 + 1, ["bird:b7"], plant="p1", outputs=["carcass:b7"]),
        VET,
    )
    with pytest.raises(AuthorizationError, match="plant"):
        registry.authorize(slaughtered, 10)
    rogue = SignerKey.generate("rogue", seed=b"r" * 32)
    by_vet = _signed(device_payload("register", "rogue", 3, T0, pubkey=rogue.public_key), VET)
    with pytest.raises(AuthorizationError):
        registry.authorize(by_vet, 10)
    by_device = _signed(device_payload("register", "rogue", 1, T0, pubkey=rogue.public_key), DEV)
    with pytest.raises(AuthorizationError, match="device"):
        registry.authorize(by_device, 10)


def test_a_device_cannot_sign_events(registry: Registry) -> None:
    event = _signed(event_payload("inspected", 5, T0 + 1, ["barn:b1"], result="pass"), DEV)
    with pytest.raises(AuthorizationError):
        registry.authorize(event, 10)


def test_only_genesis_admins_may_self_register(registry: Registry) -> None:
    genesis = operator_payload(
        "register", ADMIN.id, 1, T0, pubkey=ADMIN.public_key, roles=["admin"]
    )
    assert registry.authorize(_signed(genesis, ADMIN), 0) == ADMIN.public_key
    rogue = SignerKey.generate("rogue", seed=b"r" * 32)
    self_made = operator_payload(
        "register", "rogue", 1, T0, pubkey=rogue.public_key, roles=["admin"]
    )
    with pytest.raises(AuthorizationError, match="genesis"):
        registry.authorize(_signed(self_made, rogue), 10)


def test_an_id_is_a_device_or_an_operator_not_both(registry: Registry) -> None:
    clash = operator_payload("register", DEV.id, 9, T0, pubkey=DEV.public_key, roles=["farm"])
    entry = _signed(clash, ADMIN)
    registry.authorize(entry, 10)
    with pytest.raises(AuthorizationError, match="already a device"):
        registry.apply(entry, 10)


def test_revoking_the_unknown_is_refused(registry: Registry) -> None:
    entry = _signed(device_payload("revoke", "ghost", 9, T0), ADMIN)
    with pytest.raises(AuthorizationError, match="unregistered"):
        registry.apply(entry, 10)


def test_grants_round_trip_for_worker_processes(registry: Registry) -> None:
    copy = Registry.from_grants(registry.grants())
    assert copy.grants() == registry.grants()
    assert copy.authorize(_reading(1, T0), 10) == DEV.public_key
    assert registry.grants()[0].index == GENESIS_INDEX
