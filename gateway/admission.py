"""Admission: what the gateway decides about one received message, before it is durable.

Pure: the caller passes the time, the registry, the lifecycle state and a
lookup of entries the log (committed or pending) already holds. The order of
checks is fixed, so that each rejection has exactly one reason::

    size → parse (a reading's value: ``value_out_of_range``) → topic owner
         → signer's authority (a reading's kind and subject:
           ``kind_not_registered``, ``subject_not_registered``) → signature
         → (signer, seq) already held? duplicate or equivocation → clock skew
         → lifecycle rules (events only: ``lifecycle_conflict``)

The value, kind and subject rules are chain's (:mod:`chain.entries`,
:func:`chain.registry.check_reading_allowed`), so that the audit's replay
judges every committed reading exactly as admission did.

A reading timestamped far in the future is rejected (``clock_skew``); one
from far in the past is accepted and marked late, because a device that was
offline sends its buffered readings when it comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from chain.entries import Entry, parse_entry, verify_entry
from chain.errors import FarmtraceError, LifecycleError
from chain.jws import MAX_ENTRY_BYTES
from chain.lifecycle import LifecycleState
from chain.registry import Registry

__all__ = ["AdmissionPolicy", "Decision", "Verdict", "admit"]

_MINUTE = 60_000


class Verdict(Enum):
    """What becomes of a message."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """Limits a gateway applies to incoming entries.

    ``max_future_ms``: how far ahead of the gateway's clock an entry's ``ts``
    may be (device clock skew). ``late_after_ms``: older than this, an accepted
    entry is counted as late.
    """

    max_entry_bytes: int = MAX_ENTRY_BYTES
    max_future_ms: int = 5 * _MINUTE
    late_after_ms: int = 10 * _MINUTE


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one message, with a stable ``reason`` tag when it is not accepted.

    ``entry`` is set whenever the message parsed. ``existing_index`` is the
    log index of the entry a duplicate or equivocation clashes with.
    """

    verdict: Verdict
    reason: str | None = None
    message: str = ""
    entry: Entry | None = None
    late: bool = False
    existing_index: int | None = None


HeldLookup = Callable[[str, int], tuple[int, bytes] | None]
"""``(signer, seq) -> (index, raw)`` of an entry already held, or None."""


def _reject(reason: str, message: str, entry: Entry | None = None) -> Decision:
    return Decision(Verdict.REJECTED, reason, message, entry)


def admit(
    raw: bytes,
    *,
    publisher: str | None,
    registry: Registry,
    held: HeldLookup,
    next_index: int,
    now_ms: int,
    policy: AdmissionPolicy = AdmissionPolicy(),
    lifecycle: LifecycleState | None = None,
    verified_key: bytes | None = None,
) -> Decision:
    """Decide what to do with ``raw``, received from ``publisher`` (the topic's device id).

    ``next_index`` is the log index the entry would get; authority and the
    lifecycle rules (when ``lifecycle`` is given: the state of every entry
    before ``next_index``) are judged as of that position. ``publisher`` None
    means a trusted local path (no topic to check). Nothing is applied: the
    caller records an accepted entry in ``registry`` and ``lifecycle``.
    ``verified_key``: a key ``raw``'s signature is already known to verify
    under (a worker checked it, :mod:`gateway.verify_workers`); the signature
    is checked here unless it is exactly the key authorised for the entry.

    Never raises for bad input: every problem is a REJECTED decision.
    """
    if len(raw) > policy.max_entry_bytes:
        return _reject("oversized", f"{len(raw)} bytes, at most {policy.max_entry_bytes} accepted")
    try:
        entry = parse_entry(raw)
    except FarmtraceError as exc:
        return _reject(exc.reason, str(exc))
    if publisher is not None and publisher != entry.kid:
        return _reject(
            "wrong_topic", f"entry signed by {entry.kid!r} published under {publisher!r}", entry
        )
    try:
        key = registry.authorize(entry, next_index)
        if verified_key is None or verified_key != key:
            verify_entry(entry, key)
    except FarmtraceError as exc:
        return _reject(exc.reason, str(exc), entry)
    existing = held(entry.kid, entry.seq)
    if existing is not None:
        index, existing_raw = existing
        if existing_raw == raw:
            return Decision(
                Verdict.DUPLICATE,
                "duplicate",
                f"already entry {index}",
                entry,
                existing_index=index,
            )
        return Decision(
            Verdict.REJECTED,
            "equivocation",
            f"{entry.kid} seq {entry.seq} is already entry {index} with different content",
            entry,
            existing_index=index,
        )
    if entry.ts > now_ms + policy.max_future_ms:
        return _reject(
            "clock_skew",
            f"ts {entry.ts} is {(entry.ts - now_ms) / 1000:.0f} s ahead of the gateway's clock "
            f"(at most {policy.max_future_ms / 1000:.0f} s accepted)",
            entry,
        )
    if lifecycle is not None:
        try:
            lifecycle.check(entry, next_index)
        except LifecycleError as exc:
            return _reject(exc.reason, str(exc), entry)
    late = entry.ts < now_ms - policy.late_after_ms
    return Decision(Verdict.ACCEPTED, None, "", entry, late=late)
