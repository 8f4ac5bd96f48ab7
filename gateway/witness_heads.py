"""What each witness last cosigned of a log, compared with a store a gateway is about to run on.

A witness cosigns a checkpoint only if it extends the one it cosigned before,
so a gateway may sign new checkpoints on a store only if, for every witness,
the store holds the tree that witness last cosigned (same size, same root) or
extends it. A store smaller than a witness's tree (an old backup, a replica
that had not pulled the newest blocks) would make the gateway sign a
different tree at that size: a fork, which the witness refuses.

Each witness serves its latest cosigned checkpoint of a log at C2SP
tlog-witness's ``GET <url>/<origin hash>/checkpoint``; farmtrace witnesses
before that also at ``GET <url>/latest-checkpoint?origin=<origin>``, asked
when the first answers 404 (404 at both: it knows none).
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from dataclasses import dataclass

from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import FarmtraceError, ForkError, RollbackError
from chain.store import Store
from chain.tlog_witness import latest_checkpoint_urls
from chain.witness_policy import Witness
from readapi.client import Transport, urllib_transport

__all__ = ["WitnessHead", "check_witness_heads", "fetch_witness_head"]

_MAX_NOTE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class WitnessHead:
    """What one witness said: ``size`` of its latest cosigned tree (0: none), or why unknown.

    ``outcome``: ``"known"`` (``checkpoint`` verified under the log key),
    ``"none"`` (the witness has cosigned nothing of this log),
    ``"unreachable"`` or ``"no_url"`` (not asked; ``message`` says why).
    ``note``: the signed note as the witness served it (``"known"`` only).
    """

    name: str
    outcome: str
    checkpoint: Checkpoint | None = None
    message: str = ""
    note: str = ""

    @property
    def size(self) -> int:
        """The witness's latest cosigned tree size (0 when unknown or none)."""
        return 0 if self.checkpoint is None else self.checkpoint.size


def fetch_witness_head(
    witness: Witness,
    origin: str,
    log_key: str,
    *,
    transport: Transport = urllib_transport,
    timeout: float = 10.0,
) -> WitnessHead:
    """Ask ``witness`` for its latest cosigned checkpoint of ``origin``; never raises.

    A note that is not signed by ``log_key`` counts as unreachable (nothing
    was learnt from it).
    """
    if witness.url is None:
        return WitnessHead(witness.name, "no_url", message="no url in the witness policy")
    for url in latest_checkpoint_urls(witness.url, origin):
        try:
            status, _headers, body = transport("GET", url, timeout)
        except (OSError, http.client.HTTPException) as exc:
            return WitnessHead(witness.name, "unreachable", message=f"{url}: {exc}")
        if status != 404:
            break
    else:
        return WitnessHead(witness.name, "none", message="it has cosigned nothing of this log")
    if status != 200 or len(body) > _MAX_NOTE_BYTES:
        return WitnessHead(
            witness.name, "unreachable", message=f"{url}: HTTP {status}, {len(body)} bytes"
        )
    text = body.decode("utf-8", errors="replace")
    try:
        checkpoint = open_checkpoint(text, log_key)
    except FarmtraceError as exc:
        return WitnessHead(witness.name, "unreachable", message=f"{url}: {exc}")
    return WitnessHead(witness.name, "known", checkpoint, note=text)


def check_witness_heads(store: Store, heads: Sequence[WitnessHead]) -> None:
    """Check that ``store`` holds or extends the tree each witness of ``heads`` last cosigned.

    Heads that are not ``"known"`` are not checked (the caller decides what
    an unreachable witness means).

    Raises:
        RollbackError: a witness cosigned a bigger tree than the store holds:
            a gateway running on it would fork the log.
        ForkError: the store's tree at a witness's size has another root.
    """
    for head in heads:
        if head.checkpoint is None:
            continue
        size = head.checkpoint.size
        if size > store.size:
            raise RollbackError(
                f"witness {head.name} cosigned a tree of {size} blocks, this copy holds "
                f"{store.size}: a gateway on it would sign another tree at size {store.size + 1} "
                f"and the witness would refuse it; recover from a mirror holding {size} blocks"
            )
        if store.root(size) != head.checkpoint.root_hash:
            raise ForkError(
                f"witness {head.name} cosigned root {head.checkpoint.root_hash.hex()} at size "
                f"{size}, this copy has {store.root(size).hex()} there"
            )
