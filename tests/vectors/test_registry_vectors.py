"""Every case of registry.json through chain/'s registry commitment, as the browser decides it.

tests/browser/test_registry_vectors_js.py runs the same file through verify/registry.js.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from make_registry_vectors import REGISTRY_VECTORS, vectors

from chain.checkpoint import Checkpoint
from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.registry_commitment import (
    RegistryCommitment,
    RegistryProof,
    RegistryTree,
    history_head,
    leaf_input,
    registry_record,
    verify_registry_proof,
)

DOCUMENT: dict[str, Any] = json.loads(REGISTRY_VECTORS.read_text())
CASES = DOCUMENT["cases"]


def decide(case: dict[str, Any]) -> bool:
    """Whether chain/ accepts the case's history and proof as its signer's whole history."""
    shown = case["checkpoint"]
    proof = case["proof"]
    try:
        checkpoint = Checkpoint("o", shown["size"], bytes(32), tuple(shown["extensions"]))
        commitment = RegistryCommitment.from_checkpoint(checkpoint)
        if proof["size"] != checkpoint.size:
            return False
        path = tuple(base64.b64decode(h) for h in proof["path"])
        records = [
            (e["index"], hashlib.sha256(e["jws"].encode()).digest()) for e in case["entries"]
        ]
        served = RegistryProof(case["signer"], proof["leaf_index"], proof["signers"], path)
        verify_registry_proof(commitment, case["signer"], records, served)
    except FarmtraceError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_chain_decides_each_case_as_the_file_says(case: dict[str, Any]) -> None:
    assert decide(case) is case["accept"]


def test_the_known_answers_are_chains() -> None:
    known = DOCUMENT["known"]
    tree = RegistryTree()
    for e in known["entries"]:
        tree.add_entries([parse_entry(e["jws"].encode())], e["index"])
    assert tree.commitment().to_line() == known["line"]
    for signer, answer in known["signers"].items():
        records = [
            registry_record(parse_entry(e["jws"].encode()), e["index"]) for e in known["entries"]
        ]
        mine = [r for r in records if r is not None and r.signer == signer]
        assert history_head(mine).hex() == answer["head"]
        assert leaf_input(signer, len(mine), history_head(mine)).hex() == answer["leaf"]


def test_the_cases_include_the_lies_the_issue_names() -> None:
    names = {c["name"] for c in CASES if not c["accept"]}
    assert {"revocation hidden", "wrong count: an entry added", "wrong order"} <= names
    assert sum(c["accept"] for c in CASES) == len(DOCUMENT["known"]["signers"])


def test_the_checked_in_file_is_what_the_generator_makes() -> None:
    assert json.loads(json.dumps(vectors())) == DOCUMENT  # regenerate: make_registry_vectors.py
