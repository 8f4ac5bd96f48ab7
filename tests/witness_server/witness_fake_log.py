"""A toy transparency log for witness tests: leaves in memory, checkpoints signed with chain.

It builds ``add-checkpoint`` request bodies with :mod:`chain` (the spec
client in test_witness_conformance.py deliberately does not).
"""

from __future__ import annotations

from chain import merkle, note
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.tlog_witness import AddCheckpointRequest


class FakeLog:
    """A log named ``origin`` whose leaves are ``b"leaf <i>"`` (or a ``fork`` of them)."""

    def __init__(self, origin: str = "log.test/a", *, fork: bytes = b"") -> None:
        self.origin = origin
        self.skey, self.vkey = note.generate_key(origin)
        self.fork = fork

    def leaves(self, size: int) -> list[bytes]:
        return [b"leaf %d%s" % (i, self.fork) for i in range(size)]

    def root(self, size: int) -> bytes:
        return merkle.root_hash(self.leaves(size))

    def checkpoint(self, size: int) -> Checkpoint:
        return Checkpoint(self.origin, size, self.root(size))

    def signed(self, size: int) -> str:
        return sign_checkpoint(self.checkpoint(size), self.skey)

    def proof(self, old: int, size: int) -> tuple[bytes, ...]:
        return tuple(merkle.consistency_proof(self.leaves(size), old))

    def request(self, old: int, size: int) -> AddCheckpointRequest:
        """A valid request from ``old`` to ``size`` (a proof from our own tree)."""
        return AddCheckpointRequest(old, self.proof(old, size), self.signed(size))

    def body(self, old: int, size: int) -> bytes:
        return self.request(old, size).to_bytes()

    def sibling(self, fork: bytes) -> FakeLog:
        """The same origin and key, other leaves: a fork the log's owner could sign."""
        other = FakeLog(self.origin, fork=fork)
        other.skey, other.vkey = self.skey, self.vkey
        return other
