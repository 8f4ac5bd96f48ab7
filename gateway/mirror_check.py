"""What a mirror of the gateway's log holds, checked against the gateway's own store.

A mirror (the consumer site's replica, or any read API copying this log)
serves at ``/checkpoint`` the newest checkpoint it accepted, which for the
site is one the witness quorum cosigned, and at ``/api/v1/blocks/<height>``
every block it holds, including blocks it copied ahead of that checkpoint
(``farmtrace site run --stage-uncosigned``). Blocks are hash-linked, so a
mirror whose block ``n - 1`` has the hash of ours holds our first ``n``
blocks exactly.

:func:`check_cosigned` and :func:`probe_held` read one mirror through a
:class:`~readapi.ReadApiClient`; the caller owns the network timing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import ForkError, RollbackError, SourceError
from chain.store import Store
from chain.witness_policy import WitnessPolicy
from readapi import ReadApiClient

__all__ = ["MirrorView", "check_cosigned", "probe_held"]


@dataclass(frozen=True, slots=True)
class MirrorView:
    """What one mirror was seen to hold: ``cosigned`` blocks under a quorum-cosigned
    checkpoint, and ``held`` blocks in all (``held >= cosigned``), all of them ours."""

    url: str
    cosigned: int
    held: int


def check_cosigned(signed_note: str, store: Store, log_key: str, policy: WitnessPolicy) -> int:
    """The size of the mirror's checkpoint ``signed_note`` once it is ours and cosigned.

    Raises:
        MalformedNoteError, UnknownSignerError, SignatureError: not a checkpoint
            of this log signed by ``log_key``.
        QuorumError: fewer than ``policy.quorum`` of its witnesses cosigned it.
        ForkError: our tree has another root at its size: the mirror holds
            another history (never receipt on it).
        RollbackError: it is bigger than our store: this store is behind the
            log the mirror holds (a rolled-back or wrong data directory).
    """
    checkpoint: Checkpoint = open_checkpoint(signed_note, log_key)
    policy.check(signed_note)
    if checkpoint.size > store.size:
        raise RollbackError(
            f"the mirror holds a checkpoint of {checkpoint.size} blocks, this store "
            f"{store.size}: it is behind the log the mirror holds"
        )
    if checkpoint.size and store.root(checkpoint.size) != checkpoint.root_hash:
        raise ForkError(
            f"the mirror's checkpoint of size {checkpoint.size} has root "
            f"{checkpoint.root_hash.hex()}, ours {store.root(checkpoint.size).hex()}"
        )
    return checkpoint.size


def _holds(client: ReadApiClient, store: Store, size: int) -> bool:
    """Whether the mirror holds our first ``size`` blocks (its block ``size - 1`` is ours)."""
    if size == 0:
        return True
    try:
        block = client.block(size - 1)
    except SourceError as exc:
        if exc.status == 404:
            return False
        raise
    theirs = hashlib.sha256(block.header_raw).hexdigest()
    ours = hashlib.sha256(store.block_raw(size - 1)).hexdigest()
    if theirs != ours:
        raise ForkError(f"the mirror's block {size - 1} is {theirs}, ours {ours}")
    return True


def probe_held(client: ReadApiClient, store: Store, known: int, target: int) -> int:
    """The most blocks, between ``known`` (held already) and ``target``, the mirror holds.

    Asks for block ``target - 1`` first (the common case: it has them all),
    then bisects.

    Raises:
        ForkError: a block the mirror serves is not ours.
        SourceError: the mirror could not answer (other than 404).
    """
    if target <= known or _holds(client, store, target):
        return max(known, target)
    low, high = known, target - 1  # it holds low; high is the most it may hold
    while low < high:
        middle = (low + high + 1) // 2
        if _holds(client, store, middle):
            low = middle
        else:
            high = middle - 1
    return low
