"""Following a log: what a replica verifies before it stores anything a source served.

A replica (consumer_web's, or any auditor's mirror) copies a log from sources
it does not trust (gateways, other replicas) into its own
:class:`~chain.store.Store`. Its only trust is a pinned
:class:`~chain.trust.TrustRoot`. One round of following, for a source whose
latest checkpoint is ``note``::

    follower = Follower(store, trust)
    checkpoint = follower.verify_checkpoint(note)      # signed by the log key?
    follower.check_consistency(checkpoint, proof)      # extends what we hold?
    for height in range(store.size, checkpoint.size):  # each block, in order
        follower.accept_block(header_raw, entries, inclusion_proof, checkpoint)
    follower.commit_checkpoint(note, checkpoint)       # the note, exactly as received

Checkpoints carry the log's registry commitment line
(:mod:`chain.registry_commitment`): :meth:`Follower.commit_checkpoint` refuses
one whose line is not the commitment recomputed from the blocks it covers.
A log adopts the line when its gateway is upgraded: once the store holds a
checkpoint with one, :meth:`Follower.verify_checkpoint` refuses any without.

Each step raises a typed :class:`~chain.errors.FarmtraceError` and then
leaves the store as it was: a block is stored only once its inclusion in the
checkpoint, its link to our head, its entries root and every entry's
signature and authority (replayed from the registrations in log order, as the
gateway and the audit do) have been checked; the store itself refuses
duplicates. Blocks stored before an interruption stay: each was proven to be
in a signed checkpoint, and the next round continues from them.

No network here, and no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

from chain import merkle, note
from chain.block import BlockHeader, verify_block_entries, verify_link
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.entries import Entry, parse_entry, verify_entry
from chain.errors import (
    ChainLinkError,
    FarmtraceError,
    ForkError,
    ProofError,
    RollbackError,
    StorageError,
)
from chain.log import replay_registrations
from chain.registry import Registry
from chain.registry_commitment import (
    RegistryCommitment,
    check_checkpoint_registry,
    has_registry_line,
    note_has_registry_line,
)
from chain.store import Store
from chain.trust import TrustRoot

__all__ = ["Follower"]

# A block's signatures are checked in up to _CHUNKS parallel tasks of at least _MIN_CHUNK.
_CHUNKS = 8
_MIN_CHUNK = 64


class Follower:
    """Verifies a source's checkpoints and blocks into ``store``, under ``trust``.

    One follower per store, used from one thread at a time (readers of the
    store may run concurrently, as the store allows). With an ``executor``
    (threads suffice: Ed25519 verification releases the GIL), the entry
    signatures of a big block are checked in parallel; the caller owns it.

    Raises:
        StorageError: the store is of another log than ``trust``, or a stored
            registration entry cannot be replayed (the store is corrupt).
    """

    def __init__(self, store: Store, trust: TrustRoot, *, executor: Executor | None = None) -> None:
        if store.origin != trust.origin:
            raise StorageError(
                f"store {store.path} holds log {store.origin!r}, the trust root is for "
                f"{trust.origin!r}"
            )
        self.store = store
        self.trust = trust
        self._log_key = note.parse_verifier_key(trust.log_key)
        self._vetted: Checkpoint | None = None
        self._executor = executor
        self._registry, self._registry_tree = replay_registrations(store, trust)
        latest = store.latest_checkpoint()
        self._registry_adopted = latest is not None and note_has_registry_line(latest[1])

    @property
    def registry(self) -> Registry:
        """The signers' grants as of the store's head (do not modify)."""
        return self._registry

    # -- checkpoints -----------------------------------------------------------

    def verify_checkpoint(self, signed_note: str) -> Checkpoint:
        """Return the checkpoint in ``signed_note`` once the log key's signature on it verifies.

        Witness cosignatures are neither required nor checked here.

        Raises:
            MalformedNoteError: the note or its checkpoint text is malformed.
            UnknownSignerError: another origin, or no signature by the trusted log key.
            SignatureError: the log key's signature does not verify.
            RegistryCommitmentError: it has two registry lines, or none while
                the store already holds a checkpoint with one (a downgrade).
        """
        checkpoint = open_checkpoint(signed_note, self._log_key)
        if self._registry_adopted or has_registry_line(checkpoint):
            RegistryCommitment.from_checkpoint(checkpoint)
        return checkpoint

    def check_consistency(self, checkpoint: Checkpoint, proof: Sequence[bytes]) -> None:
        """Check that ``checkpoint`` (verified) agrees with the blocks the store holds.

        With ``n`` the store's block count: a checkpoint bigger than ``n`` must
        come with a valid consistency ``proof`` from our root at ``n``; one of
        size ``n`` or less must have our root at its size (``proof`` is then
        ignored: we hold the tree). On success, blocks may be accepted under it.

        Raises:
            ForkError: the checkpoint contradicts our tree (another root at
                the same or a smaller size, or no valid proof to a bigger one).
            RollbackError: it agrees, but is older than our latest accepted checkpoint.
        """
        self._vetted = None
        store, size = self.store, self.store.size
        if checkpoint.size <= size:
            ours = store.root(checkpoint.size)
            if ours != checkpoint.root_hash:
                raise ForkError(
                    f"checkpoint of size {checkpoint.size} has root "
                    f"{checkpoint.root_hash.hex()}, our tree at that size has {ours.hex()}"
                )
            latest = store.latest_checkpoint()
            if latest is not None and checkpoint.size < latest[0]:
                raise RollbackError(
                    f"checkpoint of size {checkpoint.size} is older than the accepted one "
                    f"of size {latest[0]}"
                )
        else:
            try:
                merkle.verify_consistency(
                    size, checkpoint.size, proof, store.root(size), checkpoint.root_hash
                )
            except ProofError as exc:
                raise ForkError(
                    f"checkpoint of size {checkpoint.size} is not proven consistent with our "
                    f"tree of size {size}: {exc}"
                ) from exc
        self._vetted = checkpoint

    def commit_checkpoint(self, signed_note: str, checkpoint: Checkpoint) -> bool:
        """Store ``signed_note`` (exactly as received) once the store has all its blocks.

        Preconditions: ``checkpoint`` is the note's, passed
        :meth:`check_consistency`, and the store holds ``checkpoint.size``
        blocks or more. A note for a size we already have a checkpoint for
        replaces it only if its signature lines are a strict superset of the
        held note's (it gained witness cosignatures): a source can add lines,
        never take one away. Returns whether the note was stored (a size-0
        checkpoint never is).

        Raises:
            ValueError: the preconditions do not hold.
            RegistryCommitmentError: its registry line is not the commitment to
                the registrations in its blocks (the log key signed a false one).
            StorageError: the store failed.
        """
        size = checkpoint.size
        if checkpoint != self._vetted or self.verify_checkpoint(signed_note) != checkpoint:
            raise ValueError("commit_checkpoint needs the note of the vetted checkpoint")
        if size > self.store.size:
            raise ValueError(f"the store has {self.store.size} blocks, not {size}")
        if size == 0:
            return False
        if self.store.root(size) != checkpoint.root_hash:  # guaranteed by accept_block
            raise StorageError(f"the store's root at size {size} is not the checkpoint's")
        if has_registry_line(checkpoint):
            last = self.store.block(size - 1)
            expected = self._registry_tree.commitment_before(last.first_index + last.count)
            check_checkpoint_registry(checkpoint, expected)
            self._registry_adopted = True
        try:
            held = self.store.checkpoint(size)
        except KeyError:
            pass
        else:
            if not _lines(held) < _lines(signed_note):
                return False
        self.store.put_checkpoint(size, signed_note)
        return True

    # -- blocks ----------------------------------------------------------------

    def accept_block(
        self,
        header_raw: bytes,
        entries: Sequence[bytes],
        inclusion_proof: Sequence[bytes],
        checkpoint: Checkpoint,
    ) -> BlockHeader:
        """Verify the next block and append it to the store; return its header.

        ``checkpoint`` must have passed :meth:`check_consistency` (else
        ValueError); ``inclusion_proof`` is the block's audit path in it.

        Raises:
            MalformedBlockError: the header is not a canonical block header.
            ChainLinkError: a block of another log, not the next height, or
                not linked to our head.
            ProofError: not in the checkpoint, or the entries are not the
                ones the header commits to.
            MalformedEntryError: an entry does not parse.
            UnknownSignerError, AuthorizationError: an entry's signer was
                not registered, or not allowed to sign it, at that point.
            SignatureError: an entry's signature does not verify.
            DuplicateEntryError, EquivocationError: an entry's (signer, seq)
                is already in the log.
            StorageError: the store failed (nothing was written).
        """
        if checkpoint != self._vetted:
            raise ValueError("accept_block needs a checkpoint vetted by check_consistency")
        header = BlockHeader.from_bytes(header_raw)
        height = self.store.size
        if header.log != self.trust.origin:
            raise ChainLinkError(f"block of log {header.log!r}, expected {self.trust.origin!r}")
        if header.height != height:
            raise ChainLinkError(f"block {header.height} served where block {height} is next")
        if height >= checkpoint.size:
            raise ProofError(f"block {height} is beyond the checkpoint of size {checkpoint.size}")
        leaf = merkle.leaf_hash(header_raw)
        merkle.verify_inclusion(
            height, checkpoint.size, leaf, inclusion_proof, checkpoint.root_hash
        )
        verify_link(self.store.head(), header)
        verify_block_entries(header, entries)
        parsed = [parse_entry(raw) for raw in entries]
        registry = self._check_entries(parsed, header.first_index)
        self.store.append_block(header, parsed)
        self._registry = registry
        self._registry_tree.add_entries(parsed, header.first_index)
        return header

    def _check_entries(self, entries: Sequence[Entry], first_index: int) -> Registry:
        """Authority and signature of each entry; the registry after them.

        Raises the error of the first entry in log order that fails either
        check. Authority is replayed in order first, then the signatures are
        checked (in parallel when there is an executor): a registration's
        grant applies to the entries after it, and if its own signature is
        bad, that error comes first anyway.
        """
        registry = self._registry
        if any(e.type in ("device", "operator") for e in entries):
            registry = Registry.from_grants(registry.grants())  # ours stays as it was on failure
        keys: list[bytes] = []
        refused: FarmtraceError | None = None
        for index, entry in enumerate(entries, first_index):
            try:
                keys.append(registry.authorize(entry, index))
                registry.apply(entry, index)
            except FarmtraceError as exc:
                refused = exc
                break
        self._verify_signatures(entries[: len(keys)], keys)
        if refused is not None:
            raise refused
        return registry

    def _verify_signatures(self, entries: Sequence[Entry], keys: Sequence[bytes]) -> None:
        pool = self._executor
        if pool is None or len(entries) < 2 * _MIN_CHUNK:
            failure = _first_bad_signature(entries, keys)
        else:
            size = max(_MIN_CHUNK, -(-len(entries) // _CHUNKS))
            chunks = [
                (entries[i : i + size], keys[i : i + size]) for i in range(0, len(entries), size)
            ]
            failures = pool.map(lambda chunk: _first_bad_signature(*chunk), chunks)
            failure = next((f for f in failures if f is not None), None)
        if failure is not None:
            raise failure


def _first_bad_signature(entries: Sequence[Entry], keys: Sequence[bytes]) -> FarmtraceError | None:
    for entry, key in zip(entries, keys, strict=True):
        try:
            verify_entry(entry, key)
        except FarmtraceError as exc:
            return exc
    return None


def _lines(signed_note: str) -> set[str]:
    return {signature.to_line() for signature in note.parse(signed_note).signatures}
