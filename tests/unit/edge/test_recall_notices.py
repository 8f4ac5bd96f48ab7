"""The audit's recall notices: which entries are recalls, and how the section reads."""

from __future__ import annotations

from chain.entries import event_payload
from verify.recall_notices import RecallNotice, RecallSection, recall_of

LOT = "lot:09506000134352.L1"


def test_only_a_recalled_event_is_a_recall_notice() -> None:
    recall = event_payload("recalled", 3, 1_000, [LOT, "barn:b1"], reason="Salmonella")
    assert recall_of(7, recall) == RecallNotice(None, 7, (LOT, "barn:b1"), "Salmonella")
    placed = event_payload("placed", 4, 1_000, ["bird:0001"], barn="b1")
    assert recall_of(8, placed) is None


def test_the_section_lists_own_and_referenced_recalls_as_notices() -> None:
    own = RecallNotice(None, 12, (LOT,), "Salmonella")
    theirs = RecallNotice("plant.example/log", 40, (LOT,), "Listeria", LOT, (3, 9))
    section = RecallSection([own], [theirs], ["farm.example/log: down"], followed=True)
    assert section.lines() == [
        "  recalls in this log  1 (notices, not failures):",
        f"    {LOT} recalled at entry 12: Salmonella",
        "  recalls in the logs it references  1 (notices, not failures):",
        f"    plant.example/log: {LOT} recalled at entry 40: Listeria "
        f"(reaches {LOT}, referenced by entry 3, 9)",
        "  recalls not read: farm.example/log: down",
    ]
    data = section.to_json()
    assert data["own"] == [
        {
            "log": None,
            "entry": 12,
            "subjects": (LOT,),
            "reason": "Salmonella",
            "referenced": None,
            "referenced_by": (),
        }
    ]
    assert data["referenced"][0]["referenced_by"] == (3, 9)
    assert RecallSection().lines() == []


def test_a_long_list_is_cut_with_a_pointer_to_the_json() -> None:
    own = [RecallNotice(None, i, (f"bird:{i:04d}",), "x") for i in range(5)]
    lines = RecallSection(own).lines(max_listed=2)
    assert lines[-1] == "    … and 3 more (use --json)"
    assert len(lines) == 4
