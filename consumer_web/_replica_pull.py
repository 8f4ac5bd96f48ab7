"""One round with one source: its checkpoint, a consistency proof, the blocks we lack.

:func:`pull` drives a :class:`~chain.follow.Follower` with what a
:class:`~readapi.ReadApiClient` fetches. It tells the two outcomes that are
not errors of the source apart from the errors themselves: :class:`Refused`
(the source's signed history contradicts ours: a conflict to record) and
:class:`Behind` (it agrees, but is older than our head).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor

from chain.checkpoint import Checkpoint
from chain.errors import (
    FarmtraceError,
    ForkError,
    RollbackError,
    SignatureError,
    UnknownSignerError,
)
from chain.follow import Follower
from readapi.client import FetchedBlock, ReadApiClient

__all__ = ["Behind", "Refused", "pull"]

_FETCHERS = 4
_WINDOW = 8


class Refused(Exception):
    """The source's checkpoint contradicts what we accepted (``reason``: fork, wrong_log,
    bad_signature); ``theirs`` is its note as received."""

    def __init__(self, reason: str, theirs: str, cause: FarmtraceError) -> None:
        super().__init__(str(cause))
        self.reason = reason
        self.theirs = theirs


class Behind(Exception):
    """The source's checkpoint (of ``size``) agrees with ours but is older: nothing to pull."""

    def __init__(self, size: int) -> None:
        super().__init__(f"behind, at size {size}")
        self.size = size


def pull(
    client: ReadApiClient,
    follower: Follower,
    *,
    stopped: Callable[[], bool],
    on_block: Callable[[], None],
) -> Checkpoint | None:
    """Bring ``follower``'s store up to ``client``'s latest checkpoint; return that checkpoint.

    Blocks are verified and stored one by one, in order (``on_block`` is
    called after each); the note is stored exactly as received once they
    all are. Returns None, leaving the verified blocks stored so far, as soon
    as ``stopped()`` is true.

    Raises:
        Refused: the checkpoint is another log's, forged, or a fork of ours.
        Behind: the checkpoint is consistent with ours but older.
        SourceError: the source could not give what was asked.
        FarmtraceError: a malformed note, or a block that fails verification
            (blocks before it stay stored).
    """
    signed = client.checkpoint()
    try:
        checkpoint = follower.verify_checkpoint(signed)
    except UnknownSignerError as exc:
        raise Refused("wrong_log", signed, exc) from exc
    except SignatureError as exc:
        raise Refused("bad_signature", signed, exc) from exc
    ours = follower.store.size
    proof = client.consistency(ours, checkpoint.size) if 0 < ours < checkpoint.size else []
    try:
        follower.check_consistency(checkpoint, proof)
    except ForkError as exc:
        raise Refused("fork", signed, exc) from exc
    except RollbackError as exc:
        raise Behind(checkpoint.size) from exc
    blocks = _prefetch(client, ours, checkpoint.size)
    try:
        for block, path in blocks:
            if stopped():
                return None
            follower.accept_block(block.header_raw, block.entries, path, checkpoint)
            on_block()
    finally:
        blocks.close()
    follower.commit_checkpoint(signed, checkpoint)
    return checkpoint


def _prefetch(
    client: ReadApiClient, start: int, stop: int
) -> Generator[tuple[FetchedBlock, list[bytes]], None, None]:
    """Blocks ``start..stop-1`` with their inclusion paths at size ``stop``, in order.

    Up to :data:`_WINDOW` blocks are fetched ahead by :data:`_FETCHERS`
    threads, so that verifying one block overlaps with the network round
    trips of the next. Closing the generator cancels what was not started
    and waits for requests in flight (each bounded by the client's timeout).
    """

    def fetch(height: int) -> tuple[FetchedBlock, list[bytes]]:
        return client.block(height), client.inclusion(height, stop)

    if start >= stop:
        return
    with ThreadPoolExecutor(_FETCHERS, thread_name_prefix="replica-fetch") as pool:
        ahead: deque[Future[tuple[FetchedBlock, list[bytes]]]] = deque()
        following = start
        try:
            while ahead or following < stop:
                while following < stop and len(ahead) < _WINDOW:
                    ahead.append(pool.submit(fetch, following))
                    following += 1
                yield ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()
