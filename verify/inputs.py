"""What an auditor pins and types: the trust root, the witness policy, a block hash.

::

    trust = load_trust_root(Path("pinned-trust.json"))
    policy = load_witness_policy(Path("witnesses.json"))
    block_hash = parse_block_hash(" 3F5D...E81A ")   # 64 lower-case hex digits
"""

from __future__ import annotations

import re
from pathlib import Path

from chain.errors import FarmtraceError, MalformedError
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy

__all__ = ["load_trust_root", "load_witness_policy", "parse_block_hash"]

_HASH = re.compile(r"[0-9a-f]{64}")


def load_trust_root(path: Path) -> TrustRoot:
    """The trust root in ``path`` (a gateway's trust.json, pinned out of band).

    Raises:
        MalformedError: ``path`` cannot be read, or holds no valid trust root
            (reason ``unreadable_input``; the message names the file).
    """
    try:
        return TrustRoot.from_json(path.read_text())
    except (OSError, UnicodeDecodeError, FarmtraceError) as exc:
        raise MalformedError(
            f"cannot read the trust root {path}: {exc}", reason="unreadable_input"
        ) from exc


def load_witness_policy(path: Path) -> WitnessPolicy:
    """The witness policy in ``path`` (witnesses.json: keys, quorum, URLs).

    Raises:
        MalformedError: ``path`` cannot be read, or holds no valid policy
            (reason ``unreadable_input``; the message names the file).
    """
    try:
        return WitnessPolicy.from_json(path.read_text())
    except (OSError, UnicodeDecodeError, FarmtraceError) as exc:
        raise MalformedError(
            f"cannot read the witness policy {path}: {exc}", reason="unreadable_input"
        ) from exc


def parse_block_hash(text: str) -> str:
    """A block's hash as 64 lower-case hex digits (surrounding space and case forgiven).

    Raises:
        MalformedError: anything else.
    """
    block_hash = text.strip().lower()
    if not _HASH.fullmatch(block_hash):
        raise MalformedError(f"a block hash is 64 hex digits, got {text!r:.80}")
    return block_hash
