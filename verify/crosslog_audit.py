"""The audit across logs: every cross-log reference of a log, checked against the other log.

::

    collector = ReferenceCollector()
    report = audit_log_dir(Path("plant/log"), trust, on_audited=collector)
    section = collector.section(load_pins(Path("pins.json")))   # None: list, do not check
    combined = CrossLogAuditReport(report, section)
    print(combined.to_text())
    raise SystemExit(combined.exit_code)

Each ``refs`` item of each ``event`` entry (docs/supply-chain.md section 2)
is checked with :func:`readapi.crosslog.check_at_sources`: the other log's
entry proof at its current cosigned checkpoint, from the sources the pins
file lists for it (never from the audited log), plus the consistency proof
from the reference's size. A reference that does not hold is a failure of
the audit, with its reason: ``ref_entry_mismatch`` (forged: another entry at
that index), ``ref_rolled_back`` (the other log now shows a smaller or
another tree: an entry it no longer shows), ``ref_unavailable`` (dangling:
no source of the other log answered), ``ref_unknown_log`` (a log the pins
file does not list) and the other ``ref_*`` reasons of
:func:`chain.crosslog.check_reference`.

For ``ref_rolled_back`` and ``ref_entry_mismatch`` the report says who is to
blame (:mod:`verify.crosslog_blame`): the audited log, when it kept no
cosigned note of the other log at the reference's size and root; the other
log, when it did and that log now shows another tree.

Without a pins file nothing is fetched: the references are listed as not
followed, with a warning, and do not fail the audit.

Identical references (the same reference made by events of the same kind,
subjects and time) are checked once, and a referenced log none of whose
sources answers is asked once, not once per reference.

The report also lists recalls, as notices (:mod:`verify.recall_notices`):
the audited log's own, and, with a pins file, those the referenced logs
show of what the references name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chain.audit import AuditReport, Finding
from chain.crosslog import CrossLogReferenceError, LogReference, Referrer, refs_in
from chain.crosslog_blame import BLAMEABLE
from chain.entries import parse_entry
from chain.errors import FarmtraceError, SourceError
from chain.store import Store
from readapi.client import ReadApiClient, Transport
from readapi.crosslog import Pins, check_at_sources
from verify.crosslog_blame import Blamer, KeptNotes
from verify.live_audit import Progress, no_progress
from verify.recall_notices import RecallNotice, RecallSection, recall_of, recalls_at_sources
from verify.report import LiveAuditReport

__all__ = [
    "NOT_FOLLOWED",
    "CrossLogAuditReport",
    "CrossLogSection",
    "RefCheck",
    "ReferenceCollector",
    "Referring",
    "check_references",
    "collect_events",
    "collect_references",
    "unfollowed_references",
]

NOT_FOLLOWED = "not_followed"
"""The outcome of a reference the audit was not asked to follow (no pins file)."""

_MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class Referring:
    """An ``event`` entry of the audited log that carries references: its ``index`` and ``refs``."""

    index: int
    referrer: Referrer
    refs: tuple[LogReference, ...]


@dataclass(frozen=True, slots=True)
class RefCheck:
    """One reference of entry ``entry`` and what became of it.

    ``outcome`` is ``"ok"``, :data:`NOT_FOLLOWED`, or the failure's reason
    (``ref_*``, including ``ref_unavailable``). ``expected`` and ``found``
    are the error's, when it says; ``checkpoint_size`` and ``cosigners`` the
    other log's checkpoint it held under. ``blame`` (for ``ref_rolled_back``
    and ``ref_entry_mismatch``) is who is to blame, as
    :meth:`chain.crosslog_blame.Blame.to_json` gives it.
    """

    entry: int
    log: str
    index: int
    subject: str
    outcome: str
    message: str
    expected: str | None = None
    found: str | None = None
    checkpoint_size: int | None = None
    cosigners: tuple[str, ...] = ()
    blame: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """True unless the reference held or was not followed."""
        return self.outcome not in ("ok", NOT_FOLLOWED)

    def finding(self) -> Finding:
        """The failure as a finding of the audit report, located at the referencing entry."""
        if self.blame is None:
            return Finding(self.outcome, self.message, entry=self.entry)
        verdict = f"{self.message}; who is to blame: {self.blame['evidence']}"
        return Finding(self.outcome, verdict, entry=self.entry)


@dataclass(slots=True)
class CrossLogSection:
    """The references of one log and their checks; ``followed`` False without a pins file.

    ``collected`` is False when the log's store was never read for them (the
    log itself could not be opened, or its checkpoint not verified);
    ``error`` says why they could not be read from a store that was.
    """

    followed: bool
    checks: list[RefCheck] = field(default_factory=list)
    fetched: int = 0
    seconds: float = 0.0
    error: Finding | None = None
    collected: bool = True

    @property
    def failures(self) -> list[RefCheck]:
        """The references that do not hold."""
        return [check for check in self.checks if check.failed]

    def to_json(self) -> dict[str, Any]:
        """The section as the ``references`` member of the audit's JSON report."""
        return {
            "followed": self.followed,
            "total": len(self.checks),
            "failed": len(self.failures),
            "fetched": self.fetched,
            "seconds": self.seconds,
            "checks": [asdict(check) | {"failed": check.failed} for check in self.checks],
            "error": None if self.error is None else asdict(self.error),
            "collected": self.collected,
        }

    def lines(self, *, max_listed: int = _MAX_LISTED) -> list[str]:
        """The section for people: a summary; without pins, each reference not followed.

        The failures are not repeated: they are the report's, and its RESULT
        lists them. Empty for a log without references audited without pins.
        """
        title = "  references to other logs"
        if self.error is not None:
            return [f"{title}  not collected: {self.error.message}"]
        if not self.collected:
            return [f"{title}  not collected: the log itself could not be read or verified"]
        if not self.checks:
            return [f"{title}  none"] if self.followed else []
        if self.followed:
            held = len(self.checks) - len(self.failures)
            logs = len({check.log for check in self.checks})
            return [
                f"{title}  {len(self.checks):,} to {logs:,} logs: {held:,} hold, "
                f"{len(self.failures):,} fail ({self.fetched:,} checked at the other logs' "
                f"sources in {self.seconds:,.1f} s)"
            ]
        lines = [
            f"{title}  {len(self.checks):,}, not followed "
            "(pass --pins to check them against the other logs):"
        ]
        for check in self.checks[:max_listed]:
            lines.append(
                f"    entry {check.entry}: {check.log} entry {check.index} ({check.subject})"
            )
        if len(self.checks) > max_listed:
            lines.append(f"    … and {len(self.checks) - max_listed:,} more (use --json)")
        return lines


def collect_references(store: Store, *, until: int | None = None) -> list[Referring]:
    """Every ``event`` entry of ``store`` (below index ``until``) that carries ``refs``.

    Precondition: the store's entries were verified (the audit parses them
    again, and the gateway refused malformed ones).

    Raises:
        StorageError: the store failed.
        MalformedEntryError: an event entry does not parse.
    """
    return collect_events(store, until=until)[0]


def collect_events(
    store: Store, *, until: int | None = None
) -> tuple[list[Referring], list[RecallNotice]]:
    """The event entries of ``store`` an audit across logs needs: those with refs, the recalls.

    One pass over the events, as :func:`collect_references` (same
    precondition, same errors).
    """
    found: list[Referring] = []
    recalls: list[RecallNotice] = []
    for index in store.event_indexes():
        if until is not None and index >= until:
            break
        entry = parse_entry(store.entry(index))
        refs = entry.payload.get("refs")
        if refs is not None:
            found.append(
                Referring(index, Referrer.from_payload(entry.payload), refs_in(entry.payload))
            )
        recall = recall_of(index, entry.payload)
        if recall is not None:
            recalls.append(recall)
    return found, recalls


def unfollowed_references(referring: Iterable[Referring]) -> CrossLogSection:
    """The references listed, not checked: the audit was given no pins file."""
    return CrossLogSection(
        followed=False,
        checks=[
            RefCheck(
                item.index,
                ref.log,
                ref.index,
                ref.subject,
                NOT_FOLLOWED,
                f"reference to {ref.describe()} not followed: no pins file",
            )
            for item in referring
            for ref in item.refs
        ],
    )


def check_references(
    referring: Iterable[Referring],
    pins: Pins,
    *,
    transport: Transport | None = None,
    timeout: float = 5.0,
    progress: Progress = no_progress,
) -> CrossLogSection:
    """Check each reference of ``referring`` at the other log's pinned sources.

    Each referenced log's sources are first asked for their checkpoint, once:
    the references to a log none of whose sources answers are dangling
    (``ref_unavailable``) without asking again for each (a log that hangs
    would otherwise cost a timeout per reference). Identical (reference,
    referrer) pairs are checked once. Never raises for a reference:
    whatever goes wrong with one (the other log down or lying, its answer
    malformed) is that reference's failure, with its reason.
    """
    items = list(referring)
    started = time.monotonic()
    down = _down_logs({ref.log for item in items for ref in item.refs}, pins, transport, timeout)
    done: dict[tuple[LogReference, Referrer], RefCheck] = {}
    unique = {(ref, item.referrer) for item in items for ref in item.refs}
    section = CrossLogSection(followed=True)
    with progress("references", len(unique), " refs") as advance:
        for item in items:
            for ref in item.refs:
                key = (ref, item.referrer)
                if key not in done:
                    if ref.log in down:
                        done[key] = _dangling(ref, down[ref.log])
                    else:
                        done[key] = _check_one(ref, pins, item.referrer, transport, timeout)
                        section.fetched += 1
                    advance(1)
                section.checks.append(replace(done[key], entry=item.index))
    section.seconds = time.monotonic() - started
    return section


def _down_logs(
    origins: Iterable[str], pins: Pins, transport: Transport | None, timeout: float
) -> dict[str, str]:
    """The pinned logs among ``origins`` none of whose sources serves a checkpoint, and why."""
    down: dict[str, str] = {}
    for origin in sorted(origins):
        party = pins.party(origin)
        if party is None:
            continue  # check_at_sources says ref_unknown_log
        problems = []
        for base in party.sources:
            try:
                ReadApiClient(base, transport=transport, timeout=timeout).checkpoint()
            except SourceError as exc:
                problems.append(str(exc))
            else:
                break
        else:
            down[origin] = "; ".join(problems)
    return down


def _dangling(ref: LogReference, why: str) -> RefCheck:
    message = f"reference to {ref.describe()}: no source of that log answered: {why}"
    return RefCheck(-1, ref.log, ref.index, ref.subject, "ref_unavailable", message)


def _check_one(
    ref: LogReference,
    pins: Pins,
    referrer: Referrer,
    transport: Transport | None,
    timeout: float,
) -> RefCheck:
    where = (-1, ref.log, ref.index, ref.subject)
    try:
        checked = check_at_sources(ref, pins, referrer, transport=transport, timeout=timeout)
    except CrossLogReferenceError as exc:
        return RefCheck(*where, exc.reason, str(exc), exc.expected, exc.found)
    except FarmtraceError as exc:  # ref_unavailable, or a source's answer that is not even wrong
        message = str(exc)
        expected = getattr(exc, "expected", None)
        found = getattr(exc, "found", None)
        return RefCheck(
            *where,
            exc.reason,
            message if message.startswith("reference to ") else f"{ref.describe()}: {message}",
            None if expected is None else str(expected),
            None if found is None else str(found),
        )
    return RefCheck(
        *where,
        "ok",
        f"reference to {ref.describe()} holds at size {checked.checkpoint.size}",
        checkpoint_size=checked.checkpoint.size,
        cosigners=tuple(checked.cosigners),
    )


def _with_blame(
    checks: list[RefCheck], referring: Iterable[Referring], blamer: Blamer
) -> list[RefCheck]:
    """``checks``, each failing ``ref_rolled_back`` or ``ref_entry_mismatch`` with its blame."""
    refs = {(i.index, r.log, r.index, r.subject): r for i in referring for r in i.refs}
    verdicts: dict[tuple[LogReference, str], dict[str, Any]] = {}
    blamed = []
    for check in checks:
        ref = refs.get((check.entry, check.log, check.index, check.subject))
        if ref is not None and check.outcome in BLAMEABLE:
            if (ref, check.outcome) not in verdicts:
                verdicts[(ref, check.outcome)] = blamer(ref, check.outcome).to_json()
            check = replace(check, blame=verdicts[(ref, check.outcome)])
        blamed.append(check)
    return blamed


class ReferenceCollector:
    """Collects a store's references while the store is open: pass it as ``on_audited``.

    ``audit_log_dir(path, trust, on_audited=collector)`` (or :func:`verify.live_audit.live_audit`),
    then :meth:`section` checks what it collected.
    """

    def __init__(self, kept: KeptNotes | None = None) -> None:
        self.kept = kept  # None: read the notes the audited store kept, while it is open
        self.origin: str | None = None
        self.referring: list[Referring] = []
        self.own_recalls: list[RecallNotice] = []
        self.error: Finding | None = None
        self.called = False

    def __call__(self, store: Store) -> None:
        """Collect ``store``'s references and recalls; a store that fails is recorded."""
        self.called = True
        try:
            self.referring, self.own_recalls = collect_events(store)
            self.origin = store.origin
            if self.kept is None:
                refs = (ref for item in self.referring for ref in item.refs)
                self.kept = KeptNotes.from_store(store, refs)
        except FarmtraceError as exc:
            self.error = Finding(exc.reason, f"cross-log references could not be read: {exc}")

    def section(
        self,
        pins: Pins | None,
        *,
        transport: Transport | None = None,
        timeout: float = 5.0,
        progress: Progress = no_progress,
    ) -> CrossLogSection:
        """The references collected, checked against ``pins`` (None: listed as not followed)."""
        if pins is None:
            section = unfollowed_references(self.referring)
        else:
            section = check_references(
                self.referring, pins, transport=transport, timeout=timeout, progress=progress
            )
            if self.kept is not None and self.origin is not None:
                blamer = Blamer(
                    pins, self.kept, referencing=self.origin, transport=transport, timeout=timeout
                )
                section.checks = _with_blame(section.checks, self.referring, blamer)
        section.error, section.collected = self.error, self.called
        return section

    def recalls(
        self,
        pins: Pins | None,
        *,
        section: CrossLogSection | None = None,
        transport: Transport | None = None,
        timeout: float = 5.0,
    ) -> RecallSection:
        """The log's own recalls and, with ``pins``, those its references lead to.

        Logs ``section`` found down (``ref_unavailable``) are not asked again.
        """
        recalls = RecallSection(own=list(self.own_recalls), followed=pins is not None)
        if pins is not None and self.referring:
            down = (
                set()
                if section is None
                else {check.log for check in section.checks if check.outcome == "ref_unavailable"}
            )
            found = recalls_at_sources(
                self.referring, pins, transport=transport, timeout=timeout, skip=down
            )
            recalls.referenced, recalls.problems = found.notices, found.problems
        return recalls


@dataclass(slots=True)
class CrossLogAuditReport:
    """A log's own audit (offline or live) with its references' section.

    Made with the section's failures already appended to the audit's
    failures (``ok``, ``exit_code`` and the RESULT line cover them); without
    a pins file, a warning says the references were not followed.
    """

    report: AuditReport | LiveAuditReport
    section: CrossLogSection
    recalls: RecallSection = field(default_factory=RecallSection)

    def __post_init__(self) -> None:
        audit = self.report.audit if isinstance(self.report, LiveAuditReport) else self.report
        audit.failures.extend(check.finding() for check in self.section.failures)
        if self.section.error is not None:
            audit.failures.append(self.section.error)
        if not self.section.followed and self.section.checks:
            audit.warnings.append(
                Finding(
                    "refs_not_followed",
                    f"{len(self.section.checks):,} references to other logs were not checked: "
                    "pass --pins with the other logs' trust roots, witnesses and sources",
                )
            )

    @property
    def ok(self) -> bool:
        """True when nothing failed, in the log or its references."""
        return self.report.ok

    @property
    def exit_code(self) -> int:
        """0 ok, 1 a check failed (a reference included), 2 no verdict on the log itself."""
        return self.report.exit_code

    def to_json(self) -> str:
        """The audit's JSON report with a ``references`` member."""
        data = json.loads(self.report.to_json())
        data["references"] = self.section.to_json()
        data["recalls"] = self.recalls.to_json()
        return json.dumps(data, indent=2, sort_keys=True)

    def to_text(self, *, max_listed: int = 50) -> str:
        """The audit's report with the references' section just before its RESULT line."""
        text = self.report.to_text(max_listed=max_listed)
        head, sep, tail = text.rpartition("\nRESULT: ")
        section = "\n".join(
            [*self.section.lines(max_listed=max_listed), *self.recalls.lines(max_listed=max_listed)]
        )
        if not sep:  # no RESULT line: cannot happen, but never lose the section
            return text + section + "\n"
        return f"{head}\n{section}{sep}{tail}"
