"""fetch_witness_head asks the spec's monitoring path first, farmtrace's older one on a 404."""

from __future__ import annotations

import hashlib

from chain import note
from chain.checkpoint import Checkpoint, generate_cosigner_key, sign_checkpoint
from chain.witness_policy import Witness
from gateway.witness_heads import fetch_witness_head

ORIGIN = "heads.test/log"
SKEY, VKEY = note.generate_key(ORIGIN)
_, WITNESS_VKEY = generate_cosigner_key("w.test/witness")
SIGNED = sign_checkpoint(Checkpoint(ORIGIN, 5, bytes(range(32))), SKEY)
SPEC_PATH = "/" + hashlib.sha256(ORIGIN.encode()).hexdigest() + "/checkpoint"
OLD_PATH = "/latest-checkpoint?origin=heads.test%2Flog"


class Paths:
    """A transport that answers 200 with the note at ``served`` paths, 404 elsewhere."""

    def __init__(self, *served: str) -> None:
        self.served = served
        self.asked: list[str] = []

    def __call__(self, method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        assert method == "GET" and url.startswith("http://w.test:7380/")
        path = url.removeprefix("http://w.test:7380")
        self.asked.append(path)
        if path in self.served:
            return 200, {}, SIGNED.encode()
        return 404, {}, b"not found\n"


def fetch(transport: Paths):  # type: ignore[no-untyped-def]
    witness = Witness(WITNESS_VKEY, "http://w.test:7380/")
    return fetch_witness_head(witness, ORIGIN, VKEY, transport=transport)


def test_a_witness_following_the_current_spec_is_asked_once() -> None:
    transport = Paths(SPEC_PATH)
    head = fetch(transport)
    assert (head.outcome, head.size, transport.asked) == ("known", 5, [SPEC_PATH])


def test_an_older_farmtrace_witness_is_asked_at_its_own_path_after_a_404() -> None:
    transport = Paths(OLD_PATH)
    head = fetch(transport)
    assert (head.outcome, head.size, transport.asked) == ("known", 5, [SPEC_PATH, OLD_PATH])


def test_404_at_both_paths_means_it_cosigned_nothing() -> None:
    transport = Paths()
    head = fetch(transport)
    assert (head.outcome, head.size, transport.asked) == ("none", 0, [SPEC_PATH, OLD_PATH])
