"""Fakes for the witnessing tests: a toy log, and transports that need no network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from merkle_reference import ref_consistency, ref_root
from spec_witness import SpecWitness

from chain import note
from chain.checkpoint import Checkpoint, sign_checkpoint
from gateway._witness_http import Reply

ORIGIN = "farm.test/log"


class ToyLog:
    """Leaves in memory, checkpoints signed by a fresh log key; a :class:`ProofLog`."""

    def __init__(self, size: int, fork: bytes = b"") -> None:
        self.skey, self.vkey = note.generate_key(ORIGIN)
        self.leaves = [b"block %d%s" % (i, fork) for i in range(size)]

    @property
    def size(self) -> int:
        return len(self.leaves)

    def grow(self, count: int) -> None:
        self.leaves += [b"block %d" % (len(self.leaves) + i) for i in range(count)]

    def root(self, size: int) -> bytes:
        return ref_root(self.leaves[:size])

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return ref_consistency(self.leaves[:size2], size1)

    def signed(self, size: int | None = None) -> tuple[int, str]:
        size = self.size if size is None else size
        return size, sign_checkpoint(Checkpoint(ORIGIN, size, self.root(size)), self.skey)


class InProcess:
    """A transport that hands bodies straight to a SpecWitness."""

    def __init__(self, witness: SpecWitness) -> None:
        self.witness = witness

    def post(self, path: str, body: bytes) -> Reply:
        assert path == "/add-checkpoint"
        status, ctype, data = self.witness.handle(body)
        return Reply(status, ctype.split(";")[0], data)

    def close(self) -> None:
        pass


@dataclass
class Scripted:
    """A transport that answers from a list: a Reply, or an exception to raise."""

    answers: list[Reply | BaseException | Callable[[bytes], Reply]]
    bodies: list[bytes] = field(default_factory=list)

    def post(self, path: str, body: bytes) -> Reply:
        self.bodies.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer(body) if callable(answer) else answer

    def close(self) -> None:
        pass
