"""What a dishonest gateway operator can do to the registry commitment, for issue-14 tests.

It holds the store and the log's signing key: it can sign a checkpoint whose
``farmtrace-registry`` line leaves a revocation out, so that a site listing
the signer's registrations without it would pass a verifier that trusts the
line. Only a replica or an auditor replaying the blocks exposes it.
"""

from __future__ import annotations

from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.log import load_registry_tree
from chain.registry_commitment import RegistryTree
from chain.store import Store

__all__ = ["checkpoint_hiding", "sign_checkpoint_hiding"]


def checkpoint_hiding(store: Store, hidden: int, *, size: int | None = None) -> Checkpoint:
    """The checkpoint of ``store`` at ``size`` (default: all) whose registry line omits entry
    ``hidden``; every other field is the true one."""
    size = store.size if size is None else size
    last = store.block(size - 1)
    tree = RegistryTree()
    for record in load_registry_tree(store).records:
        if record.index != hidden and record.index < last.first_index + last.count:
            tree.add(record)
    line = tree.commitment().to_line()
    return Checkpoint(store.origin, size, store.root(size), (line,))


def sign_checkpoint_hiding(store: Store, log_signer_key: str, hidden: int) -> str:
    """Sign :func:`checkpoint_hiding` with the log's key and store it as the latest checkpoint."""
    signed = sign_checkpoint(checkpoint_hiding(store, hidden), log_signer_key)
    store.put_checkpoint(store.size, signed)
    return signed
