"""Recording a lifecycle event as an operator: the one path shared by the CLI and the desk.

``farmtrace event <kind> ...`` and the operators' web form (:mod:`desk`) both
go through these steps, in this order, so that they accept and refuse the
same things::

    draft = draft_event("packed", ["carcass:0007"], {"gtin": "...", "serial": "s1"}, ts)
    history = ReadApiClient("http://gateway:8080").subject_events   # or a Store
    precheck(draft, operator_id, history, roles={"plant"})   # raises; no seq is used
    recorded = record_event(identity, draft, url, farm, timeout=30)  # sign, publish, receipt

1. :func:`draft_event` turns text members (a form's fields, a command line's
   options) into a typed payload for one kind in :data:`EVENT_KINDS` and
   validates it with :mod:`chain.entries`' own rules.
2. :func:`precheck` refuses an event the operator's roles do not allow
   (:data:`chain.registry.EVENT_ROLES`), or one that contradicts what the
   log already holds about its subjects (:func:`chain.lifecycle.state_for`,
   read from a store or through a read API).
3. :func:`record_event` signs with the operator's durable seq state
   (:class:`~signer.identity.DeviceIdentity`, one seq stream per
   signer), publishes over MQTT and waits for the gateway's receipt
   (:func:`~signer.transport.sign_and_publish`).

Steps 1 and 2 reserve no seq: a refused event leaves no gap in the
operator's stream. The pre-check is advisory (the gateway checks again
when it admits the entry); an event it lets through that the gateway then
rejects gets no receipt, and step 3 times out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chain.entries import (
    Entry,
    event_members,
    event_outputs,
    event_payload,
    event_subject_kinds,
    parse_entry,
    sign_entry,
)
from chain.errors import AuthorizationError, LifecycleError, MalformedEntryError, SourceError
from chain.lifecycle import EventSource, state_for
from chain.registry import EVENT_ROLES, Grant, Registry
from chain.submission import SubmitReceipt
from chain.wire import Receipt
from signer.http_submit import SubmitUrl
from signer.identity import DeviceIdentity
from signer.mqtt_url import MqttUrl
from signer.transport import NotConnectedError, sign_and_publish

__all__ = [
    "EVENT_KINDS",
    "MAX_HISTORY_EVENTS",
    "EventDraft",
    "EventKind",
    "History",
    "HistorySource",
    "NoReceiptError",
    "Recorded",
    "draft_event",
    "kinds_for_roles",
    "operator_grant",
    "precheck",
    "record_event",
    "split_list",
]

History = Callable[[str], Sequence[tuple[int, bytes]]]
"""The log's ``event`` entries about a subject (those naming it or creating it), as
``(index, jws)`` in log order: e.g. :meth:`readapi.ReadApiClient.subject_events`."""

_LATER = 2**62  # a log index after every entry: "as the log stands now"

MAX_HISTORY_EVENTS = 20_000
"""A pre-check that would read more events than this is refused rather than run for ever."""


@dataclass(frozen=True, slots=True)
class EventKind:
    """What a form or command line needs to know about one event kind.

    ``subject_kinds`` empty means any kind of subject. ``lists`` are members
    holding arrays of strings, ``integers`` members holding integers, ``dates``
    members holding a calendar date ``YYYY-MM-DD`` (text, as a date picker
    gives it), ``choices`` members with a fixed set of values; ``exactly_one`` names
    optional members of which exactly one must be given (packed: serial or lot).
    Members and subject kinds come from :mod:`chain.entries`, whose
    validation is the authority; the rest only says how to present them.
    """

    name: str
    subject_kinds: tuple[str, ...]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    lists: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exactly_one: tuple[str, ...] = ()
    one_subject: bool = False

    @property
    def roles(self) -> frozenset[str]:
        """The operator roles that may sign this kind (:data:`chain.registry.EVENT_ROLES`)."""
        return EVENT_ROLES.get(self.name, frozenset())

    @property
    def members(self) -> tuple[str, ...]:
        """Every member name, required first."""
        return self.required + self.optional


_ORDER: tuple[str, ...] = ("hatched", "placed", "moved", "vaccinated", "treated", "inspected")
_ORDER += ("died",)
_ORDER += ("slaughtered", "packed", "shipped", "received", "recalled")
# How a form shows what chain.entries' rules say (members, subject kinds come from there).
_PRESENTATION: Mapping[str, Mapping[str, Any]] = {
    "inspected": {"choices": {"result": ("pass", "fail")}},
    "slaughtered": {"lists": frozenset({"outputs"}), "one_subject": True},
    "treated": {"integers": frozenset({"withdrawal_days"})},
    "packed": {
        "integers": frozenset({"weight_g"}),
        "dates": frozenset({"best_before"}),
        "exactly_one": ("serial", "lot"),
    },
}


def _event_kind(event: str) -> EventKind:
    required, optional = event_members(event)
    kinds = tuple(sorted(event_subject_kinds(event)))
    return EventKind(event, kinds, required, optional, **_PRESENTATION.get(event, {}))


EVENT_KINDS: Mapping[str, EventKind] = MappingProxyType({e: _event_kind(e) for e in _ORDER})
"""Every event kind, in lifecycle order (docs/consumer-site.md, "Event payloads")."""


def kinds_for_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The event kinds an operator holding ``roles`` may sign, in lifecycle order."""
    held = frozenset(roles)
    return tuple(name for name, kind in EVENT_KINDS.items() if kind.roles & held)


_SEPARATORS = re.compile(r"[\s,]+")


def split_list(text: str) -> list[str]:
    """``text`` split at commas and white space, empty pieces dropped (order kept)."""
    return [piece for piece in _SEPARATORS.split(text) if piece]


@dataclass(frozen=True, slots=True)
class EventDraft:
    """A validated event, not yet signed: everything but its ``seq``."""

    event: str
    ts: int
    subjects: tuple[str, ...]
    members: Mapping[str, object]

    def payload(self, seq: int) -> dict[str, object]:
        """The payload to sign with ``seq``."""
        return event_payload(self.event, seq, self.ts, self.subjects, **self.members)

    def candidate(self, signer: str) -> Entry:
        """The entry as ``signer`` will sign it (under a throwaway key and seq 1), for checks.

        Raises:
            MalformedEntryError: ``signer`` is not an id, or the payload is invalid.
        """
        return parse_entry(sign_entry(self.payload(1), signer, os.urandom(32)))

    @property
    def outputs(self) -> tuple[str, ...]:
        """The subjects this event brings into being (:func:`chain.entries.event_outputs`)."""
        return event_outputs(self.payload(1))


def _typed(kind: EventKind, name: str, text: str) -> object:
    if name in kind.lists:
        return split_list(text)
    if name in kind.integers:
        if not re.fullmatch(r"[0-9]{1,16}", text):
            raise MalformedEntryError(f"{name}: expected a whole number, found {text[:40]!r}")
        return int(text)
    return text


def draft_event(
    event: str,
    subjects: str | Sequence[str],
    members: Mapping[str, str],
    ts: int,
    *,
    refs: Sequence[Mapping[str, object]] = (),
) -> EventDraft:
    """Build and validate an ``event`` of kind ``event`` from text.

    ``subjects`` is a list, or one text of subjects separated by commas or
    white space. ``members`` maps member names of the kind to text: list
    members are split like ``subjects``, integer members parsed; an empty
    or blank value counts as absent. Leading and trailing white space is
    dropped. ``refs`` are the event's cross-log references as ``refs``
    items (:mod:`chain.crosslog`); none: no ``refs`` member.

    Raises:
        MalformedEntryError: unknown kind or member, a required member or
            the subjects missing, or anything :mod:`chain.entries` rejects;
            the message names the member.
    """
    kind = EVENT_KINDS.get(event)
    if kind is None:
        raise MalformedEntryError(
            f"event: expected one of {', '.join(EVENT_KINDS)}, found {event[:40]!r}"
        )
    listed = split_list(subjects) if isinstance(subjects, str) else [s.strip() for s in subjects]
    listed = [s for s in listed if s]
    if not listed:
        raise MalformedEntryError(f"subjects: at least one is required in {event} events")
    typed: dict[str, object] = {}
    for name, text in members.items():
        if name not in kind.members:
            raise MalformedEntryError(
                f"{name}: not a member of {event} events; expected {', '.join(kind.members)}"
            )
        value = text.strip()
        if value:
            typed[name] = _typed(kind, name, value)
    if refs:
        typed["refs"] = [dict(ref) for ref in refs]
    draft = EventDraft(event, ts, tuple(listed), MappingProxyType(typed))
    sign_entry(draft.payload(1), "check", bytes(32))  # validation only; raises on a bad draft
    return draft


class NoReceiptError(TimeoutError):
    """An event was signed (as ``seq``) and sent, but no receipt came in time.

    It may still be committed later (the broker keeps it for the gateway), or
    the gateway refused it (its log says why): check before signing it again.
    """

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event signed, published and covered by the gateway's receipt."""

    seq: int
    raw: bytes
    receipt: Receipt | SubmitReceipt
    """The signer's receipt (MQTT), or this entry's own receipt (HTTP submission)."""

    @property
    def block(self) -> int | None:
        """The height of the block holding this entry, if the receipt names it (else None).

        A receipt names the block of its own ``seq``: this entry's exactly
        when nothing of the signer's was committed after it meanwhile.
        """
        if isinstance(self.receipt, SubmitReceipt):
            return self.receipt.block
        return self.receipt.block if self.receipt.seq == self.seq else None


class HistorySource:
    """A :class:`chain.lifecycle.EventSource` over a :data:`History` (e.g. a read API's).

    It knows only the events it has read, so it cannot list every placement
    into a barn as a store can: :attr:`complete` is False, and
    :func:`precheck` lets a barn's recall through for the gateway to judge.

    Raises (from its methods): whatever ``history`` raises, and
    :class:`~chain.errors.SourceError` past ``limit`` events.
    """

    complete = False

    def __init__(self, history: History, *, limit: int = MAX_HISTORY_EVENTS) -> None:
        self._history, self._limit = history, limit
        self._entries: dict[int, bytes] = {}

    def subject_events(self, subject: str) -> list[int]:
        """Indexes of the events about ``subject``, in log order (their entries kept)."""
        found = self._history(subject)
        self._entries.update(found)
        if len(self._entries) > self._limit:
            raise SourceError(
                f"pre-check: more than {self._limit} events linked to {subject}",
                reason="too_large",
                url="",
            )
        return sorted(index for index, _ in found)

    def event_indexes(self) -> list[int]:
        """The indexes of the events read so far (not every event of the log)."""
        return sorted(self._entries)

    def entry(self, index: int) -> bytes:
        """The entry ``index``, if it was read (KeyError otherwise)."""
        return self._entries[index]

    @property
    def next_index(self) -> int:
        """One above the highest index read (0 if none): where a new event lands at the earliest."""
        return max(self._entries, default=-1) + 1


def operator_grant(
    operator: str,
    grants: Sequence[Mapping[str, Any]],
    entry: Callable[[int], bytes],
    ts: int,
    public_key: bytes,
) -> Grant:
    """The grant under which ``operator`` (with ``public_key``) may sign at ``ts``.

    ``grants`` are the operator's registrations and revocations as the read
    API lists them (``GET /api/v1/signers/<id>``: objects with an ``index``);
    ``entry(index)`` returns one of those entries' bytes (e.g. from
    ``/api/v1/entries/<index>/proof``). They are replayed, unverified: this
    is advice before signing; the gateway decides.

    Raises:
        UnknownSignerError: ``grants`` is empty.
        AuthorizationError: not registered yet at ``ts``, revoked by then, a
            device rather than an operator, or registered with another key.
        SourceError: a grant without an entry index.
        MalformedEntryError: an entry does not parse.
    """
    registry = Registry()
    for grant in grants:
        index = grant.get("index")
        if type(index) is not int or index < 0:
            raise SourceError(
                f"grants of {operator!r}: expected entry indexes",
                reason="malformed_response",
                url="",
            )
        registry.apply(parse_entry(entry(index)), index)
    found = registry.grant_at(operator, ts, _LATER)
    if found.kind != "operator":
        raise AuthorizationError(f"{operator!r} is a device, not an operator")
    if found.public_key != public_key:
        raise AuthorizationError(
            f"the key given is not the one registered for {operator!r} (entry {found.index})"
        )
    return found


def precheck(
    draft: EventDraft,
    signer: str,
    source: EventSource | History,
    *,
    roles: Iterable[str] | None = None,
    next_index: int | None = None,
) -> Entry:
    """Refuse ``draft`` if ``signer`` may not sign it or it contradicts the log; no seq is used.

    ``source`` is the log's events: a :class:`chain.store.Store` (any
    :class:`chain.lifecycle.EventSource`) or a :data:`History` (wrapped in a
    :class:`HistorySource`). The state of the draft's subjects and of what
    they come from is rebuilt with :func:`chain.lifecycle.state_for`.
    ``next_index`` is the log index the event would get, for messages
    (default: the store's entry count, or one above the highest index read).
    ``roles`` are the signer's roles (None: not checked here; the gateway
    still checks them). Returns the candidate entry that was checked.

    Raises:
        AuthorizationError: none of ``roles`` may sign this kind.
        LifecycleError: the event contradicts the log (the message names the
            subject and the earlier entry).
        SourceError: the log's events could not be read.
        MalformedEntryError: ``signer`` is not an id, or the log holds a malformed entry.
    """
    kind = EVENT_KINDS[draft.event]
    if roles is not None and not kind.roles & frozenset(roles):
        raise AuthorizationError(
            f"{signer!r} holds roles {sorted(roles)}; {draft.event} events need one of "
            f"{sorted(kind.roles)}"
        )
    candidate = draft.candidate(signer)
    events: EventSource = HistorySource(source) if callable(source) else source
    state = state_for(events, (*draft.subjects, *draft.outputs))
    if next_index is None:
        count = getattr(events, "entry_count", None)
        next_index = count if isinstance(count, int) else getattr(events, "next_index", 0)
    try:
        state.check(candidate, next_index)
    except LifecycleError as exc:
        partial = not getattr(events, "complete", True)
        if not (partial and draft.event == "recalled" and exc.subject.startswith("barn:")):
            raise
    return candidate


def record_event(
    identity: DeviceIdentity,
    draft: EventDraft,
    url: MqttUrl | SubmitUrl,
    farm: str,
    *,
    timeout: float,
) -> Recorded:
    """Sign ``draft`` with ``identity``'s next seq, publish it and wait for its receipt.

    The seq is taken only once the broker accepted the connection
    (:func:`~signer.transport.sign_and_publish`), and is durable before
    anything is sent. Call :func:`precheck` first.

    Raises:
        MalformedEntryError: the draft is invalid (no seq used).
        StorageError: the seq state cannot be written (no seq used).
        NotConnectedError: no connection to the broker in time (no seq used).
        NoReceiptError: no receipt within ``timeout`` seconds (its ``seq`` is used).
        PermissionError: the broker refused the connection (no seq used) or the entry.
    """

    def sign() -> tuple[bytes, int]:
        return identity.sign_payload(draft.payload), identity.last_seq

    try:
        raw, seq, receipt = sign_and_publish(sign, identity.id, url, farm, timeout)
    except NotConnectedError:
        raise
    except TimeoutError as exc:
        seq = identity.last_seq
        raise NoReceiptError(
            f"{draft.event} signed as {identity.id} seq {seq} and sent, but no receipt from "
            f"the gateway within {timeout:g} s: it may still be committed, or the gateway "
            "refused it; check the log before signing it again",
            seq=seq,
        ) from exc
    return Recorded(seq, raw, receipt)
