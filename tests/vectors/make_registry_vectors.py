"""Write tests/vectors/registry.json: known answers of the registry commitment, and lies.

    .venv/bin/python tests/vectors/make_registry_vectors.py

The registry commitment (chain/registry_commitment.py, docs/registry-commitment.md)
is computed by the log and by the browser's verify/registry.js alike; this
file pins it. ``known`` holds a registry's records (signer, log index, JWS),
the history head and leaf of each signer and the checkpoint line; ``cases``
hold a signer's served history and proof, and whether a verifier must accept
them (a hidden revocation, a wrong count, a wrong order... must be refused).
The entries are the ones of entries.json plus a revocation and a
re-registration of its device, so keys come from the same fixed seeds.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))
if str(REPO / "tests" / "vectors") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "vectors"))

from make_entry_vectors import FARM, SENSOR, T0, flip, registrations  # noqa: E402

from chain.entries import device_payload, parse_entry, sign_entry  # noqa: E402
from chain.registry_commitment import (  # noqa: E402
    RegistryTree,
    history_head,
    leaf_input,
    registry_record,
)

REGISTRY_VECTORS = REPO / "tests" / "vectors" / "registry.json"
_MINUTE = 60_000
SIZE = 4  # the tree size the checkpoint names (any: only the line and proofs matter)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def log_entries() -> list[tuple[int, str]]:
    """(log index, JWS) of every registry entry: entries.json's, then the device's revocation
    (index 7) and its re-registration with the same key (index 9)."""
    entries = list(enumerate(registrations()))
    ts = T0 + 10 * _MINUTE
    revoke = device_payload("revoke", SENSOR.id, 2, ts)
    again = device_payload(
        "register", SENSOR.id, 3, ts + _MINUTE, pubkey=SENSOR.public_key,
        kinds=["temperature"], subjects=["barn:b1"],
    )  # fmt: skip
    entries.append((7, sign_entry(revoke, FARM.id, FARM.seed).decode()))
    entries.append((9, sign_entry(again, FARM.id, FARM.seed).decode()))
    return entries


def vectors() -> dict[str, Any]:
    """The whole document."""
    entries = log_entries()
    tree = RegistryTree()
    for index, jws in entries:
        tree.add_entries([parse_entry(jws.encode())], index)
    commitment = tree.commitment()
    line = commitment.to_line()
    checkpoint = {"size": SIZE, "extensions": [line]}
    signers: dict[str, Any] = {}
    histories: dict[str, list[dict[str, Any]]] = {}
    for index, jws in entries:
        record = registry_record(parse_entry(jws.encode()), index)
        assert record is not None
        histories.setdefault(record.signer, []).append({"index": index, "jws": jws})
    for signer, history in histories.items():
        records = [registry_record(parse_entry(h["jws"].encode()), h["index"]) for h in history]
        head = history_head(r for r in records if r is not None)
        proof = tree.proof(signer)
        assert proof is not None
        signers[signer] = {
            "count": len(history),
            "head": head.hex(),
            "leaf": leaf_input(signer, len(history), head).hex(),
            "proof": {
                "size": SIZE,
                "leaf_index": proof.leaf_index,
                "signers": proof.signers,
                "path": [_b64(h) for h in proof.path],
            },
        }

    def case(name: str, signer: str, history: list[dict[str, Any]], accept: bool, **over: Any):
        return {
            "name": name,
            "signer": signer,
            "entries": history,
            "proof": over.get("proof", signers[signer]["proof"]),
            "checkpoint": over.get("checkpoint", checkpoint),
            "accept": accept,
        }

    dev = histories[SENSOR.id]  # register (4), revoke (7), register again (9)
    cases = [case(f"{s}: its whole history", s, h, True) for s, h in histories.items()]
    cases += [
        case("revocation hidden", SENSOR.id, [dev[0], dev[2]], False),
        case("revocation and re-registration hidden", SENSOR.id, dev[:1], False),
        case(
            "wrong count: an entry added",
            SENSOR.id,
            [*dev, {**histories["vet"][0], "index": 11}],
            False,
        ),
        case("wrong order", SENSOR.id, [dev[1], dev[0], dev[2]], False),
        case(
            "revocation altered",
            SENSOR.id,
            [dev[0], {"index": 7, "jws": flip(dev[1]["jws"])}, dev[2]],
            False,
        ),
        case(
            "revocation at another index",
            SENSOR.id,
            [dev[0], {**dev[1], "index": 8}, dev[2]],
            False,
        ),
        case(
            "another signer's proof",
            SENSOR.id,
            dev,
            False,
            proof=signers["vet"]["proof"],
        ),
        case(
            "proof for another tree size",
            SENSOR.id,
            dev,
            False,
            proof={**signers[SENSOR.id]["proof"], "size": SIZE - 1},
        ),
        case(
            "checkpoint without a registry line",
            SENSOR.id,
            dev,
            False,
            checkpoint={"size": SIZE, "extensions": []},
        ),
    ]
    return {
        "about": "The registry commitment's known answers and lies every verifier must refuse. "
        "Generated by tests/vectors/make_registry_vectors.py: do not edit by hand.",
        "known": {
            "entries": [{"index": i, "jws": j} for i, j in entries],
            "line": line,
            "signers": signers,
        },
        "cases": cases,
    }


def main(write: Callable[[Path, str], object] = Path.write_text) -> None:
    write(REGISTRY_VECTORS, json.dumps(vectors(), indent=1) + "\n")


if __name__ == "__main__":
    main()
