"""Withdrawal periods: a treated bird's meat may not be sold until its medicine is gone.

Private to :mod:`chain.lifecycle`, which records the periods and reports a
slaughter inside one. A ``treated`` event's ``withdrawal_days`` run from its
``ts`` (the last dose). Slaughtering inside the period is a breach of food
law (in the EU, Regulation (EU) 2019/6), not a contradiction in the log: the
log records it and the audit and the pack page show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chain._lifecycle_rules import SubjectState, describe

__all__ = [
    "DAY_MS",
    "Period",
    "WithdrawalBreach",
    "barn_period_reaching",
    "later",
    "period_of",
    "withdrawal_end",
]

DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


def withdrawal_end(ts: int, payload: Mapping[str, Any]) -> int:
    """When the withdrawal period of a ``treated`` payload signed at ``ts`` ends (ms).

    Precondition: ``payload`` is a valid ``treated`` event (``withdrawal_days``
    absent counts as 0: no period stated).
    """
    days = payload.get("withdrawal_days", 0)
    return ts + int(days) * DAY_MS


Period = tuple[int, int, int]
"""A withdrawal period: (its end in ms, the index of the ``treated`` event that set it, that
event's ``ts``: the period's start)."""


def period_of(state: SubjectState | None) -> Period | None:
    """The latest-ending period of the ``treated`` events naming ``state``'s subject."""
    if state is None:
        return None
    until, index, start = state.withdrawal_until, state.withdrawal_index, state.withdrawal_from
    if until is None or index is None or start is None:
        return None
    return until, index, start


def later(*periods: Period | None) -> Period | None:
    """The period that ends last (the first of equals), or None."""
    found: Period | None = None
    for period in periods:
        if period is not None and (found is None or period[0] > found[0]):
            found = period
    return found


def barn_period_reaching(bird: SubjectState, barn: SubjectState | None) -> Period | None:
    """The period of ``barn``'s treatments given while ``bird`` was in it.

    A barn's ``treated`` event (medicine in the drinking water) reaches the
    birds in the barn then: it counts when it came after the bird's latest
    placed or moved event, which put the bird in its current barn.
    """
    period = period_of(barn)
    if period is None or bird.placed is None or period[1] < bird.placed:
        return None
    return period


@dataclass(frozen=True, slots=True)
class WithdrawalBreach:
    """Bird ``subject`` (a lifecycle key: for another log's bird, its
    :func:`chain.crosslog.foreign_key`) was slaughtered by entry ``index`` at ``ts``,
    inside the withdrawal period that entry ``treated_index`` set, which ends at ``until_ms``."""

    subject: str
    index: int
    ts: int
    treated_index: int
    until_ms: int

    def describe(self) -> str:
        """One line for people."""
        hours = -(-(self.until_ms - self.ts) // _HOUR_MS)
        return (
            f"slaughtered: {describe(self.subject)} was slaughtered {hours} h before the "
            f"withdrawal period of its treatment (entry {self.treated_index}) ended at ts "
            f"{self.until_ms}"
        )
