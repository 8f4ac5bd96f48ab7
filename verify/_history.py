"""Does the log still hold the history a checkpoint someone else kept describes?

A live audit holds a verified copy of the log (a prefix of the served
checkpoint's tree, the whole of it when the pull succeeded) and can ask the
log for more. :class:`HistoryProbe` answers, for a ``(size, root)`` that a
witness cosigned or a previous run verified, whether the log's history at
``size`` has that root:

- ``size`` within our copy: our copy's root at ``size`` (no network);
- within the served checkpoint, beyond our copy (a pull that stopped early):
  the log's consistency proof from ``size`` to the served checkpoint;
- beyond the served checkpoint (a witness ahead of what the log serves, as
  when the log waits for a quorum of cosignatures on its newest checkpoint):
  the headers of the log's newer blocks, hashed onto our copy's tree. A log
  that has no such blocks no longer holds that history: it was rolled back.
"""

from __future__ import annotations

from chain import merkle
from chain.checkpoint import Checkpoint
from chain.errors import ForkError, ProofError, RollbackError, SourceError
from chain.store import Store
from readapi.client import ReadApiClient

__all__ = ["MAX_BLOCKS_AHEAD", "HistoryProbe"]

MAX_BLOCKS_AHEAD = 100_000
"""Most blocks beyond the served checkpoint fetched to recompute a newer root."""


class HistoryProbe:
    """Compares other parties' ``(size, root)`` with the log's history.

    Preconditions: every block in ``store`` was verified to be in ``served``
    (as :class:`~chain.follow.Follower` does), and ``served`` is the log's
    verified checkpoint. One thread at a time.
    """

    def __init__(self, store: Store, client: ReadApiClient, served: Checkpoint) -> None:
        self._store = store
        self._client = client
        self._served = served
        self._frontier: merkle.Frontier | None = None
        self._fetched: list[bytes] = []  # leaf hashes of the log's blocks after our copy

    @property
    def served(self) -> Checkpoint:
        """The log's served (verified) checkpoint."""
        return self._served

    def check(self, size: int, root: bytes) -> str:
        """Return how the log's root at ``size`` was found to be ``root``.

        Raises:
            ForkError: the log's history at ``size`` has another root, or the
                log cannot prove that its served checkpoint extends it.
            RollbackError: ``size`` is beyond the served checkpoint and the
                log has no block at some height below ``size``.
            SourceError: the log could not be asked (no verdict).
        """
        served = self._served
        if size <= self._store.size:
            ours = self._store.root(size)
            if ours != root:
                raise ForkError(
                    f"at size {size:,} the log's history has root {ours.hex()}, not {root.hex()}"
                )
            return "same root as our verified copy of the log"
        if size <= served.size:
            proof = self._client.consistency(size, served.size)
            try:
                merkle.verify_consistency(size, served.size, proof, root, served.root_hash)
            except ProofError as exc:
                raise ForkError(
                    f"the log cannot prove that its checkpoint of size {served.size:,} "
                    f"extends root {root.hex()} at size {size:,}: {exc}"
                ) from exc
            return f"the log proved its checkpoint of size {served.size:,} extends it"
        calculated = self._root_beyond(size)
        if calculated != root:
            raise ForkError(
                f"at size {size:,} the log's blocks have root {calculated.hex()}, not {root.hex()}"
            )
        return (
            f"beyond the served checkpoint (size {served.size:,}), "
            "and the log's newer blocks have that root"
        )

    def _root_beyond(self, size: int) -> bytes:
        base = self._store.size
        if size - base > MAX_BLOCKS_AHEAD:
            raise SourceError(
                f"size {size:,} is more than {MAX_BLOCKS_AHEAD:,} blocks beyond our copy",
                reason="too_far_ahead",
                url=self._client.base_url,
            )
        for height in range(base + len(self._fetched), size):
            try:
                block = self._client.block(height)
            except SourceError as exc:
                if exc.status == 404 and height >= self._served.size:
                    raise RollbackError(
                        f"the log serves no block {height:,}: it has fewer than {size:,} blocks"
                    ) from exc
                raise
            self._fetched.append(merkle.leaf_hash(block.header_raw))
        if self._frontier is None:
            self._frontier = merkle.Frontier()
            for height in range(base):
                self._frontier.append(merkle.leaf_hash(self._store.block_raw(height)))
        frontier = self._frontier.copy()
        for leaf in self._fetched[: size - base]:
            frontier.append(leaf)
        return frontier.root()
