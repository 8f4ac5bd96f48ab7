"""Tests for chain.witness_policy: k-of-n witness policies and their JSON file."""

from __future__ import annotations

import hashlib
import json

import pytest

from chain import checkpoint, note
from chain.checkpoint import Checkpoint
from chain.errors import MalformedError, QuorumError, SignatureError
from chain.witness_policy import Witness, WitnessPolicy

ORIGIN = "farm.example/log"
LOG_SKEY, LOG_VKEY = note.generate_key(ORIGIN, seed=hashlib.sha256(b"log").digest())
KEYS = [
    checkpoint.generate_cosigner_key(f"w{i}.example/witness", seed=bytes([i]) * 32)
    for i in range(1, 4)
]
WITNESSES = tuple(Witness(vkey, f"http://127.0.0.1:{7380 + i}") for i, (_, vkey) in enumerate(KEYS))
CP = Checkpoint(ORIGIN, 9, hashlib.sha256(b"root").digest())
SIGNED = checkpoint.sign_checkpoint(CP, LOG_SKEY)


def _cosigned(*which: int, at: int = 1_700_000_000) -> str:
    lines = "".join(checkpoint.cosign(CP.to_text(), KEYS[i][0], at + i) for i in which)
    return SIGNED + lines


def test_two_of_three_accepts_two_and_names_them_with_their_times() -> None:
    policy = WitnessPolicy(2, WITNESSES)
    assert policy.check(_cosigned(0, 2)) == {
        "w1.example/witness": 1_700_000_000,
        "w3.example/witness": 1_700_000_002,
    }
    assert policy.describe() == "2 of 3 witnesses"


def test_one_cosignature_is_short_of_two_of_three() -> None:
    with pytest.raises(QuorumError, match=r"2 of 3 witnesses, found 1 \(w2.example/witness\)") as e:
        WitnessPolicy(2, WITNESSES).check(_cosigned(1))
    assert e.value.required == 2
    assert e.value.cosigners == ("w2.example/witness",)
    assert e.value.reason == "witness_quorum"


def test_an_untrusted_witness_does_not_count() -> None:
    stranger_skey, _ = checkpoint.generate_cosigner_key("w1.example/witness", seed=b"\x09" * 32)
    impostor = SIGNED + checkpoint.cosign(CP.to_text(), stranger_skey, 5)
    with pytest.raises(QuorumError, match="found 0"):
        WitnessPolicy(1, WITNESSES).check(impostor)


def test_a_trusted_witness_line_that_does_not_verify_raises() -> None:
    other = Checkpoint(ORIGIN, 10, CP.root_hash)
    misplaced = SIGNED + checkpoint.cosign(other.to_text(), KEYS[0][0], 5)
    with pytest.raises(SignatureError):
        WitnessPolicy(1, WITNESSES).check(misplaced)


def test_quorum_zero_accepts_a_bare_checkpoint() -> None:
    assert WitnessPolicy(0, WITNESSES).check(SIGNED) == {}
    assert WitnessPolicy(0).check(SIGNED) == {}
    assert WitnessPolicy(0).describe() == "no witnesses required"


def test_json_round_trips_and_reads_what_people_write() -> None:
    policy = WitnessPolicy(2, (*WITNESSES[:2], Witness(KEYS[2][1])))
    assert WitnessPolicy.from_json(policy.to_json()) == policy
    written = json.dumps({"witnesses": [{"vkey": KEYS[0][1]}, {"vkey": KEYS[1][1]}]})
    assert WitnessPolicy.from_json(written).quorum == 2  # default: all of them


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "expected JSON"),
        ("[]", "expected an object"),
        ('{"quorum": 1, "witnesses": [], "extra": 1}', "expected an object"),
        ('{"quorum": 1, "witnesses": []}', r"expected 0\.\.0"),
        ('{"quorum": true, "witnesses": []}', "integer"),
        ('{"witnesses": {}}', "must be a list"),
        ('{"witnesses": [{"url": "http://x"}]}', "vkey"),
        ('{"witnesses": [{"vkey": 5}]}', "must be a string"),
        ('{"witnesses": [{"vkey": "nope"}]}', "witness key"),
        (json.dumps({"witnesses": [{"vkey": LOG_VKEY}]}), "type 0x04"),
        (json.dumps({"witnesses": [{"vkey": KEYS[0][1], "url": "ftp://x"}]}), "http"),
        (json.dumps({"witnesses": [{"vkey": KEYS[0][1]}, {"vkey": KEYS[0][1]}]}), "twice"),
    ],
)
def test_bad_policies_are_refused_with_a_reason(document: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        WitnessPolicy.from_json(document)


def test_witness_names_come_from_their_keys() -> None:
    assert [w.name for w in WITNESSES] == [f"w{i}.example/witness" for i in range(1, 4)]
    assert WitnessPolicy(1, WITNESSES).verifier_keys == tuple(v for _, v in KEYS)


def test_one_key_under_two_names_is_refused_so_it_cannot_count_twice() -> None:
    # w1's key under another name (so another key ID): the same holder's cosignature
    # line, copied under both names, would count as two witnesses.
    _, alias_vkey = checkpoint.generate_cosigner_key("alias.example/witness", seed=bytes([1]) * 32)
    assert alias_vkey.split("+")[1] != KEYS[0][1].split("+")[1]
    message = "distinct public keys, found one key under both 'w1.example/witness' and 'alias"
    with pytest.raises(MalformedError, match=message):
        WitnessPolicy(2, (WITNESSES[0], Witness(alias_vkey)))
    document = json.dumps({"quorum": 2, "witnesses": [{"vkey": KEYS[0][1]}, {"vkey": alias_vkey}]})
    with pytest.raises(MalformedError, match="distinct public keys"):
        WitnessPolicy.from_json(document)
