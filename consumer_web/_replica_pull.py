"""One round with one source: its checkpoint, a consistency proof, the blocks we lack.

:func:`pull` drives a :class:`~chain.follow.Follower` with what a
:class:`~readapi.ReadApiClient` fetches. It tells the three outcomes that are
not errors of the source apart from the errors themselves: :class:`Refused`
(the source's signed history contradicts ours: a conflict to record),
:class:`Behind` (it agrees, but is older than our head) and :class:`Waiting`
(it agrees and is newer, but too few of our witnesses cosigned it yet).

The witness policy is checked after the log signature and the consistency
check, so that a fork is recognised (and its evidence kept) even when the
forked checkpoint carries no cosignature at all; and before any block is
fetched, so that nothing a quorum did not vouch for is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.checkpoint import Checkpoint
from chain.errors import (
    FarmtraceError,
    ForkError,
    QuorumError,
    RegistryCommitmentError,
    RollbackError,
    SignatureError,
    UnknownSignerError,
)
from chain.follow import Follower
from chain.witness_policy import WitnessPolicy
from readapi import ReadApiClient, blocks_ahead

__all__ = ["Behind", "Refused", "Waiting", "pull"]

_FETCHERS = 4
_WINDOW = 8


class Refused(Exception):
    """The source's checkpoint contradicts what we accepted (``reason``: fork, rollback,
    wrong_log, bad_signature, registry_commitment); ``theirs`` is its note as received."""

    def __init__(self, reason: str, theirs: str, cause: FarmtraceError) -> None:
        super().__init__(str(cause))
        self.reason = reason
        self.theirs = theirs


class Behind(Exception):
    """The source's checkpoint (of ``size``; ``theirs``, its note as received) agrees with
    ours but is older: nothing to pull."""

    def __init__(self, size: int, theirs: str) -> None:
        super().__init__(f"behind, at size {size}")
        self.size = size
        self.theirs = theirs


class Waiting(Exception):
    """The source's checkpoint (of ``size``) agrees with ours and is newer, but only
    ``cosigners`` of the ``required`` witnesses cosigned it: nothing was taken."""

    def __init__(self, size: int, cause: QuorumError) -> None:
        super().__init__(str(cause))
        self.size = size
        self.required = cause.required
        self.cosigners = cause.cosigners


def pull(
    client: ReadApiClient,
    follower: Follower,
    *,
    policy: WitnessPolicy,
    stopped: Callable[[], bool],
    on_block: Callable[[], None],
) -> Checkpoint | None:
    """Bring ``follower``'s store up to ``client``'s latest checkpoint; return that checkpoint.

    A checkpoint beyond the latest one we accepted must satisfy ``policy``
    (``quorum`` of its witnesses cosigned it). Blocks are verified and stored
    one by one, in order (``on_block`` is called after each); the note is
    stored exactly as received once they all are. Returns None, leaving the
    verified blocks stored so far, as soon as ``stopped()`` is true.

    Raises:
        Refused: the checkpoint is another log's, forged, a fork of ours, or
            its registry line is missing or false (the verified blocks stay).
        Behind: the checkpoint is consistent with ours but older.
        Waiting: it is consistent with ours and newer, but lacks the quorum.
        SourceError: the source could not give what was asked.
        FarmtraceError: a malformed note, a cosignature by one of our
            witnesses that does not verify, or a block that fails
            verification (blocks before it stay stored).
    """
    signed = client.checkpoint()
    try:
        checkpoint = follower.verify_checkpoint(signed)
    except UnknownSignerError as exc:
        raise Refused("wrong_log", signed, exc) from exc
    except SignatureError as exc:
        raise Refused("bad_signature", signed, exc) from exc
    except RegistryCommitmentError as exc:
        raise Refused("registry_commitment", signed, exc) from exc
    ours = follower.store.size
    proof = client.consistency(ours, checkpoint.size) if 0 < ours < checkpoint.size else []
    try:
        follower.check_consistency(checkpoint, proof)
    except ForkError as exc:
        raise Refused("fork", signed, exc) from exc
    except RollbackError as exc:
        raise Behind(checkpoint.size, signed) from exc
    accepted = follower.store.latest_checkpoint()
    if checkpoint.size > (0 if accepted is None else accepted[0]):
        try:
            policy.check(signed)
        except QuorumError as exc:
            raise Waiting(checkpoint.size, exc) from exc
    else:
        policy.cosigners(signed)  # a bad line by one of our witnesses is never stored
    blocks = blocks_ahead(client, ours, checkpoint.size, fetchers=_FETCHERS, window=_WINDOW)
    try:
        for block, path in blocks:
            if stopped():
                return None
            follower.accept_block(block.header_raw, block.entries, path, checkpoint)
            on_block()
    finally:
        blocks.close()
    try:
        follower.commit_checkpoint(signed, checkpoint)
    except RegistryCommitmentError as exc:
        raise Refused("registry_commitment", signed, exc) from exc
    return checkpoint
