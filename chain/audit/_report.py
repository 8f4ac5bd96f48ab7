"""What an audit found, as data (for ``--json``) and as text (for people)."""

from __future__ import annotations

import json
from array import array
from dataclasses import asdict, dataclass, field

__all__ = ["AuditReport", "Finding", "SignerGaps", "find_gaps"]

_MAX_LISTED_RANGES = 20
NO_VERDICT = frozenset({"unreadable", "unknown_record"})
"""Reasons of findings that leave part of the store unjudged: no verdict (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or warning): a stable ``reason`` tag and a message for people.

    ``block`` and ``entry`` locate it when it is about a block or an entry.
    """

    reason: str
    message: str
    block: int | None = None
    entry: int | None = None

    def describe(self) -> str:
        """One line: where, why, what."""
        where = []
        if self.block is not None:
            where.append(f"block {self.block}")
        if self.entry is not None:
            where.append(f"entry {self.entry}")
        prefix = ", ".join(where) + ": " if where else ""
        return f"{prefix}{self.reason}: {self.message}"


@dataclass(frozen=True, slots=True)
class SignerGaps:
    """Absent sequence numbers of one signer between 1 and the highest seen.

    ``missing`` lists up to 20 inclusive ranges; ``missing_total`` counts all.
    (In :attr:`AuditReport.declared_gaps` they are the declared ones.)
    """

    signer: str
    entries: int
    highest_seq: int
    missing_total: int
    missing: tuple[tuple[int, int], ...]


def find_gaps(signer: str, seqs: array[int]) -> SignerGaps | None:
    """The gaps in ``seqs`` (unique, any order), or None when 1..max are all there."""
    ordered = sorted(seqs)
    highest = ordered[-1] if ordered else 0
    if highest == len(ordered):
        return None
    ranges: list[tuple[int, int]] = []
    expected = 1
    for seq in ordered:
        if seq > expected and len(ranges) < _MAX_LISTED_RANGES:
            ranges.append((expected, seq - 1))
        expected = seq + 1
    return SignerGaps(signer, len(ordered), highest, highest - len(ordered), tuple(ranges))


@dataclass(slots=True)
class AuditReport:
    """The outcome of one audit. ``ok`` is true when there are no failures.

    Gaps and warnings do not fail an audit: a gap is a reading the log never
    received, which the log cannot vouch for either way, and is reported so
    that nobody can drop readings unseen. ``gaps`` lists the *missing* seqs
    (``missing_seqs`` in all), ``declared_gaps`` those their signer declared
    unused in a signed ``gap`` entry (``declared_seqs``); a declaration of
    seqs the log holds is a ``false_gap`` failure.

    ``complete`` is false when part of the store could not be judged: it
    could not be read to the end (a corrupt or unreadable file: a failure
    with reason ``"unreadable"``, after which the audit stopped) or it holds
    records the store never writes (``"unknown_record"``). Then there is no
    verdict, whatever else was found.
    """

    origin: str
    blocks: int = 0
    entries: int = 0
    signers: int = 0
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    checkpoints_verified: int = 0
    seconds: float = 0.0
    failures: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    gaps: list[SignerGaps] = field(default_factory=list)
    declared_gaps: list[SignerGaps] = field(default_factory=list)
    missing_seqs: int = 0
    declared_seqs: int = 0

    @classmethod
    def unreadable(cls, origin: str, error: Exception) -> AuditReport:
        """The report of an audit that could not read the store at all: ``error`` says why."""
        return cls(origin=origin, failures=[Finding("unreadable", str(error))])

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    @property
    def complete(self) -> bool:
        """False when part of the store could not be judged (see the class docstring)."""
        return not any(finding.reason in NO_VERDICT for finding in self.failures)

    @property
    def exit_code(self) -> int:
        """The exit status: 0 ok, 1 a check failed, 2 no verdict (see :attr:`complete`)."""
        if not self.complete:
            return 2
        return 0 if self.ok else 1

    def to_json(self) -> str:
        """The report as a JSON document (stable member names)."""
        data = asdict(self)
        data["ok"] = self.ok
        data["complete"] = self.complete
        data["exit_code"] = self.exit_code
        return json.dumps(data, indent=2, sort_keys=True)

    def to_text(self, *, max_listed: int = 50) -> str:
        """The report for people, listing at most ``max_listed`` failures."""
        rate = f" ({self.entries / self.seconds:,.0f} entries/s)" if self.seconds > 0 else ""
        lines = [
            f"farmtrace audit of {self.origin}",
            f"  blocks   {self.blocks:,}",
            f"  entries  {self.entries:,} from {self.signers:,} signers{rate}",
        ]
        if self.checkpoint_size is None:
            lines.append("  checkpoint  none")
        else:
            lines.append(
                f"  checkpoint  size {self.checkpoint_size:,}, root {self.checkpoint_root} "
                f"({self.checkpoints_verified:,} checkpoints verified)"
            )
        for title, what, gaps, total in (
            ("sequence gaps", "missing", self.gaps, self.missing_seqs),
            ("declared gaps", "declared unused", self.declared_gaps, self.declared_seqs),
        ):
            if not gaps:
                lines.append(f"  {title}  none")
                continue
            lines.append(f"  {title}: {total:,} seqs {what} in {len(gaps)} signers:")
            for gap in gaps:
                ranges = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gap.missing)
                listed = sum(b - a + 1 for a, b in gap.missing)
                more = ", …" if listed < gap.missing_total else ""
                lines.append(
                    f"    {gap.signer}: {gap.missing_total:,} {what} of 1..{gap.highest_seq:,}"
                    f" ({ranges}{more})"
                )
        for warning in self.warnings:
            lines.append(f"  warning: {warning.describe()}")
        if self.ok:
            lines.append("RESULT: OK: every entry, block, link, index and checkpoint verified")
        else:
            # What stopped the audit, or what it could not judge, comes first.
            failures = sorted(self.failures, key=lambda f: f.reason not in NO_VERDICT)
            if self.complete:
                lines.append(f"RESULT: FAILED: {len(failures):,} problems")
            else:
                lines.append(
                    f"RESULT: NO VERDICT: part of the store could not be read or is not "
                    f"a farmtrace record ({len(failures):,} problems)"
                )
            for finding in failures[:max_listed]:
                lines.append(f"  {finding.describe()}")
            if len(self.failures) > max_listed:
                lines.append(f"  … and {len(self.failures) - max_listed:,} more (use --json)")
        return "\n".join(lines) + "\n"
