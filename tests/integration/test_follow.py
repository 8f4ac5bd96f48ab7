"""chain.follow: a replica stores only what it verified, and refuses every kind of tampering."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from farm_logs import START_MS, LogFactory
from followed_logs import craft, follow, fork, grow

from chain import note
from chain.block import BlockHeader
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import device_payload, reading_payload, sign_entry
from chain.errors import (
    AuthorizationError,
    ChainLinkError,
    DuplicateEntryError,
    ForkError,
    MalformedBlockError,
    MalformedEntryError,
    ProofError,
    RollbackError,
    SignatureError,
    StorageError,
    UnknownSignerError,
)
from chain.follow import Follower
from chain.keyfile import SignerKey
from chain.store import Store


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LogFactory]:
    factory = LogFactory(tmp_path / "source")
    grow(factory, 4)  # genesis + registration + 3 blocks of readings
    yield factory
    factory.close()


@pytest.fixture
def replica(tmp_path: Path, source: LogFactory) -> Iterator[Store]:
    with Store.open(tmp_path / "replica", origin=source.store.origin) as store:
        yield store


@pytest.fixture
def follower(replica: Store, source: LogFactory) -> Follower:
    return Follower(replica, source.trust)


def snapshot(store: Store) -> tuple[Any, ...]:
    return (store.size, store.entry_count, store.root(), store.latest_checkpoint())


def test_a_good_log_follows_exactly_then_incrementally(
    source: LogFactory, replica: Store, follower: Follower
) -> None:
    follow(follower, source.store)
    assert snapshot(replica) == snapshot(source.store)
    grow(source, 3, per_block=5)
    grow(source, 2, dev="d2")  # a registration in the increment
    follow(follower, source.store)
    assert snapshot(replica) == snapshot(source.store)
    for height in range(source.store.size):
        assert replica.block_entries(height) == source.store.block_entries(height)
    # A restarted follower replays the registrations from its store.
    again = Follower(replica, source.trust)
    assert again.registry.grants() == follower.registry.grants()
    grow(source, 1, dev="d2")
    follow(again, source.store)
    assert snapshot(replica) == snapshot(source.store)


def test_a_store_of_another_log_is_refused(tmp_path: Path, source: LogFactory) -> None:
    with (
        Store.open(tmp_path / "other", origin="other.example/log") as other,
        pytest.raises(StorageError, match=r"other\.example/log"),
    ):
        Follower(other, source.trust)


def test_checkpoint_signature_and_origin(source: LogFactory, follower: Follower) -> None:
    size, signed = source.store.latest_checkpoint() or (0, "")
    parsed = note.parse(signed)
    sig = parsed.signatures[0]
    flipped = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    forged = note.Note(parsed.text, (dataclasses.replace(sig, signature=flipped),)).to_text()
    with pytest.raises(SignatureError):
        follower.verify_checkpoint(forged)
    # Same origin, another key.
    other_signer, _ = note.generate_key(source.store.origin)
    checkpoint = Checkpoint.from_text(parsed.text)
    with pytest.raises(UnknownSignerError, match="found none"):
        follower.verify_checkpoint(sign_checkpoint(checkpoint, other_signer))
    # Another origin, its own key.
    elsewhere_signer, _ = note.generate_key("other.example/log")
    elsewhere = Checkpoint("other.example/log", size, checkpoint.root_hash)
    with pytest.raises(UnknownSignerError, match="origin"):
        follower.verify_checkpoint(sign_checkpoint(elsewhere, elsewhere_signer))
    assert follower.verify_checkpoint(signed) == checkpoint


def _vet(follower: Follower, signed: str, proof: list[bytes] | None = None) -> Checkpoint:
    checkpoint = follower.verify_checkpoint(signed)
    follower.check_consistency(checkpoint, proof or [])
    return checkpoint


def test_forks_signed_by_the_same_log_key_are_refused(
    tmp_path: Path, source: LogFactory, replica: Store, follower: Follower
) -> None:
    common = source.store.size
    twin = fork(source, tmp_path / "twin")
    try:
        grow(source, 2)
        follow(follower, source.store)
        before = snapshot(replica)
        grow(twin, 2, dev="d9")  # same size as ours, another history
        same_size = twin.store.latest_checkpoint() or (0, "")
        assert same_size[0] == replica.size
        with pytest.raises(ForkError, match="our tree at that size"):
            _vet(follower, same_size[1])
        grow(twin, 3, dev="d9")  # bigger: its consistency proof cannot start from our root
        bigger_size, bigger = twin.store.latest_checkpoint() or (0, "")
        proof = twin.store.consistency_proof(replica.size, bigger_size)
        with pytest.raises(ForkError, match="not proven consistent"):
            _vet(follower, bigger, proof)
        smaller = twin.store.checkpoint(common + 1)  # smaller than ours, diverged already
        with pytest.raises(ForkError):
            _vet(follower, smaller)
        assert snapshot(replica) == before
    finally:
        twin.close()


def test_rollback_to_an_older_checkpoint_is_refused(
    source: LogFactory, replica: Store, follower: Follower
) -> None:
    follow(follower, source.store)
    before = snapshot(replica)
    with pytest.raises(RollbackError, match="older"):
        _vet(follower, source.store.checkpoint(2))
    assert snapshot(replica) == before


def test_a_checkpoint_without_an_accepted_consistency_check_is_not_used(
    source: LogFactory, follower: Follower
) -> None:
    size, signed = source.store.latest_checkpoint() or (0, "")
    checkpoint = follower.verify_checkpoint(signed)
    with pytest.raises(ValueError, match="vetted"):
        follower.accept_block(
            source.store.block_raw(0),
            source.store.block_entries(0),
            source.store.inclusion_proof(0, size),
            checkpoint,
        )


def _device_entry(source: LogFactory, action: str, dev: str, key: SignerKey | None) -> bytes:
    source.admin_seq += 1
    pubkey = None if key is None else key.public_key
    payload = device_payload(action, dev, source.admin_seq, START_MS - 400, pubkey=pubkey)
    return sign_entry(payload, "admin", source.admin.seed)


def _reading(dev: str, key: SignerKey, seq: int) -> bytes:
    payload = reading_payload(dev, seq, START_MS + seq, "temperature", "barn:b1", 20.0, "Cel")
    return sign_entry(payload, dev, key.seed)


def _bad_blocks(source: LogFactory) -> dict[str, tuple[Any, list[list[bytes]], Any]]:
    """name -> (expected error, crafted blocks, tweak)."""
    good = [e.raw for e in (source.reading("d1") for _ in range(2))]
    ghost = SignerKey.generate("ghost", seed=bytes([9]) * 32)
    revoked = SignerKey.generate("d5", seed=bytes([5]) * 32)
    raw = good[1]
    at = raw.rindex(b".") + 20  # inside the signature
    bad_sig = raw[:at] + (b"B" if raw[at : at + 1] == b"A" else b"A") + raw[at + 1 :]
    same = lambda _i, h: h  # noqa: E731
    return {
        "unregistered": (UnknownSignerError, [[_reading("ghost", ghost, 1)]], same),
        "revoked": (
            AuthorizationError,
            [
                [
                    _device_entry(source, "register", "d5", revoked),
                    _reading("d5", revoked, 1),
                    _device_entry(source, "revoke", "d5", None),
                ],
                [_reading("d5", revoked, 2)],
            ],
            same,
        ),
        "bad_signature": (SignatureError, [[good[0], bad_sig]], same),
        "malformed_entry": (MalformedEntryError, [[b"not.a.jws"]], same),
        "duplicate": (
            DuplicateEntryError,
            [[source.store.entry(source.store.entry_count - 1)]],
            same,
        ),
        "broken_link": (
            ChainLinkError,
            [good],
            lambda _i, h: dataclasses.replace(h, prev="ab" * 32),
        ),
        "wrong_first_index": (
            ChainLinkError,
            [good],
            lambda _i, h: dataclasses.replace(h, first_index=h.first_index + 1),
        ),
        "entries_root": (ProofError, [good], lambda _i, h: dataclasses.replace(h, count=1)),
    }


BAD = ["unregistered", "revoked", "bad_signature", "malformed_entry", "duplicate"]
BAD += ["broken_link", "wrong_first_index", "entries_root"]


@pytest.mark.parametrize("case", BAD)
def test_bad_blocks_in_a_signed_checkpoint_are_refused(
    case: str, source: LogFactory, replica: Store, follower: Follower
) -> None:
    follow(follower, source.store)
    expected, blocks, tweak = _bad_blocks(source)[case]
    crafted = craft(source, blocks, tweak=tweak)
    checkpoint = _vet(follower, crafted.note, crafted.consistency(replica.size))
    before, grants = snapshot(replica), follower.registry.grants()
    with pytest.raises(expected):
        for header_raw, entries, path in crafted.blocks:
            follower.accept_block(header_raw, entries, path, checkpoint)
            if case == "revoked":
                assert replica.size == before[0] + 1  # the first block was fine
                before, grants = snapshot(replica), follower.registry.grants()
    assert snapshot(replica) == before
    assert follower.registry.grants() == grants


def test_blocks_altered_by_the_source_or_not_in_the_checkpoint_are_refused(
    source: LogFactory, replica: Store, follower: Follower
) -> None:
    start = 3
    size, signed = source.store.latest_checkpoint() or (0, "")
    checkpoint = _vet(follower, signed)
    store = source.store

    def served(height: int) -> tuple[bytes, list[bytes], list[bytes]]:
        return (
            store.block_raw(height),
            store.block_entries(height),
            store.inclusion_proof(height, size),
        )

    for height in range(start):
        follower.accept_block(*served(height), checkpoint)
    before = snapshot(replica)
    header, entries, path = served(start)
    altered_entries = [entries[0], entries[0], *entries[2:]]
    with pytest.raises(ProofError, match="entries_root"):
        follower.accept_block(header, altered_entries, path, checkpoint)
    later = BlockHeader.from_bytes(header)
    altered_header = dataclasses.replace(later, closed_at=later.closed_at + 1).raw
    with pytest.raises(ProofError, match="inclusion proof"):
        follower.accept_block(altered_header, entries, path, checkpoint)
    with pytest.raises(ProofError, match="inclusion proof"):
        follower.accept_block(header, entries, served(start - 1)[2], checkpoint)
    with pytest.raises(MalformedBlockError):
        follower.accept_block(header + b" ", entries, path, checkpoint)
    with pytest.raises(ChainLinkError, match="block 4 served where block 3 is next"):
        follower.accept_block(*served(start + 1), checkpoint)
    assert snapshot(replica) == before
    # A checkpoint smaller than the block asked for does not cover it.
    small = _vet(follower, store.checkpoint(start))
    with pytest.raises(ProofError, match="beyond the checkpoint"):
        follower.accept_block(header, entries, path, small)
    assert snapshot(replica) == before
    checkpoint = _vet(follower, signed, store.consistency_proof(start, size))
    for height in range(start, size):
        follower.accept_block(*served(height), checkpoint)
    follower.commit_checkpoint(signed, checkpoint)
    assert snapshot(replica) == snapshot(store)


def test_a_cosigned_note_replaces_the_held_one_only_by_adding_lines(
    source: LogFactory, replica: Store, follower: Follower
) -> None:
    from chain.checkpoint import cosign, generate_cosigner_key

    follow(follower, source.store)
    size, signed = replica.latest_checkpoint() or (0, "")
    text = note.parse(signed).text
    witness, _ = generate_cosigner_key("witness.example", seed=bytes([3]) * 32)
    cosigned = signed + cosign(text, witness, 1_767_225_000)
    checkpoint = _vet(follower, cosigned)
    assert follower.commit_checkpoint(cosigned, checkpoint)
    assert replica.checkpoint(size) == cosigned
    assert not follower.commit_checkpoint(signed, _vet(follower, signed))  # would drop a line
    assert replica.checkpoint(size) == cosigned
