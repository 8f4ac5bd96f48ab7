"""The first screen's medicine facts, alone: which treatments reach a bird, and their
withdrawal periods against its slaughter (consumer_web._facts)."""

from __future__ import annotations

from consumer_web._aggregate import DAY_MS, HOUR_MS
from consumer_web._facts import bird_facts
from consumer_web._story import BirdStory, EventRow, Identity, Stay, Verification

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BIRD = "bird:0001"
SLAUGHTER = T0 + 10 * DAY_MS


def row(index: int, ts: int, event: str, subjects: tuple[str, ...], **fields: str) -> EventRow:
    return EventRow(index, 0, ts, event, "vet", "Dr. Chen", subjects, tuple(fields.items()))


def story(*timeline: EventRow, slaughter_ms: int | None = SLAUGHTER) -> BirdStory:
    ident = Identity(
        "0001", "Ross 308", "Hatchery", None, "farm-1", ("b1",), T0, slaughter_ms, None, None,
        None, (),
    )  # fmt: skip
    stays = (Stay("b1", T0 + DAY_MS, slaughter_ms, 3, 9),)
    verification = Verification(0, len(timeline), 1, 1, 1, "key", True, (), 0)
    return BirdStory(ident, timeline, stays, (), (), (), verification)


def test_no_treatment_is_said_as_none() -> None:
    facts = bird_facts(story(row(1, T0, "vaccinated", (BIRD,), vaccine="Marek")))
    assert facts.treatments == () and not facts.withdrawal_breached


def test_the_birds_and_its_barns_treatments_with_their_withdrawal_periods() -> None:
    facts = bird_facts(
        story(
            row(
                4, T0 + 2 * DAY_MS, "treated", (BIRD,), medicine="Amoxicillin", withdrawal_days="1"
            ),
            row(5, T0 + 3 * DAY_MS, "treated", ("barn:b1",), medicine="Doxycycline"),
            row(6, T0 + 3 * DAY_MS, "treated", ("barn:b2",), medicine="Tylosin"),  # not its barn
            row(7, T0 + 4 * DAY_MS, "treated", ("bird:0002",), medicine="Enrofloxacin"),
            row(8, T0 + 5 * DAY_MS, "treated", (BIRD,), medicine="Vitamin C", withdrawal_days="0"),
        )
    )
    found = [(t.medicine, t.index, t.barn, t.withdrawal_days, t.cleared) for t in facts.treatments]
    assert found == [
        ("Amoxicillin", 4, None, 1, True),
        ("Doxycycline", 5, "b1", None, None),
        ("Vitamin C", 8, None, 0, None),
    ]
    assert facts.treatments[0].until_ms == T0 + 3 * DAY_MS
    assert not facts.withdrawal_breached


def test_a_slaughter_inside_the_withdrawal_period_is_a_breach() -> None:
    unstated = row(4, SLAUGHTER - HOUR_MS, "treated", (BIRD,), medicine="Amoxicillin")
    assert not bird_facts(story(unstated)).withdrawal_breached  # no period: nothing to breach
    late = row(4, SLAUGHTER - HOUR_MS, "treated", (BIRD,), medicine="Amox", withdrawal_days="1")
    facts = bird_facts(story(late))
    assert [t.cleared for t in facts.treatments] == [False] and facts.withdrawal_breached
    exact = row(4, SLAUGHTER - DAY_MS, "treated", (BIRD,), medicine="Amox", withdrawal_days="1")
    assert bird_facts(story(exact)).treatments[0].cleared is True  # over at that very moment


def test_a_living_birds_withdrawal_period_is_neither_cleared_nor_breached() -> None:
    treated = row(4, T0 + 2 * DAY_MS, "treated", (BIRD,), medicine="Amox", withdrawal_days="3")
    facts = bird_facts(story(treated, slaughter_ms=None))
    assert [(t.cleared, t.until_ms) for t in facts.treatments] == [(None, T0 + 5 * DAY_MS)]
    assert not facts.withdrawal_breached
