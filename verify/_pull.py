"""Copying a whole log through its read API, each block verified before it is stored.

Blocks are fetched ahead by a few threads (a block and its inclusion path in
the served checkpoint), so that the network round trips overlap with the
:class:`~chain.follow.Follower`'s checks of the block before; the follower
checks the entry signatures of a big block on its own thread pool.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.audit import Finding
from chain.checkpoint import Checkpoint
from chain.errors import FarmtraceError
from chain.follow import Follower
from readapi import ReadApiClient, blocks_ahead

__all__ = ["pull_log"]

_FETCHERS = 6
_WINDOW = 12


def pull_log(
    client: ReadApiClient,
    follower: Follower,
    checkpoint: Checkpoint,
    *,
    on_block: Callable[[int], None],
) -> Finding | None:
    """Verify and store every block of ``checkpoint`` into ``follower``'s (empty) store.

    ``checkpoint`` must be verified and vetted (``check_consistency``);
    ``on_block`` is called with each stored block's entry count. Returns
    None when every block was stored, else the finding that stopped the
    pull at the first block that failed verification (the blocks before it
    stay stored, verified).

    Raises:
        SourceError: the log could not serve a block or a proof (no verdict).
    """
    blocks = blocks_ahead(
        client, follower.store.size, checkpoint.size, fetchers=_FETCHERS, window=_WINDOW
    )
    try:
        for block, path in blocks:
            try:
                follower.accept_block(block.header_raw, block.entries, path, checkpoint)
            except FarmtraceError as exc:
                return Finding(
                    exc.reason,
                    f"{exc}; the blocks after it were not checked",
                    block=block.height,
                )
            on_block(len(block.entries))
    finally:
        blocks.close()
    return None
