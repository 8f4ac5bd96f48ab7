"""Rebuilding a gateway's data directory from a verified replica, so that the log goes on.

When a gateway's disk is gone, the log lives on in its replicas (the consumer
site's, an auditor's mirror), each verified block by block against the trust
root and holding only checkpoints a quorum of witnesses cosigned. Recovery::

    source's /checkpoint → log key's signature → witness quorum (the policy)
      → every block we lack: inclusion in that checkpoint, link, entries root,
        each entry's signature and authority (chain.follow.Follower)
      → the checkpoint note exactly as served (with its cosignatures)
      → each witness's latest cosigned tree: the copy must hold or extend it
        (a witness ahead of the source's checkpoint: its note, and the blocks
        the source holds beyond, gateway.recover_ahead)
      → <data-dir>/log, trust.json, witnesses.json, keys/log.key

The new store holds exactly the source's blocks (same headers, same leaf
hashes, same root at the cosigned size) and nothing pending. A gateway
started on it signs its next checkpoint on top of the cosigned one, so the
witnesses accept it; the devices send again whatever they hold without a
receipt, and what the copy already holds is a harmless duplicate.

Recovery may start from a backup (:mod:`gateway.backup`): its blocks are
kept and the source only adds what came after, if the two agree.

The log's key is never in the replica: it comes from the operator's safe
keeping (docs/backup-and-recovery.md). Without it a gateway cannot sign.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chain import note
from chain.errors import RollbackError, StorageError, UnknownSignerError
from chain.follow import Follower
from chain.keyfile import save_log_key
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from gateway.datadir import DataDir
from gateway.recover_ahead import follow_witnesses
from gateway.witness_heads import WitnessHead, check_witness_heads, fetch_witness_head
from readapi import ReadApiClient, blocks_ahead

__all__ = ["Recovery", "recover_data_dir", "recover_from_url"]

_BUILDING = "log.recovering"


@dataclass(frozen=True, slots=True)
class Recovery:
    """A recovered data directory: its size, its cosigned checkpoint, where its blocks came from."""

    origin: str
    blocks: int
    entries: int
    checkpoint_size: int
    cosigners: tuple[str, ...]
    """The policy's witnesses that cosigned the stored checkpoint."""
    from_backup: int
    """Blocks taken from the backup (0 without one); the rest came from the source."""
    witnesses: tuple[WitnessHead, ...]

    def lines(self) -> list[str]:
        """A report for people, one line each."""
        lines = [
            f"recovered log {self.origin}: {self.blocks} blocks ({self.from_backup} from the "
            f"backup), {self.entries} entries",
            f"checkpoint of size {self.checkpoint_size}, cosigned by "
            f"{', '.join(self.cosigners) or 'no witness'}",
        ]
        for head in self.witnesses:
            said = f"cosigned size {head.size}" if head.outcome == "known" else head.outcome
            lines.append(f"witness {head.name}: {said} {head.message}".rstrip())
        return lines


def _check_log_key(trust: TrustRoot, log_key: str) -> None:
    signer = note.parse_signer_key(log_key)
    if signer.verifier_key() != note.parse_verifier_key(trust.log_key):
        raise UnknownSignerError(
            f"log key: expected the key of {trust.log_key}, found one for "
            f"{signer.verifier_key().to_text()}"
        )


def recover_data_dir(
    client: ReadApiClient,
    trust: TrustRoot,
    policy: WitnessPolicy,
    target: DataDir,
    *,
    log_key: str,
    witness_heads: Callable[[], Sequence[WitnessHead]],
    backup: Path | None = None,
) -> Recovery:
    """Build a gateway data directory in ``target`` from ``client``'s verified log.

    ``backup`` is a backup directory to start from (its ``log``);
    ``witness_heads`` asks the policy's witnesses what they last cosigned
    (:func:`gateway.witness_heads.fetch_witness_head`), once the copy is
    built. Nothing is left in ``target`` unless recovery succeeds.

    Raises:
        FileExistsError: ``target`` already holds a store or a log key.
        UnknownSignerError: ``log_key`` is not the key of ``trust``'s log,
            or the source's checkpoint is not signed by it.
        MalformedNoteError: ``log_key`` or the source's checkpoint is malformed.
        QuorumError: the source's checkpoint lacks the policy's quorum.
        ForkError: the source or a witness contradicts the backup, or a
            witness contradicts the source.
        RollbackError: a witness cosigned a bigger tree than the copy holds
            (a gateway on it would fork the log).
        VerificationError: a block fails verification (see
            :meth:`Follower.accept_block`), or (RegistryCommitmentError) the
            source's checkpoint has no registry line, or a false one.
        SourceError: the source could not serve what was asked.
        StorageError, OSError: a store or file could not be written.
    """
    _check_log_key(trust, log_key)
    building = target.root / _BUILDING
    for path in (target.log, target.log_key, building):
        if path.exists():
            raise FileExistsError(f"{path} already exists; recover into a new directory")
    target.root.mkdir(parents=True, exist_ok=True)
    try:
        if backup is not None:
            shutil.copytree(backup / "log", building)
            store = Store.open(building)
        else:
            store = Store.open(building, origin=trust.origin)
        with store, ThreadPoolExecutor(thread_name_prefix="recover-verify") as pool:
            from_backup = store.size
            follower = Follower(store, trust, executor=pool)  # a big block's signatures in parallel
            checkpoint_size, cosigners = _follow(client, follower, policy)
            heads = tuple(witness_heads())
            ahead = follow_witnesses(client, follower, policy, heads)
            if ahead is not None:  # the witnesses cosigned blocks the source holds uncosigned
                checkpoint_size = ahead.size
                cosigners = tuple(policy.cosigners(store.checkpoint(ahead.size)))
            check_witness_heads(store, heads)
            recovery = Recovery(
                trust.origin, store.size, store.entry_count, checkpoint_size, cosigners,
                from_backup, heads,
            )  # fmt: skip
        _write_files(target, trust, policy, log_key)
        building.rename(target.log)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        target.log_key.unlink(missing_ok=True)  # absent before: checked above
        raise
    return recovery


def _follow(
    client: ReadApiClient, follower: Follower, policy: WitnessPolicy
) -> tuple[int, tuple[str, ...]]:
    """Pull the source's cosigned checkpoint and the blocks the store lacks; (size, cosigners)."""
    signed = client.checkpoint()
    checkpoint = follower.verify_checkpoint(signed)
    cosigners = tuple(policy.check(signed))
    store = follower.store
    ours = store.size
    proof = client.consistency(ours, checkpoint.size) if 0 < ours < checkpoint.size else []
    try:
        follower.check_consistency(checkpoint, proof)
    except RollbackError:  # the backup holds a newer checkpoint: keep it
        latest = store.latest_checkpoint()
        assert latest is not None  # a rollback needs a stored checkpoint
        return latest[0], tuple(policy.cosigners(latest[1]))
    blocks = blocks_ahead(client, ours, checkpoint.size)
    try:
        for block, path in blocks:
            follower.accept_block(block.header_raw, block.entries, path, checkpoint)
    finally:
        blocks.close()
    if checkpoint.size > 0:
        follower.commit_checkpoint(signed, checkpoint)
    if store.latest_checkpoint() is None:
        raise StorageError("the source served no checkpoint of size 1 or more")
    return checkpoint.size, cosigners


def _write_files(target: DataDir, trust: TrustRoot, policy: WitnessPolicy, log_key: str) -> None:
    target.trust.write_text(trust.to_json())
    target.witnesses.write_text(policy.to_json())
    target.keys.mkdir(mode=0o700, exist_ok=True)
    save_log_key(log_key, target.log_key)


def recover_from_url(
    url: str,
    trust: TrustRoot,
    policy: WitnessPolicy,
    target: DataDir,
    *,
    log_key_file: Path,
    backup: Path | None = None,
    timeout: float = 30.0,
) -> Recovery:
    """:func:`recover_data_dir` from the read API at ``url``, asking the policy's witnesses.

    Raises:
        OSError: ``log_key_file`` cannot be read; as :func:`recover_data_dir` otherwise.
    """
    log_key = log_key_file.read_text().strip()
    _check_log_key(trust, log_key)

    def heads() -> list[WitnessHead]:
        return [
            fetch_witness_head(witness, trust.origin, trust.log_key, timeout=timeout)
            for witness in policy.witnesses
        ]

    return recover_data_dir(
        ReadApiClient(url, timeout=timeout),
        trust,
        policy,
        target,
        log_key=log_key,
        witness_heads=heads,
        backup=backup,
    )
