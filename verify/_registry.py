"""Whether a site's list of a signer's registrations is all of them (docs/registry-commitment.md).

A site answers ``GET /api/v1/signers/<id>?tree_size=N`` with the signer's
grants (each with its entry's JWS) and a registry proof; the checkpoint of N
blocks, already verified, carries the registry line. Pure: the answer is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from chain.checkpoint import Checkpoint
from chain.entries import parse_entry
from chain.errors import FarmtraceError, RegistryCommitmentError
from chain.registry_commitment import RegistryCommitment, RegistryProof, verify_registry_proof

__all__ = ["registry_history_problem"]


def registry_history_problem(
    signer: str, body: Mapping[str, Any], checkpoint: Checkpoint
) -> str | None:
    """None if ``body``'s grants are every registry entry of ``signer`` in ``checkpoint``.

    Otherwise what is wrong, starting "registration history not proven
    complete". Each grant must say what its ``entry`` says; the entries, in
    the order listed, must lead through ``registry_proof`` to the
    checkpoint's registry line. Raises nothing.
    """
    try:
        commitment = RegistryCommitment.from_checkpoint(checkpoint)
        records = [_record(signer, grant) for grant in body["grants"]]
        served = body.get("registry_proof")
        if not isinstance(served, dict) or served.get("size") != checkpoint.size:
            raise RegistryCommitmentError(
                "no registry proof for the checkpoint",
                expected=f"a proof at tree size {checkpoint.size}",
                found=repr(served)[:120],
            )
        path = tuple(base64.b64decode(h, validate=True) for h in served["path"])
        proof = RegistryProof(signer, int(served["leaf_index"]), int(served["signers"]), path)
        verify_registry_proof(commitment, signer, records, proof)
    except (FarmtraceError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        return f"signer {signer!r}: registration history not proven complete: {exc}"
    return None


def _record(signer: str, grant: Mapping[str, Any]) -> tuple[int, bytes]:
    """(log index, entry hash) of ``grant``, once it says what its entry says."""
    raw = str(grant["entry"]).encode("ascii")
    entry = parse_entry(raw)
    payload = entry.payload
    says = {
        "kind": entry.type,
        "subject": payload.get("dev" if entry.type == "device" else "op"),
        "action": payload.get("action"),
        "pubkey": payload.get("pubkey"),
        "ts": entry.ts,
        "signer": entry.kid,
    }
    listed = {**{name: grant.get(name) for name in says}, "subject": signer}
    if entry.type not in ("device", "operator") or says != listed:
        raise RegistryCommitmentError(
            f"entry {grant.get('index')!r} is not the registration listed",
            expected=str(listed),
            found=str(says),
        )
    index = grant["index"]
    if type(index) is not int:
        raise TypeError(f"grant index {index!r} is not an integer")
    return index, hashlib.sha256(raw).digest()
