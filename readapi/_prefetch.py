"""Fetching a run of blocks ahead of the one being verified, for anyone copying a log."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor

from readapi.client import FetchedBlock, ReadApiClient

__all__ = ["blocks_ahead"]


def blocks_ahead(
    client: ReadApiClient, start: int, stop: int, *, fetchers: int = 4, window: int = 8
) -> Generator[tuple[FetchedBlock, list[bytes]], None, None]:
    """Blocks ``start..stop-1`` with their inclusion paths at tree size ``stop``, in order.

    Up to ``window`` blocks are fetched ahead by ``fetchers`` threads, so that
    verifying one block overlaps with the network round trips of the next.
    Closing the generator cancels what was not started and waits for the
    requests in flight (each bounded by the client's timeout).

    Raises (when the failing block's turn comes):
        SourceError: the source could not serve a block or a proof.
    """

    def fetch(height: int) -> tuple[FetchedBlock, list[bytes]]:
        return client.block(height), client.inclusion(height, stop)

    if start >= stop:
        return
    with ThreadPoolExecutor(fetchers, thread_name_prefix="readapi-fetch") as pool:
        ahead: deque[Future[tuple[FetchedBlock, list[bytes]]]] = deque()
        following = start
        try:
            while ahead or following < stop:
                while following < stop and len(ahead) < window:
                    ahead.append(pool.submit(fetch, following))
                    following += 1
                yield ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()
