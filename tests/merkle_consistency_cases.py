"""The valid RFC 9162 consistency proofs chain/merkle is tested with, as values.

The known answers (tests/unit/chain/data/merkle_rfc6962_known_answers.json)
and transparency-dev's happy paths: shared by the mutation tests of
chain/merkle and the browser's port (static/verify/merkle.js), so that both
start from the same cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain._encoding import b64_decode
from chain.merkle import verify_consistency

__all__ = ["DATA", "KNOWN_ANSWERS", "Consistency", "known_roots", "valid_consistencies"]

DATA = Path(__file__).parent / "unit" / "chain" / "data"
KNOWN_ANSWERS: dict[str, Any] = json.loads((DATA / "merkle_rfc6962_known_answers.json").read_text())
_HAPPY: dict[str, Any] = json.loads((DATA / "merkle_transparency_dev_happy_paths.json").read_text())


@dataclass(frozen=True, slots=True)
class Consistency:
    """One consistency proof from ``size1`` (``root1``) to ``size2`` (``root2``), named."""

    name: str
    size1: int
    size2: int
    proof: tuple[bytes, ...]
    root1: bytes
    root2: bytes

    def verify(self) -> None:
        """chain/merkle's verdict. Raises ProofError: the proof does not hold."""
        verify_consistency(self.size1, self.size2, list(self.proof), self.root1, self.root2)


def known_roots() -> list[bytes]:
    """The known answers' root of the tree of each size (index: the size)."""
    return [bytes.fromhex(h) for h in KNOWN_ANSWERS["roots_by_size"]]


def valid_consistencies() -> list[Consistency]:
    """Every known-answer and happy-path consistency proof."""
    roots = known_roots()
    cases = [
        Consistency(
            f"kat-{c['size1']}-{c['size2']}",
            c["size1"],
            c["size2"],
            tuple(bytes.fromhex(h) for h in c["proof"]),
            roots[c["size1"]],
            roots[c["size2"]],
        )
        for c in KNOWN_ANSWERS["consistency"]
    ]
    cases += [
        Consistency(
            c["name"],
            c["size1"],
            c["size2"],
            tuple(b64_decode(h) for h in c["proof"]),
            b64_decode(c["root1"]),
            b64_decode(c["root2"]),
        )
        for c in _HAPPY["consistency"]
    ]
    return cases
