"""Copying a gateway's blocks ahead of the witnesses, so that the gateway may show them to them.

A gateway run with this site as its mirror (``farmtrace gateway run --mirror``)
submits a checkpoint to the witnesses only once the site holds its blocks,
and the site takes a checkpoint as its head only once the witnesses
cosigned it. So the site (``--stage-uncosigned``) also copies the blocks of
the gateway's newest signed checkpoint (``/api/v1/checkpoints/newest``),
verified as any block is (:class:`~chain.follow.Follower`: the log key's
signature, consistency with our tree, each block's inclusion, link, entries
root and every entry's signature and authority), but does not store that
note: the head, and everything the pages tell, stays the cosigned
checkpoint. The next round's cosigned checkpoint covers the copied blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.errors import RollbackError, SourceError
from chain.follow import Follower
from readapi import ReadApiClient, blocks_ahead

__all__ = ["stage_ahead"]


def stage_ahead(
    client: ReadApiClient,
    follower: Follower,
    *,
    stopped: Callable[[], bool],
    on_block: Callable[[], None],
) -> int:
    """Copy the blocks of ``client``'s newest signed checkpoint we lack; return how many.

    A source without the endpoint (a replica: 404) or without a newer
    checkpoint gives 0. Stops between blocks once ``stopped()``.

    Raises:
        SourceError: the source could not serve what was asked.
        FarmtraceError: the note is not the log's, contradicts our tree
            (ForkError), or a block fails verification (those before it stay).
    """
    try:
        signed = client.newest_checkpoint()
    except SourceError as exc:
        if exc.status == 404:
            return 0
        raise
    checkpoint = follower.verify_checkpoint(signed)
    ours = follower.store.size
    if checkpoint.size <= ours:
        return 0
    proof = client.consistency(ours, checkpoint.size) if ours > 0 else []
    try:
        follower.check_consistency(checkpoint, proof)
    except RollbackError:
        return 0
    copied = 0
    blocks = blocks_ahead(client, ours, checkpoint.size)
    try:
        for block, path in blocks:
            if stopped():
                break
            follower.accept_block(block.header_raw, block.entries, path, checkpoint)
            copied += 1
            on_block()
    finally:
        blocks.close()
    return copied
