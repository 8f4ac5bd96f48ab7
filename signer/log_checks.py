"""Asking the log before signing, and the gateway after a missing receipt.

Before an operator signs an event, :func:`check_event` asks the log (a
gateway's or a replica's read API, any :class:`LogReader` such as
:class:`readapi.client.ReadApiClient`) whether the operator's key may sign
it and whether it fits the lifecycle the log records. When no receipt comes,
:func:`rejection_counts` before and after, put into words by
:func:`rejections_text`, tell whether the gateway counted a rejection meanwhile.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from chain.errors import SourceError, UnknownSignerError
from chain.registry import Grant
from signer.operator_events import EventDraft, History, operator_grant, precheck

__all__ = [
    "LogReader",
    "check_event",
    "registered_grant",
    "rejection_counts",
    "rejections_text",
]

_REJECTED = re.compile(r'^farmtrace_entries_rejected_total\{reason="([^"]+)"\} (\S+)$', re.M)


class LogReader(Protocol):
    """What the checks read from a log's read API (:class:`readapi.client.ReadApiClient`)."""

    @property
    def base_url(self) -> str:
        """The API's base URL, for messages."""
        ...

    def signer(self, signer: str) -> Mapping[str, Any]:
        """``GET /api/v1/signers/<id>``; raises SourceError (status 404 if unknown)."""
        ...

    def entry_proof(self, index: int) -> Any:
        """``GET /api/v1/entries/<index>/proof``: an object with the ``entry`` bytes."""
        ...

    def subject_events(self, subject: str) -> Sequence[tuple[int, bytes]]:
        """The log's events about ``subject``: (index, entry bytes) in log order."""
        ...


def registered_grant(reader: LogReader, operator: str, ts: int, public_key: bytes) -> Grant:
    """The grant under which ``operator`` (with ``public_key``) may sign at ``ts``, per the log.

    Raises:
        UnknownSignerError: the log never registered ``operator``.
        AuthorizationError: not registered yet at ``ts``, revoked by then, a
            device rather than an operator, or registered with another key.
        SourceError: the read API could not answer.
        MalformedEntryError: it served an entry that does not parse.
    """
    try:
        grants = reader.signer(operator)["grants"]
    except SourceError as exc:
        if exc.status == 404:
            raise UnknownSignerError(
                f"{operator!r} is not registered in the log at {reader.base_url}: the farm's "
                "admin registers it with farmtrace operator register"
            ) from exc
        raise
    return operator_grant(
        operator, grants, lambda index: bytes(reader.entry_proof(index).entry), ts, public_key
    )


def check_event(draft: EventDraft, reader: LogReader, signer: str, public_key: bytes) -> None:
    """Refuse ``draft`` unless the log lets ``signer`` (with ``public_key``) record it now.

    Raises:
        UnknownSignerError, AuthorizationError: as :func:`registered_grant`, or
            none of the signer's roles may sign this kind of event.
        LifecycleError: the event contradicts what the log holds.
        SourceError, MalformedError: the log could not be read.
    """
    grant = registered_grant(reader, signer, draft.ts, public_key)
    history: History = reader.subject_events
    precheck(draft, signer, history, roles=grant.roles)


def rejection_counts(base_url: str | None, timeout: float = 5.0) -> dict[str, float] | None:
    """The gateway's rejection counters by reason (its ``/metrics``), or None if it has none.

    None too when ``base_url`` is None, cannot be read, or is not a farmtrace
    gateway (a site, or something else): the counts are advice for a message.
    """
    if base_url is None:
        return None
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=timeout) as r:
            text = r.read(1024 * 1024).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    if "# TYPE farmtrace_entries_rejected" not in text:
        return None
    return {reason: float(value) for reason, value in _REJECTED.findall(text)}


def rejections_text(before: dict[str, float] | None, after: dict[str, float] | None) -> str:
    """What the gateway rejected between two :func:`rejection_counts`, as a sentence."""
    if before is None or after is None:
        return (
            "The gateway counts what it rejects by reason in its /metrics "
            "(farmtrace_entries_rejected_total)."
        )
    grown = {r: n - before.get(r, 0.0) for r, n in after.items() if n > before.get(r, 0.0)}
    if not grown:
        return "The gateway's /metrics counted no rejection meanwhile: it may be down or busy."
    counted = ", ".join(f"{reason} (+{n:.0f})" for reason, n in sorted(grown.items()))
    return (
        f"The gateway's /metrics counted rejections meanwhile (maybe not only this one): {counted}."
    )
