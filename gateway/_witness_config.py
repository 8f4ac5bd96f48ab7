"""The gateway's witness configuration: ``<data-dir>/witnesses.json``, read and edited.

The file is a :class:`chain.witness_policy.WitnessPolicy` whose witnesses all
have a ``url`` (their tlog-witness submission prefix): the gateway pushes
every checkpoint to each, and publishes a checkpoint once ``quorum`` of them
cosigned it. Without the file the gateway has no witnesses.
"""

from __future__ import annotations

import os
from pathlib import Path

from chain.errors import MalformedError
from chain.witness_policy import Witness, WitnessPolicy

__all__ = [
    "add_witness",
    "load_witness_policy",
    "remove_witness",
    "save_witness_policy",
    "set_quorum",
]


def load_witness_policy(path: Path) -> WitnessPolicy | None:
    """Read the policy at ``path``; None if there is no such file.

    Raises:
        MalformedError: the file is not a witness policy, or a witness has no url.
        OSError: the file exists but cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        policy = WitnessPolicy.from_json(text)
    except MalformedError as exc:
        raise MalformedError(f"{path}: {exc}") from exc
    for witness in policy.witnesses:
        if witness.url is None:
            raise MalformedError(
                f"{path}: witness {witness.name} has no url: the gateway pushes each "
                "checkpoint to the witness's submission prefix, e.g. http://host:7380 "
                "(farmtrace gateway witness add --url ...)"
            )
    return policy


def save_witness_policy(path: Path, policy: WitnessPolicy) -> None:
    """Write ``policy`` to ``path`` atomically (a reader sees the old file or the new one).

    Raises:
        OSError: the file cannot be written.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(policy.to_json())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def add_witness(policy: WitnessPolicy | None, vkey: str, url: str) -> WitnessPolicy:
    """``policy`` (None: no witnesses, quorum 0) with the witness ``vkey`` at ``url`` added.

    The first witness of a policy makes its quorum 1; later ones leave it as is.

    Raises:
        MalformedError: the key or url is invalid, or a witness of that name is configured.
    """
    witness = Witness(vkey.strip(), url.rstrip("/"))
    current = policy or WitnessPolicy(0)
    if any(w.name == witness.name for w in current.witnesses):
        raise MalformedError(
            f"witness {witness.name} is already configured (remove it first to change it)"
        )
    quorum = current.quorum if current.witnesses else 1
    return WitnessPolicy(quorum, (*current.witnesses, witness))


def remove_witness(policy: WitnessPolicy | None, name: str) -> WitnessPolicy:
    """``policy`` without the witness ``name``; the quorum is lowered if it exceeded the rest.

    Raises:
        MalformedError: no witness of that name is configured.
    """
    witnesses = () if policy is None else policy.witnesses
    kept = tuple(w for w in witnesses if w.name != name)
    if len(kept) == len(witnesses):
        known = ", ".join(w.name for w in witnesses) or "none"
        raise MalformedError(f"no witness named {name!r} is configured (configured: {known})")
    assert policy is not None
    return WitnessPolicy(min(policy.quorum, len(kept)), kept)


def set_quorum(policy: WitnessPolicy | None, quorum: int) -> WitnessPolicy:
    """``policy`` requiring ``quorum`` cosignatures.

    Raises:
        MalformedError: ``quorum`` is not in 0..number of witnesses.
    """
    witnesses = () if policy is None else policy.witnesses
    return WitnessPolicy(quorum, witnesses)
