"""Editing a data directory's witnesses.json, as ``farmtrace gateway witness`` does."""

from __future__ import annotations

from collections.abc import Callable

from chain.witness_policy import WitnessPolicy
from gateway.datadir import DataDir
from gateway.witnessing import load_witness_policy, save_witness_policy

__all__ = ["edit_witnesses", "witness_lines"]


def edit_witnesses(
    data_dir: DataDir, edit: Callable[[WitnessPolicy | None], WitnessPolicy]
) -> WitnessPolicy:
    """Apply ``edit`` to the data directory's witness policy and save the result.

    ``edit`` gets the current policy (None if there is none yet), e.g.
    ``lambda p: add_witness(p, vkey, url)``. The gateway applies it on restart.

    Raises:
        FileNotFoundError: ``data_dir`` is not a gateway data directory.
        FarmtraceError: the stored policy is invalid, or ``edit`` refuses.
        OSError: witnesses.json cannot be read or written.
    """
    if not data_dir.trust.exists():
        raise FileNotFoundError(f"{data_dir.root} is not a gateway data directory")
    policy = edit(load_witness_policy(data_dir.witnesses))
    save_witness_policy(data_dir.witnesses, policy)
    return policy


def witness_lines(data_dir: DataDir) -> list[str]:
    """The quorum, then a line per witness (name, url, verifier key), for people.

    Raises:
        FarmtraceError, OSError: witnesses.json cannot be read or is invalid.
    """
    policy = load_witness_policy(data_dir.witnesses)
    if policy is None or not policy.witnesses:
        return ["no witnesses: /checkpoint serves every checkpoint as soon as it is signed"]
    return [f"quorum: {policy.describe()}"] + [
        f"{witness.name}  {witness.url}  {witness.vkey}" for witness in policy.witnesses
    ]
