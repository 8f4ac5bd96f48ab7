"""What a witness's operator types: a log to follow, as its trust root or its origin and key."""

from __future__ import annotations

from pathlib import Path

from chain.trust import TrustRoot
from witness._config import add_log

__all__ = ["add_log_from", "log_of_trust_root"]


def log_of_trust_root(path: Path) -> tuple[str, str]:
    """The (origin, checkpoint verifier key) of the log whose trust.json is ``path``.

    Raises:
        OSError: ``path`` cannot be read.
        MalformedError: it is not a trust root.
    """
    trust = TrustRoot.from_json(path.read_text(encoding="utf-8"))
    return trust.origin, trust.log_key


def add_log_from(
    witness_dir: Path,
    trust: Path | None = None,
    origin: str | None = None,
    log_key: str | None = None,
) -> tuple[str, str, bool]:
    """Follow a log given by its ``trust`` root, or by ``origin`` and ``log_key``.

    Returns (origin, log key, whether it was newly added).

    Raises:
        ValueError: not exactly one of ``trust`` and the pair ``origin``/``log_key``.
        OSError, FarmtraceError: as :func:`log_of_trust_root` and :func:`witness.add_log`.
    """
    by_key = origin is not None or log_key is not None
    if (trust is not None) == by_key:
        raise ValueError("give either --trust FILE or both --origin and --log-key")
    if trust is not None:
        origin, log_key = log_of_trust_root(trust)
    if not (origin and log_key):
        raise ValueError("give either --trust FILE or both --origin and --log-key")
    return origin, log_key, add_log(witness_dir, origin, log_key)
