"""Corrupted proofs must raise ProofError: the mutation cases of transparency-dev/merkle.

Each valid case (the known answers and transparency-dev's happy paths, see
test_merkle_vectors.py) is mutated the way proof/verify_test.go and the files
under testdata/ do: wrong index or size, wrong leaf or root, garbage hashes
before or after the proof, a removed or inserted hash, and every single bit of
every proof hash flipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from merkle_consistency_cases import Consistency, valid_consistencies

from chain._encoding import b64_decode
from chain.errors import ProofError, VerificationError
from chain.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

_DATA = Path(__file__).parent / "data"
_KAT: dict[str, Any] = json.loads((_DATA / "merkle_rfc6962_known_answers.json").read_text())
_HAPPY: dict[str, Any] = json.loads(
    (_DATA / "merkle_transparency_dev_happy_paths.json").read_text()
)

# sha256SomeHash of proof/verify_test.go: 32 bytes that are no node of any test tree.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@dataclass(frozen=True, slots=True)
class Inclusion:
    name: str
    index: int
    size: int
    leaf: bytes
    proof: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        verify_inclusion(self.index, self.size, self.leaf, list(self.proof), self.root)


def _valid_inclusions() -> list[Inclusion]:
    leaves = [bytes.fromhex(h) for h in _KAT["leaf_inputs"]]
    roots = [bytes.fromhex(h) for h in _KAT["roots_by_size"]]
    cases = [
        Inclusion(
            f"kat-{c['index']}-{c['size']}",
            c["index"],
            c["size"],
            leaf_hash(leaves[c["index"]]),
            tuple(bytes.fromhex(h) for h in c["proof"]),
            roots[c["size"]],
        )
        for c in _KAT["inclusion"]
    ]
    cases += [
        Inclusion(
            c["name"],
            c["leafIdx"],
            c["treeSize"],
            b64_decode(c["leafHash"]),
            tuple(b64_decode(h) for h in c["proof"]),
            b64_decode(c["root"]),
        )
        for c in _HAPPY["inclusion"]
    ]
    return cases


def _inclusion_mutations(c: Inclusion) -> Iterator[Inclusion]:
    yield replace(c, name=f"{c.name}: index - 1", index=c.index - 1)
    yield replace(c, name=f"{c.name}: index + 1", index=c.index + 1)
    yield replace(c, name=f"{c.name}: index ^ 2", index=c.index ^ 2)
    yield replace(c, name=f"{c.name}: size * 2", size=c.size * 2)
    yield replace(c, name=f"{c.name}: size // 2", size=c.size // 2)
    yield replace(c, name=f"{c.name}: wrong leaf", leaf=b"WrongLeaf")
    yield replace(c, name=f"{c.name}: other leaf", leaf=leaf_hash(b"other"))
    yield replace(c, name=f"{c.name}: empty root", root=EMPTY_ROOT)
    yield replace(c, name=f"{c.name}: random root", root=SOME_HASH)
    yield replace(c, name=f"{c.name}: trailing garbage", proof=(*c.proof, b""))
    yield replace(c, name=f"{c.name}: trailing root", proof=(*c.proof, c.root))
    yield replace(c, name=f"{c.name}: preceding garbage", proof=(b"", *c.proof))
    yield replace(c, name=f"{c.name}: preceding root", proof=(c.root, *c.proof))
    if c.proof:
        yield replace(c, name=f"{c.name}: empty proof", proof=())
        yield replace(c, name=f"{c.name}: removed component", proof=c.proof[:-1])
    if len(c.proof) > 1:
        inserted = (c.proof[0], SOME_HASH, *c.proof[1:])
        yield replace(c, name=f"{c.name}: inserted component", proof=inserted)


def _consistency_mutations(c: Consistency) -> Iterator[Consistency]:
    yield replace(c, name=f"{c.name}: size1 - 1", size1=c.size1 - 1)
    yield replace(c, name=f"{c.name}: size1 + 1", size1=c.size1 + 1)
    yield replace(c, name=f"{c.name}: size1 ^ 2", size1=c.size1 ^ 2)
    yield replace(c, name=f"{c.name}: size2 * 2", size2=c.size2 * 2)
    yield replace(c, name=f"{c.name}: size2 // 2", size2=c.size2 // 2)
    yield replace(c, name=f"{c.name}: wrong root1", root1=b"WrongRoot")
    yield replace(c, name=f"{c.name}: wrong root2", root2=b"WrongRoot")
    yield replace(c, name=f"{c.name}: random root1", root1=SOME_HASH)
    yield replace(c, name=f"{c.name}: random root2", root2=SOME_HASH)
    yield replace(c, name=f"{c.name}: swapped roots", root1=c.root2, root2=c.root1)
    yield replace(c, name=f"{c.name}: empty proof", proof=())
    yield replace(c, name=f"{c.name}: trailing garbage", proof=(*c.proof, b""))
    yield replace(c, name=f"{c.name}: trailing root1", proof=(*c.proof, c.root1))
    yield replace(c, name=f"{c.name}: trailing root2", proof=(*c.proof, c.root2))
    yield replace(c, name=f"{c.name}: preceding garbage", proof=(b"", *c.proof))
    yield replace(c, name=f"{c.name}: preceding root1", proof=(c.root1, *c.proof))
    yield replace(c, name=f"{c.name}: preceding root2", proof=(c.root2, *c.proof))
    yield replace(c, name=f"{c.name}: preceding proof[0]", proof=(c.proof[0], *c.proof))
    yield replace(c, name=f"{c.name}: truncated proof", proof=c.proof[:-1])


def _bit_flips(proof: tuple[bytes, ...]) -> Iterator[tuple[str, tuple[bytes, ...]]]:
    for position, hashed in enumerate(proof):
        for bit in range(len(hashed) * 8):
            flipped = bytearray(hashed)
            flipped[bit // 8] ^= 0x80 >> (bit % 8)
            yield (
                f"proof[{position}] bit {bit}",
                (*proof[:position], bytes(flipped), *proof[position + 1 :]),
            )


VALID_INCLUSIONS = _valid_inclusions()
# Trivial consistency proofs (size1 == size2) are left out, as in verify_test.go:
# swapping two equal roots, say, is no corruption. They are covered below.
NONTRIVIAL_CONSISTENCIES = [c for c in valid_consistencies() if c.proof]
INCLUSION_MUTANTS = [m for c in VALID_INCLUSIONS for m in _inclusion_mutations(c)]
CONSISTENCY_MUTANTS = [m for c in NONTRIVIAL_CONSISTENCIES for m in _consistency_mutations(c)]


def _names(case: Inclusion | Consistency) -> str:
    return case.name


@pytest.mark.parametrize("case", [*VALID_INCLUSIONS, *valid_consistencies()], ids=_names)
def test_unmutated_case_verifies(case: Inclusion | Consistency) -> None:
    case.verify()


@pytest.mark.parametrize("mutant", INCLUSION_MUTANTS, ids=_names)
def test_mutated_inclusion_proof_is_rejected(mutant: Inclusion) -> None:
    with pytest.raises(ProofError):
        mutant.verify()


@pytest.mark.parametrize("mutant", CONSISTENCY_MUTANTS, ids=_names)
def test_mutated_consistency_proof_is_rejected(mutant: Consistency) -> None:
    with pytest.raises(ProofError):
        mutant.verify()


def _accepted(verify: Callable[[], None]) -> bool:
    try:
        verify()
    except ProofError:
        return False
    return True


@pytest.mark.parametrize("case", [c for c in VALID_INCLUSIONS if c.proof], ids=_names)
def test_every_bit_flip_of_an_inclusion_proof_is_rejected(case: Inclusion) -> None:
    accepted = [
        name
        for name, proof in _bit_flips(case.proof)
        if _accepted(replace(case, proof=proof).verify)
    ]
    assert accepted == []


@pytest.mark.parametrize("case", NONTRIVIAL_CONSISTENCIES, ids=_names)
def test_every_bit_flip_of_a_consistency_proof_is_rejected(case: Consistency) -> None:
    accepted = [
        name
        for name, proof in _bit_flips(case.proof)
        if _accepted(replace(case, proof=proof).verify)
    ]
    assert accepted == []


def test_a_root_does_not_commit_to_the_tree_size() -> None:
    # Why "size + 1" is no mutation above: leaf 1 has the same audit-path shape
    # in trees of 5 and 6 leaves, so a size-5 proof also "verifies" for size 6
    # against the size-5 root. Sizes must come from the signed checkpoint.
    case = next(c for c in VALID_INCLUSIONS if (c.index, c.size) == (1, 5))
    replace(case, size=6).verify()


def test_root_mismatch_reports_expected_and_calculated() -> None:
    case = VALID_INCLUSIONS[-1]
    with pytest.raises(ProofError) as caught:
        replace(case, root=SOME_HASH).verify()
    assert caught.value.expected == SOME_HASH
    assert caught.value.calculated == case.root
    assert SOME_HASH.hex() in str(caught.value)
    assert isinstance(caught.value, VerificationError)
    assert caught.value.reason == "bad_proof"


def test_consistency_mismatch_reports_the_root_that_differs() -> None:
    case = NONTRIVIAL_CONSISTENCIES[-1]
    with pytest.raises(ProofError, match="first root") as first:
        replace(case, root1=SOME_HASH).verify()
    assert (first.value.expected, first.value.calculated) == (SOME_HASH, case.root1)
    with pytest.raises(ProofError, match="second root") as second:
        replace(case, root2=SOME_HASH).verify()
    assert (second.value.expected, second.value.calculated) == (SOME_HASH, case.root2)


def test_malformed_proof_has_no_expected_or_calculated() -> None:
    case = VALID_INCLUSIONS[-1]
    with pytest.raises(ProofError, match="must have 3 hashes, found 2") as caught:
        replace(case, proof=case.proof[:-1]).verify()
    assert caught.value.expected is None
    assert caught.value.calculated is None


def test_proof_hash_of_the_wrong_type_is_rejected() -> None:
    case = VALID_INCLUSIONS[-1]
    as_text: Any = (case.proof[0].hex(), *case.proof[1:])
    with pytest.raises(ProofError, match="32 bytes, found str"):
        replace(case, proof=as_text).verify()


# Single-leaf and degenerate trees, after TestVerifyInclusionSingleEntry and
# TestVerifyInclusion of proof/verify_test.go.
_DATA_HASH = leaf_hash(b"data")


@pytest.mark.parametrize(
    ("index", "size", "leaf", "root"),
    [
        (0, 1, _DATA_HASH, b""),
        (0, 1, b"", _DATA_HASH),
        (0, 1, b"", b""),
        (0, 0, SOME_HASH, EMPTY_ROOT),
        (1, 0, SOME_HASH, EMPTY_ROOT),
        (2, 1, SOME_HASH, EMPTY_ROOT),
        (0, 1, SOME_HASH, EMPTY_ROOT),
        (-1, 1, _DATA_HASH, _DATA_HASH),
    ],
)
def test_degenerate_inclusion_is_rejected(index: int, size: int, leaf: bytes, root: bytes) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, [], root)


def test_single_leaf_tree_root_is_the_leaf_hash() -> None:
    verify_inclusion(0, 1, _DATA_HASH, [], _DATA_HASH)
    assert root_from_inclusion_proof(0, 1, _DATA_HASH, []) == _DATA_HASH


_R1, _R2 = leaf_hash(b"one"), leaf_hash(b"two")


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "root1", "root2"),
    [
        (1, 1, [], _R1, _R2),  # same size, different roots
        (0, 0, [], _R1, _R1),  # equal roots, but not the empty tree's
        (0, 1, [], _R1, _R2),  # the empty tree's root is fixed
        (1, 0, [], _R1, _R2),  # time travel to the past
        (2, 1, [], _R1, _R2),
        (1, 2, [], _R1, _R2),  # a real proof is needed
        (0, 0, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT),  # proofs that must be empty
        (0, 1, [EMPTY_ROOT], EMPTY_ROOT, _R2),
        (1, 1, [EMPTY_ROOT], _R1, _R1),
        (-1, 1, [], EMPTY_ROOT, _R2),
        (0, 1, [], b"", _R2),
        (1, 1, [], b"short", b"short"),
    ],
)
def test_degenerate_consistency_is_rejected(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, root2)


@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2"),
    [(0, 0, EMPTY_ROOT, EMPTY_ROOT), (0, 1, EMPTY_ROOT, _R2), (1, 1, _R1, _R1)],
)
def test_trivially_consistent_sizes(size1: int, size2: int, root1: bytes, root2: bytes) -> None:
    verify_consistency(size1, size2, [], root1, root2)
