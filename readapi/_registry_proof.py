"""A signer's registry proof (chain.registry_commitment) at a checkpoint size, for the read API.

The registry tree at a checkpoint of ``size`` blocks holds the registration
entries of log indexes below the entries those blocks hold. It is built from
the store's registration index and kept for the newest size asked for, then
extended as the log grows, so that a request pays O(signers) at most once per
checkpoint (and an older size, rarely asked for, is built afresh).
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

from chain.entries import parse_entry
from chain.errors import FarmtraceError, StorageError
from chain.registry_commitment import RegistryProof, RegistryTree
from chain.store import Store

__all__ = ["RegistryProofs", "SignerRegistryProof"]


@dataclass(frozen=True, slots=True)
class SignerRegistryProof:
    """A signer's ``proof`` at the checkpoint of ``size`` blocks (``entry_count`` entries)."""

    size: int
    entry_count: int
    proof: RegistryProof

    def to_json(self) -> dict[str, object]:
        """``{size, entry_count, leaf_index, signers, path}`` (base64 path), as served."""
        return {
            "size": self.size,
            "entry_count": self.entry_count,
            "leaf_index": self.proof.leaf_index,
            "signers": self.proof.signers,
            "path": [base64.b64encode(h).decode("ascii") for h in self.proof.path],
        }


class RegistryProofs:
    """Registry proofs over one store; safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[int, RegistryTree] | None = None  # (entry limit, tree)

    def proof(self, store: Store, signer: str, size: int) -> SignerRegistryProof | None:
        """``signer``'s registry proof at the checkpoint of ``size`` blocks.

        None when ``signer`` has no registration entry in those blocks.
        Precondition: ``1 <= size <= store.size``.

        Raises:
            StorageError: the store failed, or holds a registration it cannot parse.
        """
        last = store.block(size - 1)
        limit = last.first_index + last.count
        with self._lock:
            tree = self._tree(store, limit)
            proof = tree.proof(signer)
        return None if proof is None else SignerRegistryProof(size, limit, proof)

    def _tree(self, store: Store, limit: int) -> RegistryTree:
        latest = self._latest
        if latest is not None and latest[0] == limit:
            return latest[1]
        start, tree = (0, RegistryTree()) if latest is None or latest[0] > limit else latest
        for index in store.registration_indexes():
            if start <= index < limit:
                try:
                    tree.add_entries([parse_entry(store.entry(index))], index)
                except (KeyError, FarmtraceError) as exc:
                    raise StorageError(f"registration entry {index} cannot be read: {exc}") from exc
        if latest is None or latest[0] <= limit:
            self._latest = (limit, tree)
        return tree
