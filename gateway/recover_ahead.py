"""Recovery past the source's cosigned checkpoint: the witnesses' newer one, the mirror's blocks.

A gateway run with ``--mirror`` shows the witnesses a checkpoint only once
the mirror holds its blocks, but the mirror takes that checkpoint as its
head only after the witnesses cosigned it (its next sync). A disk lost in
between leaves the witnesses one checkpoint ahead of the mirror's head,
while the mirror holds every block of it. Then recovery takes that
checkpoint from the witnesses (each serves the note it cosigned, with the
log's signature; the lines of every witness at that size are merged) and
the blocks the store lacks from the source, and verifies them as any
replica does (:class:`~chain.follow.Follower`), with the Merkle proofs
computed here from the store's nodes and the fetched blocks (the source
serves no proof beyond its own checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

from chain import merkle, note
from chain.checkpoint import Checkpoint
from chain.errors import ForkError, SourceError, StorageError
from chain.follow import Follower
from chain.tlog_witness import merge_cosignatures
from chain.witness_policy import WitnessPolicy
from gateway.witness_heads import WitnessHead
from readapi import FetchedBlock, ReadApiClient

__all__ = ["follow_witnesses"]


def _witnessed_note(heads: Sequence[WitnessHead], policy: WitnessPolicy) -> str | None:
    """The newest note a witness served, with every policy witness's line at that size."""
    known = [h for h in heads if h.checkpoint is not None and h.note]
    if not known:
        return None
    size = max(h.size for h in known)
    notes = [h.note for h in known if h.size == size]
    merged = notes[0]
    keys = [w.vkey for w in policy.witnesses]
    for other in notes[1:]:
        merged, _ = merge_cosignatures(merged, note.parse(other).signatures, keys)
    return merged


def _node_getter(follower: Follower, fetched: Sequence[FetchedBlock]) -> merkle.NodeGetter:
    """Perfect nodes of the tree of the store's blocks followed by ``fetched``."""
    store = follower.store
    ours = store.size
    leaves = [merkle.leaf_hash(block.header_raw) for block in fetched]

    def get(level: int, index: int) -> bytes:
        begin = index << level
        if begin + (1 << level) <= ours:
            node = store.node(level, index)
            if node is None:
                raise StorageError(f"the store lacks Merkle node ({level}, {index})")
            return node
        if level == 0:
            return leaves[index - ours]
        return merkle.node_hash(get(level - 1, 2 * index), get(level - 1, 2 * index + 1))

    return get


def follow_witnesses(
    client: ReadApiClient,
    follower: Follower,
    policy: WitnessPolicy,
    heads: Sequence[WitnessHead],
) -> Checkpoint | None:
    """Extend the store to the newest checkpoint a witness of ``heads`` cosigned; return it.

    Does nothing (None) when no witness is ahead of the store. Blocks the
    source does not hold leave the store as it was, so the caller's check
    of the witness heads then refuses.

    Raises:
        ForkError: the source's blocks do not make the witnesses' tree.
        MalformedNoteError, SignatureError: a witness's note or line is bad.
        VerificationError: a block fails verification (Follower.accept_block).
        SourceError: the source failed other than by lacking a block (404).
        StorageError: the store failed.
    """
    signed = _witnessed_note(heads, policy)
    store = follower.store
    if signed is None:
        return None
    checkpoint = follower.verify_checkpoint(signed)
    ours = store.size
    if checkpoint.size <= ours:
        return None
    fetched = []
    for height in range(ours, checkpoint.size):
        try:
            fetched.append(client.block(height))
        except SourceError as exc:
            if exc.status == 404:
                return None
            raise
    get = _node_getter(follower, fetched)
    size = checkpoint.size
    if merkle.root_from_nodes(get, size) != checkpoint.root_hash:
        raise ForkError(
            f"the source's blocks {ours}..{size - 1} do not make the tree of size {size} "
            "the witnesses cosigned"
        )
    follower.check_consistency(checkpoint, merkle.consistency_proof_from_nodes(get, ours, size))
    for block in fetched:
        path = merkle.inclusion_proof_from_nodes(get, block.height, size)
        follower.accept_block(block.header_raw, block.entries, path, checkpoint)
    follower.commit_checkpoint(signed, checkpoint)
    return checkpoint
