"""Sequence gaps, split into those a signer declared and those that are missing.

A signer's seqs run 1, 2, 3 ... (design.md section 2). A seq absent from the
log is either *declared*: the signer said in a signed ``gap`` entry that it
never used it (reserved, then lost in a crash), or *missing*: nobody says
why, so it may be an entry the gateway dropped. Only missing seqs weaken the
guarantee that a gateway cannot drop readings unseen, so the audit lists the
two apart. A declaration that names seqs the log holds is a false statement
by its signer: a finding.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chain.audit._report import AuditReport, Finding, SignerGaps

__all__ = ["Declaration", "SignerSplit", "report_gaps", "split_gaps"]

_MAX_LISTED_RANGES = 20
Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Declaration:
    """A verified ``gap`` entry: ``signer`` declared seqs ``first``..``last`` unused."""

    signer: str
    entry: int
    seq: int
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class SignerSplit:
    """One signer's absent seqs: ``missing`` (undeclared) and ``declared``, each None if none."""

    missing: SignerGaps | None
    declared: SignerGaps | None
    findings: tuple[Finding, ...]


def split_gaps(
    signer: str, seqs: Iterable[int], declarations: Sequence[Declaration]
) -> SignerSplit:
    """Split the seqs absent from 1..max(``seqs``) by ``declarations`` (all ``signer``'s).

    ``seqs`` are the signer's seqs in the log (unique, any order). Each
    declaration naming a seq the log holds yields a ``false_gap`` finding.
    """
    ordered = sorted(seqs)
    findings = []
    for d in declarations:
        held = bisect.bisect_right(ordered, d.last) - bisect.bisect_left(ordered, d.first)
        if held:
            findings.append(
                Finding(
                    "false_gap",
                    f"{signer} seq {d.seq} declares seqs {d.first}..{d.last} never used, "
                    f"but the log holds {held} of them",
                    entry=d.entry,
                )
            )
    holes = _holes(ordered)
    declared_runs = _merge((d.first, d.last) for d in declarations)
    declared = _intersect(holes, declared_runs)
    missing = _subtract(holes, declared_runs)
    return SignerSplit(
        _summary(signer, ordered, missing), _summary(signer, ordered, declared), tuple(findings)
    )


def _holes(ordered: list[int]) -> list[Range]:
    holes, expected = [], 1
    for seq in ordered:
        if seq > expected:
            holes.append((expected, seq - 1))
        expected = seq + 1
    return holes


def _merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _intersect(a: list[Range], b: list[Range]) -> list[Range]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            out.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(a: list[Range], b: list[Range]) -> list[Range]:
    out, j = [], 0
    for first, last in a:
        while j < len(b) and b[j][1] < first:
            j += 1
        k, start = j, first
        while k < len(b) and b[k][0] <= last:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = max(start, b[k][1] + 1)
            k += 1
        if start <= last:
            out.append((start, last))
    return out


def _summary(signer: str, ordered: list[int], ranges: list[Range]) -> SignerGaps | None:
    if not ranges:
        return None
    total = sum(last - first + 1 for first, last in ranges)
    return SignerGaps(signer, len(ordered), ordered[-1], total, tuple(ranges[:_MAX_LISTED_RANGES]))


def report_gaps(
    report: AuditReport,
    seqs: Mapping[str, Iterable[int]],
    declared: Iterable[tuple[str, int, int, int, int]],
) -> None:
    """Fill ``report``'s missing and declared gaps, their totals, and false declarations.

    ``seqs`` maps each signer to its seqs in the log; ``declared`` holds
    ``(signer, index, seq, from, to)`` of every verified ``gap`` entry.
    """
    by_signer: dict[str, list[Declaration]] = {}
    for signer, index, seq, first, last in declared:
        by_signer.setdefault(signer, []).append(Declaration(signer, index, seq, first, last))
    for signer, signer_seqs in sorted(seqs.items()):
        split = split_gaps(signer, signer_seqs, by_signer.get(signer, ()))
        if split.missing is not None:
            report.gaps.append(split.missing)
            report.missing_seqs += split.missing.missing_total
        if split.declared is not None:
            report.declared_gaps.append(split.declared)
            report.declared_seqs += split.declared.missing_total
        report.failures.extend(split.findings)
