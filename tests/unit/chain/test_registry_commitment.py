"""The registry commitment: a naive reference against the incremental tree, proofs, negatives."""

from __future__ import annotations

import hashlib
import random

import pytest

from chain import merkle
from chain._encoding import b64_encode
from chain.checkpoint import Checkpoint
from chain.entries import device_payload, operator_payload, parse_entry, sign_entry
from chain.errors import MalformedNoteError, RegistryCommitmentError
from chain.keyfile import SignerKey
from chain.registry_commitment import (
    RegistryCommitment,
    RegistryRecord,
    RegistryTree,
    check_checkpoint_registry,
    commitment_of,
    history_head,
    leaf_input,
    registry_record,
    verify_registry_proof,
)
from tests.merkle_reference import ref_inclusion, ref_root

ADMIN = SignerKey.generate("admin", seed=b"a" * 32)
T0 = 1_767_225_600_000


def _reference(records: list[RegistryRecord]) -> tuple[int, bytes]:
    """The commitment straight from the definition (docs/registry-commitment.md)."""
    histories: dict[str, list[RegistryRecord]] = {}
    for record in sorted(records, key=lambda r: r.index):
        histories.setdefault(record.signer, []).append(record)
    leaves = []
    for signer in sorted(histories, key=lambda s: s.encode("ascii")):
        head = bytes(32)
        for r in histories[signer]:
            head = hashlib.sha256(head + r.index.to_bytes(8, "big") + r.entry_hash).digest()
        count = len(histories[signer])
        name = signer.encode("ascii")
        leaves.append(bytes([len(name)]) + name + count.to_bytes(8, "big") + head)
    return len(leaves), ref_root(leaves)


def _random_records(rng: random.Random, count: int) -> list[RegistryRecord]:
    ids = [f"{rng.choice('abcXYZ09')}{rng.randrange(20)}" for _ in range(max(1, count // 3))]
    index = 0
    records = []
    for _ in range(count):
        index += rng.randrange(1, 5)
        records.append(RegistryRecord(rng.choice(ids), index, rng.randbytes(32)))
    return records


@pytest.mark.parametrize("seed", range(25))
def test_incremental_tree_matches_the_reference_at_every_step(seed: int) -> None:
    rng = random.Random(seed)
    records = _random_records(rng, rng.randrange(0, 40))
    tree = RegistryTree()
    for n, record in enumerate(records):
        if rng.random() < 0.5:  # commitments in between must not disturb the cache
            assert (tree.commitment().signers, tree.commitment().root) == _reference(records[:n])
        tree.add(record)
    expected = _reference(records)
    assert (tree.commitment().signers, tree.commitment().root) == expected
    assert commitment_of(records) == tree.commitment()
    for cut in (0, 1, len(records) // 2, len(records)):
        limit = records[cut].index if cut < len(records) else 10**9
        found = tree.commitment_before(limit)
        assert (found.signers, found.root) == _reference(records[:cut])


def test_the_empty_registry_commits_to_the_empty_tree() -> None:
    assert RegistryTree().commitment() == RegistryCommitment(0, merkle.EMPTY_ROOT)
    line = RegistryTree().commitment().to_line()
    assert line == f"farmtrace-registry 0 {b64_encode(hashlib.sha256(b'').digest())}"


@pytest.mark.parametrize("seed", range(10))
def test_every_signers_proof_verifies_and_matches_the_reference_path(seed: int) -> None:
    rng = random.Random(100 + seed)
    records = _random_records(rng, rng.randrange(1, 30))
    tree = RegistryTree()
    for record in records:
        tree.add(record)
    commitment = tree.commitment()
    signers = sorted({r.signer for r in records})
    for position, signer in enumerate(signers):
        proof = tree.proof(signer)
        assert proof is not None and proof.leaf_index == position
        history = [(r.index, r.entry_hash) for r in records if r.signer == signer]
        verify_registry_proof(commitment, signer, history, proof)
        leaves = [
            leaf_input(s, sum(r.signer == s for r in records), history_head(_of(records, s)))
            for s in signers
        ]
        assert list(proof.path) == ref_inclusion(leaves, position)
    assert tree.proof("nobody") is None


def _of(records: list[RegistryRecord], signer: str) -> list[RegistryRecord]:
    return [r for r in records if r.signer == signer]


def _history() -> tuple[RegistryTree, list[tuple[int, bytes]]]:
    tree = RegistryTree()
    for record in [
        RegistryRecord("barn1-temp", 1, b"\x01" * 32),
        RegistryRecord("vet", 2, b"\x02" * 32),
        RegistryRecord("barn1-temp", 5, b"\x05" * 32),  # its revocation
        RegistryRecord("zz", 7, b"\x07" * 32),
    ]:
        tree.add(record)
    return tree, [(1, b"\x01" * 32), (5, b"\x05" * 32)]


@pytest.mark.parametrize(
    "lie",
    ["missing revocation", "wrong count", "wrong order", "altered entry", "other signer"],
)
def test_a_history_that_is_not_the_committed_one_is_refused(lie: str) -> None:
    tree, history = _history()
    proof = tree.proof("barn1-temp")
    assert proof is not None
    verify_registry_proof(tree.commitment(), "barn1-temp", history, proof)
    shown = {
        "missing revocation": history[:1],
        "wrong count": [*history, (6, b"\x06" * 32)],
        "wrong order": history[::-1],
        "altered entry": [history[0], (5, b"\x55" * 32)],
        "other signer": history,
    }[lie]
    signer = "barn1-tempX" if lie == "other signer" else "barn1-temp"
    with pytest.raises(RegistryCommitmentError) as caught:
        verify_registry_proof(tree.commitment(), signer, shown, proof)
    assert caught.value.reason == "registry_commitment"


def test_a_proof_for_another_tree_size_is_refused() -> None:
    tree, history = _history()
    proof = tree.proof("barn1-temp")
    assert proof is not None
    bigger = RegistryCommitment(proof.signers + 1, tree.commitment().root)
    with pytest.raises(RegistryCommitmentError, match="another signer or tree"):
        verify_registry_proof(bigger, "barn1-temp", history, proof)


def test_records_must_come_in_log_order() -> None:
    tree = RegistryTree()
    tree.add(RegistryRecord("a", 3, bytes(32)))
    with pytest.raises(ValueError, match="after one at 3"):
        tree.add(RegistryRecord("b", 3, bytes(32)))


def test_registry_records_come_from_device_and_operator_entries_only() -> None:
    dev = SignerKey.generate("barn1-temp", seed=b"d" * 32)
    raw = sign_entry(device_payload("revoke", dev.id, 4, T0), ADMIN.id, ADMIN.seed)
    record = registry_record(parse_entry(raw), 9)
    assert record == RegistryRecord("barn1-temp", 9, hashlib.sha256(raw).digest())
    op = operator_payload("register", "vet", 5, T0, pubkey=dev.public_key, roles=["vet"])
    assert registry_record(parse_entry(sign_entry(op, ADMIN.id, ADMIN.seed)), 10) == RegistryRecord(
        "vet", 10, hashlib.sha256(sign_entry(op, ADMIN.id, ADMIN.seed)).digest()
    )


def _checkpoint(*extensions: str) -> Checkpoint:
    return Checkpoint("farm.example/log", 3, b"\x00" * 32, tuple(extensions))


def test_a_checkpoint_line_must_be_present_once_and_say_the_commitment() -> None:
    tree, _ = _history()
    line = tree.commitment().to_line()
    check_checkpoint_registry(_checkpoint("other ext", line), tree.commitment())
    assert RegistryCommitment.from_checkpoint(_checkpoint(line)) == tree.commitment()
    with pytest.raises(RegistryCommitmentError, match="found 0"):
        check_checkpoint_registry(_checkpoint(), tree.commitment())
    with pytest.raises(RegistryCommitmentError, match="found 2"):
        check_checkpoint_registry(_checkpoint(line, line), tree.commitment())
    stale = tree.commitment_before(5).to_line()
    with pytest.raises(RegistryCommitmentError, match="not the log's registrations") as caught:
        check_checkpoint_registry(_checkpoint(stale), tree.commitment())
    assert caught.value.expected == line and caught.value.found == stale


@pytest.mark.parametrize(
    "line",
    [
        "farmtrace-registry",
        "farmtrace-registry 01 AAAA",
        "farmtrace-registry 1 AAAA",
        "farmtrace-registry 1 " + b64_encode(bytes(32)) + " x",
        "farmtrace-registry -1 " + b64_encode(bytes(32)),
        "farmtrace-registry 1 !!" + b64_encode(bytes(32))[2:],
    ],
)
def test_a_malformed_line_is_refused(line: str) -> None:
    with pytest.raises(MalformedNoteError):
        RegistryCommitment.from_checkpoint(_checkpoint(line))
