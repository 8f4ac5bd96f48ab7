"""Running the per-block checks on every core, this process included.

``jobs - 1`` worker processes take batches while this process, which also
reads the store and does the in-order checks, checks a batch itself whenever
every worker has enough queued. So ``jobs`` processes share ``jobs`` cores,
none waits on another for long, and the batches this process checks never
cross a process boundary. Results come back in batch order.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.pool import AsyncResult

from chain.audit._blocks import BatchResult, BlockTask, check_blocks, init_worker
from chain.registry import Grant

__all__ = ["check_in_order"]

_QUEUED_PER_WORKER = 2
_AHEAD_PER_JOB = 4


def check_in_order(
    batches: Iterable[list[BlockTask]],
    grants: Sequence[Grant],
    jobs: int,
    meanwhile: Callable[[], object],
) -> Iterator[tuple[BatchResult, list[BlockTask]]]:
    """:func:`check_blocks` of every batch, in order, on ``jobs`` processes (this one too).

    Batches are read lazily, at most a few per job ahead of the caller.
    ``meanwhile`` is called once, after the last batch is read, while the
    workers finish theirs.
    """
    init_worker(grants)
    if jobs <= 1:
        for batch in batches:
            yield check_blocks(batch), batch
        meanwhile()
        return
    workers = jobs - 1
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(workers, initializer=init_worker, initargs=(grants,)) as pool:
        ahead: deque[tuple[AsyncResult[BatchResult] | BatchResult, list[BlockTask]]] = deque()
        for batch in batches:
            queued = sum(1 for r, _ in ahead if isinstance(r, AsyncResult) and not r.ready())
            if queued < _QUEUED_PER_WORKER * workers:
                ahead.append((pool.apply_async(check_blocks, (batch,)), batch))
            else:
                ahead.append((check_blocks(batch), batch))
            while ahead and (_ready(ahead[0][0]) or len(ahead) > _AHEAD_PER_JOB * jobs):
                yield _result(*ahead.popleft())
        meanwhile()
        while ahead:
            yield _result(*ahead.popleft())


def _ready(result: AsyncResult[BatchResult] | BatchResult) -> bool:
    return not isinstance(result, AsyncResult) or result.ready()


def _result(
    result: AsyncResult[BatchResult] | BatchResult, batch: list[BlockTask]
) -> tuple[BatchResult, list[BlockTask]]:
    return (result.get() if isinstance(result, AsyncResult) else result), batch
