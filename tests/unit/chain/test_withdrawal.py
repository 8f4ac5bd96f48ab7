"""Withdrawal periods: a slaughter inside one is reported, never refused (chain.lifecycle)."""

from __future__ import annotations

from typing import Any

import pytest

from chain.entries import event_payload, parse_entry, sign_entry
from chain.lifecycle import LifecycleState, WithdrawalBreach, withdrawal_end

T0 = 1_767_225_600_000
DAY = 86_400_000
SEED = bytes([6]) * 32


class Farm:
    """Events replayed in order, each checked (the rules must let it pass) then applied."""

    def __init__(self) -> None:
        self.state = LifecycleState()
        self.index = 0

    def event(self, ts: int, event: str, subjects: list[str], **fields: Any) -> int:
        payload = event_payload(event, self.index + 1, ts, subjects, **fields)
        entry = parse_entry(sign_entry(payload, "op", SEED))
        self.state.check(entry, self.index)  # a breach is not a LifecycleError
        self.breach = self.state.withdrawal_breach(entry, self.index)
        self.state.apply(entry, self.index)
        self.index += 1
        return self.index - 1

    def slaughter(self, ts: int, bird: str = "bird:1") -> WithdrawalBreach | None:
        self.event(ts, "slaughtered", [bird], plant="P", outputs=[f"carcass:{bird[5:]}"])
        return self.breach


@pytest.fixture
def farm() -> Farm:
    """bird:1 and bird:2 hatched (entry 0) and placed in barn b1 (entry 1) on day 0."""
    farm = Farm()
    farm.event(T0, "hatched", ["bird:1", "bird:2"], breed="Ross 308")
    farm.event(T0, "placed", ["bird:1", "bird:2"], barn="b1")
    return farm


def test_the_period_runs_from_the_treatment_for_its_days() -> None:
    assert withdrawal_end(T0, {"withdrawal_days": 7}) == T0 + 7 * DAY
    assert withdrawal_end(T0, {"medicine": "vitamin C"}) == T0


def test_a_slaughter_inside_the_period_is_a_breach(farm: Farm) -> None:
    treated = farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Amoxicillin", withdrawal_days=5)
    breach = farm.slaughter(T0 + 6 * DAY - 3_600_000)
    assert breach == WithdrawalBreach("bird:1", 3, T0 + 6 * DAY - 3_600_000, treated, T0 + 6 * DAY)
    assert breach.describe() == (
        f"slaughtered: bird:1 was slaughtered 1 h before the withdrawal period of its "
        f"treatment (entry {treated}) ended at ts {T0 + 6 * DAY}"
    )
    state = farm.state.status("bird:1")
    assert state is not None and state.slaughtered == 3  # recorded all the same


def test_a_slaughter_once_the_period_is_over_is_fine(farm: Farm) -> None:
    farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Amoxicillin", withdrawal_days=5)
    assert farm.slaughter(T0 + 6 * DAY) is None
    assert farm.slaughter(T0 + 6 * DAY, "bird:2") is None  # never treated


def test_no_period_stated_or_zero_days_never_breaches(farm: Farm) -> None:
    farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Vitamin AD3E")
    farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Probiotic", withdrawal_days=0)
    assert farm.slaughter(T0 + DAY) is None


def test_the_latest_ending_period_counts(farm: Farm) -> None:
    long = farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Doxycycline", withdrawal_days=9)
    farm.event(T0 + 2 * DAY, "treated", ["bird:1"], medicine="Amoxicillin", withdrawal_days=1)
    breach = farm.slaughter(T0 + 5 * DAY)
    assert breach is not None and (breach.treated_index, breach.until_ms) == (long, T0 + 10 * DAY)


def test_a_barn_treatment_reaches_the_birds_in_the_barn(farm: Farm) -> None:
    treated = farm.event(
        T0 + DAY, "treated", ["barn:b1"], medicine="Amoxicillin", withdrawal_days=3
    )
    breach = farm.slaughter(T0 + 2 * DAY)
    assert breach is not None and (breach.subject, breach.treated_index) == ("bird:1", treated)
    assert farm.slaughter(T0 + 4 * DAY, "bird:2") is None


def test_a_barn_treatment_before_a_bird_came_does_not_reach_it(farm: Farm) -> None:
    farm.event(T0 + DAY, "treated", ["barn:b2"], medicine="Amoxicillin", withdrawal_days=3)
    farm.event(T0 + 2 * DAY, "moved", ["bird:1"], barn="b2")
    assert farm.slaughter(T0 + 2 * DAY + 1) is None


def test_a_bird_takes_its_old_barns_period_along_when_moved(farm: Farm) -> None:
    treated = farm.event(
        T0 + DAY, "treated", ["barn:b1"], medicine="Amoxicillin", withdrawal_days=3
    )
    farm.event(T0 + 2 * DAY, "moved", ["bird:1"], barn="b2")
    farm.event(T0 + 2 * DAY, "moved", ["bird:1"], barn="b3")
    breach = farm.slaughter(T0 + 3 * DAY)
    assert breach is not None and breach.treated_index == treated


def test_other_events_are_never_breaches(farm: Farm) -> None:
    farm.event(T0 + DAY, "treated", ["bird:1"], medicine="Amoxicillin", withdrawal_days=3)
    farm.event(T0 + DAY, "inspected", ["bird:1"], result="pass")
    assert farm.breach is None
    farm.event(T0 + DAY, "died", ["bird:1"])
    assert farm.breach is None


def test_a_barn_treatment_dated_after_a_late_logged_slaughter_did_not_reach_the_bird(
    farm: Farm,
) -> None:
    farm.event(T0 + 3 * DAY, "treated", ["barn:b1"], medicine="Amoxicillin", withdrawal_days=3)
    assert farm.slaughter(T0 + 2 * DAY) is None  # slaughtered the day before the treatment
