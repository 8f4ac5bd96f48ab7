"""Cross-log references at the I/O edge: the pins file, and evidence from sources or local copies.

:mod:`chain.crosslog` checks a reference against evidence; this module gets
the evidence. A verifier pins every log it follows in one file
(docs/supply-chain.md section 4) and checks references either against the
other log's live read API (:func:`check_at_sources`: the writer's and the
auditor's way) or against a verified local copy of it
(:func:`local_evidence`: a site's replica, a data directory)::

    pins = load_pins(Path("pins.json"))
    checked = reference_to("farm-a.example/log", "bird:0001", pins, referrer)
    payload["refs"] = refs_to_json([checked.ref])       # then sign the event
    ...
    check_at_sources(ref, pins, Referrer.from_payload(payload))   # any verifier, later
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import note as notes
from chain.checkpoint import Checkpoint
from chain.crosslog import (
    REFERABLE,
    CheckedReference,
    CrossLogReferenceError,
    LogReference,
    PinnedLog,
    ReferenceEvidence,
    Referrer,
    check_head_covers,
    check_reference,
    pinned_log_of,
    reference_from_proof,
)
from chain.entries import event_outputs, parse_entry
from chain.errors import (
    FarmtraceError,
    MalformedEntryError,
    MalformedError,
    SourceError,
    StorageError,
    VerificationError,
)
from chain.json_input import load_json_object
from chain.proof_bundle import EntryProof, build_entry_proof
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from readapi.client import ReadApiClient, Transport

__all__ = [
    "ROLES",
    "NoReferableEntryError",
    "PinnedParty",
    "Pins",
    "ReferenceUnavailableError",
    "check_at_sources",
    "load_pins",
    "local_evidence",
    "parse_pins",
    "reference_to",
]

ROLES = ("farm", "hatchery", "vet", "plant", "distributor", "shop", "other")
"""What a pinned party is, as its pages and the demo name it."""

_PREFIX = re.compile(r"[0-9]{4,12}")
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_MAX_PINS_BYTES = 1 << 20


class ReferenceUnavailableError(VerificationError):
    """No source of the other log answered for a reference: it dangles, for now.

    Raised when every source is down, answers an HTTP error, or serves a
    checkpoint that covers the reference's size but no entry at its index;
    and when a local copy has not reached the reference's size yet.
    """

    reason = "ref_unavailable"

    def __init__(self, ref: LogReference, message: str) -> None:
        super().__init__(f"reference to {ref.describe()}: {message}", reason="ref_unavailable")
        self.ref = ref


class NoReferableEntryError(FarmtraceError):
    """The other log has no entry about a subject that the writer's event kind may name."""

    reason = "ref_nothing_to_name"


@dataclass(frozen=True, slots=True)
class PinnedParty:
    """One followed log: who runs it, how it is pinned, where to read it.

    ``slug`` is a short name unique in the pins file, safe in URL paths and
    file names (the site mounts the log under ``/logs/<slug>/``).
    ``gs1_prefixes`` are the GS1 company prefixes whose packs this party packs.
    """

    origin: str
    name: str
    role: str
    pin: PinnedLog
    sources: tuple[str, ...]
    gs1_prefixes: tuple[str, ...]
    slug: str


@dataclass(frozen=True, slots=True)
class Pins:
    """The logs a verifier follows, each pinned out of band (never by another log)."""

    parties: tuple[PinnedParty, ...]

    def pinned(self) -> dict[str, PinnedLog]:
        """Origin -> pinned trust root and witness policy, as :func:`check_reference` takes."""
        return {party.origin: party.pin for party in self.parties}

    def party(self, origin: str) -> PinnedParty | None:
        """The party whose log has ``origin``, if pinned."""
        return next((p for p in self.parties if p.origin == origin), None)

    def by_slug(self, slug: str) -> PinnedParty | None:
        """The party mounted under ``slug``, if any."""
        return next((p for p in self.parties if p.slug == slug), None)

    def for_gtin(self, gtin14: str) -> PinnedParty | None:
        """The party whose GS1 company prefix a GTIN-14 carries (at most one: prefixes never nest).

        A GTIN-14 is an indicator digit, then the company prefix: digits 2-13
        are the GTIN-13 form the prefix is matched against.
        """
        gtin13 = gtin14[1:] if len(gtin14) == 14 else gtin14
        return next(
            (p for p in self.parties if any(gtin13.startswith(x) for x in p.gs1_prefixes)), None
        )


def load_pins(path: Path) -> Pins:
    """Read a pins file; relative ``trust``/``witnesses`` paths resolve against its directory.

    Raises:
        StorageError: the file, or a trust root or witness policy it names,
            cannot be read.
        MalformedError: the document is malformed (see :func:`parse_pins`).
    """
    base = path.parent

    def read(name: str) -> str:
        target = base / name
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"{path}: cannot read {target}: {exc}", path=str(target)) from exc

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read pins file {path}: {exc}", path=str(path)) from exc
    try:
        document = load_json_object(raw, str(path), max_bytes=_MAX_PINS_BYTES)
        return parse_pins(document, read)
    except MalformedError as exc:
        raise MalformedError(f"{path}: {exc}", reason="malformed_pins") from exc


def parse_pins(document: Mapping[str, Any], read: Callable[[str], str]) -> Pins:
    """The pins in ``document`` (``{"logs": [...]}``), reading named files with ``read``.

    Each log has ``origin``, ``trust`` and ``sources`` (1+ http(s) read-API
    base URLs); optionally ``name``, ``role`` (one of :data:`ROLES`),
    ``witnesses`` (a witness policy file; none: quorum 0), ``gs1_prefixes``
    (4-12 digits each) and ``slug``.

    Raises:
        MalformedError: a member is missing or malformed; the trust root's
            origin is not the log's; two logs share an origin or a slug; or
            two GS1 prefixes overlap (one prefixes the other: GS1 never
            allocates nested prefixes, so one of them is a mistake).
    """
    logs = document.get("logs")
    if not isinstance(logs, list) or not logs:
        raise MalformedError('expected {"logs": [ ... ]} with at least one log')
    parties: list[PinnedParty] = []
    for position, item in enumerate(logs):
        where = f"logs[{position}]"
        if not isinstance(item, dict):
            raise MalformedError(f"{where}: expected an object")
        parties.append(_party(item, where, read, {p.slug for p in parties}))
    _check_unique(parties)
    return Pins(tuple(parties))


def _party(
    item: Mapping[str, Any], where: str, read: Callable[[str], str], slugs: set[str]
) -> PinnedParty:
    known = {"origin", "name", "role", "trust", "witnesses", "sources", "gs1_prefixes", "slug"}
    extra = sorted(set(item) - known)
    if extra:
        raise MalformedError(f"{where}: unknown member(s) {', '.join(extra)}")
    origin = _text(item, "origin", where)
    trust = TrustRoot.from_json(read(_text(item, "trust", where)))
    if trust.origin != origin:
        raise MalformedError(f"{where}: trust root is for {trust.origin!r}, not {origin!r}")
    witnesses = item.get("witnesses")
    policy = (
        WitnessPolicy(0, ())
        if witnesses is None
        else WitnessPolicy.from_json(read(_text(item, "witnesses", where)))
    )
    role = item.get("role", "other")
    if role not in ROLES:
        raise MalformedError(f"{where}.role: expected one of {', '.join(ROLES)}, found {role!r}")
    sources = _strings(item, "sources", where, _URL, required=True)
    prefixes = _strings(item, "gs1_prefixes", where, _PREFIX, required=False)
    slug = item.get("slug") or _slug_of(origin, slugs)
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise MalformedError(f"{where}.slug: expected lowercase letters, digits and '-'")
    name = item.get("name", origin)
    if not isinstance(name, str) or not name.strip():
        raise MalformedError(f"{where}.name: expected a non-empty string")
    return PinnedParty(
        origin=origin,
        name=name,
        role=role,
        pin=PinnedLog(trust, policy),
        sources=tuple(s.rstrip("/") for s in sources),
        gs1_prefixes=prefixes,
        slug=slug,
    )


def _text(item: Mapping[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedError(f"{where}.{name}: expected a non-empty string")
    return value


def _strings(
    item: Mapping[str, Any], name: str, where: str, pattern: re.Pattern[str], *, required: bool
) -> tuple[str, ...]:
    value = item.get(name, [])
    if not isinstance(value, list) or (required and not value):
        raise MalformedError(f"{where}.{name}: expected a {'non-empty ' if required else ''}list")
    for text in value:
        if not isinstance(text, str) or not pattern.fullmatch(text):
            raise MalformedError(f"{where}.{name}: malformed item {text!r}")
    return tuple(value)


def _slug_of(origin: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", origin.lower().removesuffix("/log")).strip("-")[:56] or "log"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_unique(parties: Sequence[PinnedParty]) -> None:
    seen_origins: set[str] = set()
    seen_slugs: set[str] = set()
    for party in parties:
        if party.origin in seen_origins:
            raise MalformedError(f"log {party.origin!r} is pinned twice")
        if party.slug in seen_slugs:
            raise MalformedError(f"slug {party.slug!r} is used twice")
        seen_origins.add(party.origin)
        seen_slugs.add(party.slug)
    prefixes = sorted((x, p.origin) for p in parties for x in p.gs1_prefixes)
    for (a, origin_a), (b, origin_b) in itertools.pairwise(prefixes):
        if b.startswith(a):
            raise MalformedError(
                f"GS1 prefix {a} ({origin_a}) overlaps {b} ({origin_b}): prefixes never nest"
            )


# -- evidence from live sources -------------------------------------------------------


def check_at_sources(
    ref: LogReference,
    pins: Pins,
    referrer: Referrer,
    *,
    transport: Transport | None = None,
    timeout: float = 5.0,
) -> CheckedReference:
    """Check ``ref`` against the other log's current cosigned checkpoint, read from its sources.

    Each pinned source is asked in turn for its checkpoint, the entry's proof
    under it and the consistency proof from ``ref.size``; the first source
    that answers decides. A source that answers with a checkpoint that fails
    the pins (another key, too few cosignatures) decides too: that is what
    the log shows.

    Raises:
        CrossLogReferenceError: the reference does not hold (any ``ref_*``
            reason of :func:`chain.crosslog.check_reference`; ref_rolled_back
            when the log's cosigned checkpoint is smaller than ``ref.size``).
        ReferenceUnavailableError: no source answered, or none served the
            entry although its checkpoint covers it.
    """
    pinned_log_of(ref, pins.pinned())
    party = pins.party(ref.log)
    assert party is not None  # pinned_log_of refused any other
    problems: list[str] = []
    behind: CrossLogReferenceError | None = None
    for base in party.sources:
        client = ReadApiClient(base, transport=transport, timeout=timeout)
        try:
            return check_reference(ref, _evidence(ref, client, pins), pins.pinned(), referrer)
        except SourceError as exc:
            problems.append(str(exc))
        except CrossLogReferenceError as exc:
            if exc.reason != "ref_rolled_back":
                raise
            behind = behind or exc  # another source may still show the tree
    if behind is not None:
        raise behind
    raise ReferenceUnavailableError(ref, "no source answered: " + "; ".join(problems))


def _evidence(ref: LogReference, client: ReadApiClient, pins: Pins) -> ReferenceEvidence:
    """The evidence ``client``'s source serves for ``ref`` at its current checkpoint.

    Raises:
        SourceError: the source failed, or has no entry at the index.
        CrossLogReferenceError: its checkpoint fails the pins or is smaller than ``ref.size``.
    """
    head = client.checkpoint()
    checkpoint, _cosigners = check_head_covers(ref, head, pins.pinned())
    proof = client.entry_proof(ref.index, checkpoint.size)
    consistency = (
        () if checkpoint.size == ref.size else client.consistency(ref.size, checkpoint.size)
    )
    return ReferenceEvidence(proof, tuple(consistency))


def reference_to(
    origin: str,
    subject: str,
    pins: Pins,
    referrer: Referrer,
    *,
    transport: Transport | None = None,
    timeout: float = 5.0,
) -> CheckedReference:
    """For a writer: a checked reference to the latest entry about ``subject`` in ``origin``'s log.

    Takes the latest entry about ``subject`` (among its subjects or outputs)
    whose kind :data:`chain.crosslog.REFERABLE` lets ``referrer.event`` name,
    proves it under the log's current cosigned checkpoint and checks the
    reference made from that proof. ``result.ref`` goes into the event.

    Raises:
        CrossLogReferenceError: the log is not pinned, or the reference does
            not hold under the pins (e.g. the checkpoint lacks its quorum).
        NoReferableEntryError: the log has no such entry under its cosigned
            checkpoint.
        ReferenceUnavailableError: no source answered.
        MalformedEntryError: ``subject`` breaks the reference format.
    """
    allowed = REFERABLE.get(referrer.event, frozenset())
    placeholder = LogReference(origin, 0, "0" * 64, 1, "0" * 64, subject)
    pinned_log_of(placeholder, pins.pinned())
    party = pins.party(origin)
    assert party is not None  # pinned_log_of refused any other
    problems: list[str] = []
    for base in party.sources:
        client = ReadApiClient(base, transport=transport, timeout=timeout)
        try:
            head = client.checkpoint()
            size = Checkpoint.from_text(notes.parse(head).text).size
            proof = _latest_provable(client, subject, allowed, referrer.ts, size)
            if proof is None:
                raise NoReferableEntryError(
                    f"{origin} has no entry about {subject} that a {referrer.event} may name "
                    f"(one of: {', '.join(sorted(allowed)) or 'none'}) dated no later than it, "
                    f"under its checkpoint of size {size}"
                )
            ref = reference_from_proof(proof, subject)
            return check_reference(ref, ReferenceEvidence(proof), pins.pinned(), referrer)
        except SourceError as exc:
            problems.append(str(exc))
        except MalformedError as exc:
            if isinstance(exc, MalformedEntryError):
                raise
            problems.append(f"{base}: {exc}")
    raise ReferenceUnavailableError(placeholder, "no source answered: " + "; ".join(problems))


def _latest_provable(
    client: ReadApiClient, subject: str, allowed: frozenset[str], ts: int, size: int
) -> EntryProof | None:
    """The proof, at ``size``, of the latest event about ``subject`` of an ``allowed`` kind.

    Only events dated no later than ``ts`` count. The subject endpoint also
    lists entries committed after the checkpoint: those cannot be proven
    under it yet and are passed over (the writer names what the witnesses
    have seen).

    Raises:
        SourceError: the source failed other than by not covering an entry.
    """
    for index, raw in reversed(client.subject_events(subject)):
        try:
            entry = parse_entry(raw)
        except MalformedEntryError:
            continue
        payload = entry.payload
        if entry.type != "event" or payload.get("event") not in allowed or entry.ts > ts:
            continue
        if subject not in (*payload["subjects"], *event_outputs(payload)):
            continue
        try:
            return client.entry_proof(index, size)
        except SourceError as exc:
            if exc.status not in (400, 404):
                raise
    return None


# -- evidence from a local verified copy ------------------------------------------------


def local_evidence(ref: LogReference, store: Store) -> ReferenceEvidence:
    """The evidence a verified local copy of the other log holds for ``ref``, at its head.

    The copy must be one that verified what it holds against the same pins
    (a site's replica, a data directory checked by the audit): its head
    checkpoint is what :func:`check_reference` then checks.

    Raises:
        ReferenceUnavailableError: the copy has no checkpoint, or has not
            reached ``ref.size`` yet (a copy behind is not a log rolled back).
        CrossLogReferenceError: ``ref_entry_mismatch``: the copy covers
            ``ref.size`` yet has no entry at ``ref.index`` in it (the log
            never showed that entry there).
        StorageError: the store failed.
    """
    latest = store.latest_checkpoint()
    if latest is None:
        raise ReferenceUnavailableError(ref, "the local copy of that log has no checkpoint yet")
    size, _note = latest
    if size < ref.size:
        raise ReferenceUnavailableError(
            ref, f"the local copy of that log holds {size} blocks, not yet {ref.size}"
        )
    held = store.block(ref.size - 1).next_index
    if ref.index >= held:
        raise CrossLogReferenceError(
            ref,
            "the log shows no such entry",
            reason="ref_entry_mismatch",
            expected=f"entry {ref.index} within the first {ref.size} blocks",
            found=f"{held} entries in them",
        )
    proof = build_entry_proof(store, ref.index, size)
    consistency = () if size == ref.size else tuple(store.consistency_proof(ref.size, size))
    return ReferenceEvidence(proof, consistency)
