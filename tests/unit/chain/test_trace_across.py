"""chain.trace_across over five real logs (tests/supply_chain_logs.py), references checked for real.

The status of each reference comes from :func:`chain.crosslog.check_reference`
over evidence from the other log's local copy
(:func:`readapi.crosslog.local_evidence`), as ``farmtrace trace --pins`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from supply_chain_logs import (
    DISTRIBUTOR,
    FARM_A,
    FARM_B,
    FORGED,
    LOT,
    PACK,
    PLANT,
    SHOP,
    T0,
    SupplyChain,
    build_supply_chain,
)

from chain.crosslog import CrossLogReferenceError, LogReference, Referrer, check_reference
from chain.errors import MalformedError
from chain.store import Store
from chain.trace import TraceIndex, trace
from chain.trace_across import AcrossItem, AcrossResult, LogCopy, RefStatus, trace_across
from readapi.crosslog import ReferenceUnavailableError, local_evidence


@pytest.fixture(scope="module")
def chain_logs(tmp_path_factory: pytest.TempPathFactory) -> SupplyChain:
    return build_supply_chain(tmp_path_factory.mktemp("supply"))


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> SupplyChain:
    return build_supply_chain(tmp_path_factory.mktemp("rewritten"), rewrite_farm_b=True)


class Opened:
    def __init__(self, built: SupplyChain, stack: ExitStack) -> None:
        self.built = built
        self.logs: dict[str, LogCopy] = {}
        for origin, data_dir in built.dirs.items():
            store = stack.enter_context(Store.open(data_dir.log))
            index = TraceIndex(store)
            index.advance(store.entry_count)
            self.logs[origin] = (store, index)
        self.checked: list[LogReference] = []

    def status(self, ref: LogReference, referrer: Referrer) -> str | None:
        self.checked.append(ref)
        try:
            check_reference(
                ref, local_evidence(ref, self.logs[ref.log][0]), self.built.pins(), referrer
            )
        except (CrossLogReferenceError, ReferenceUnavailableError) as exc:
            return exc.reason
        return None

    def trace(
        self, start: str, origin: str | None = None, window: tuple[int, int] | None = None
    ) -> AcrossResult:
        status: RefStatus = self.status
        return trace_across(self.logs, start, ref_status=status, origin=origin, window=window)


@pytest.fixture
def logs(chain_logs: SupplyChain) -> Iterator[Opened]:
    with ExitStack() as stack:
        yield Opened(chain_logs, stack)


@pytest.fixture
def rolled(rewritten: SupplyChain) -> Iterator[Opened]:
    with ExitStack() as stack:
        yield Opened(rewritten, stack)


def _keys(items: tuple[AcrossItem, ...]) -> set[tuple[str, str, str, int]]:
    return {(i.origin, i.item.subject, i.item.relation, i.item.index) for i in items}


def _at(items: tuple[AcrossItem, ...], origin: str) -> set[tuple[str, str, int]]:
    return {(i.item.subject, i.item.event, i.item.index) for i in items if i.origin == origin}


def test_a_lot_recalled_at_the_plant_reaches_the_shop_and_its_farms(logs: Opened) -> None:
    at = logs.built.at
    result = logs.trace(LOT)
    assert result.recalled
    assert _keys(result.recalls) == {(PLANT, LOT, "recall", at["recall"])}
    assert (LOT, "received", at[f"shop_received_{LOT}"]) in _at(result.downstream, SHOP)
    assert (LOT, "shipped", at[f"dist_shipped_{LOT}"]) in _at(result.downstream, DISTRIBUTOR)
    # upstream: both farms' bird:0001, each in its own log, and nothing of bird:0002
    assert result.birds == (f"{FARM_A}|bird:0001", f"{FARM_B}|bird:0001")
    assert ("bird:0001", "placed", at["a_placed_1"]) in _at(result.upstream, FARM_A)
    assert ("bird:0001", "placed", at["b_placed_1"]) in _at(result.upstream, FARM_B)
    assert all(i.item.subject != "bird:0002" for i in result.upstream)
    assert result.logs() == tuple(sorted((FARM_A, FARM_B, PLANT, DISTRIBUTOR, SHOP)))
    assert not result.failing
    # every crossed reference was checked, and holds
    crossed = {(c.origin, c.index) for c in result.references}
    assert (SHOP, at[f"shop_received_{LOT}"]) in crossed
    assert (PLANT, at["slaughter_a1"]) in crossed and (PLANT, at["slaughter_b1"]) in crossed


def test_a_farm_barn_downstream_reaches_every_shop_pack_and_the_plant_recall(
    logs: Opened,
) -> None:
    at = logs.built.at
    result = logs.trace("barn:b1", origin=FARM_A, window=(T0, T0 + 10 * 3_600_000))
    shop = _at(result.downstream, SHOP)
    assert shop == {
        (LOT, "received", at[f"shop_received_{LOT}"]),
        (PACK, "received", at[f"shop_received_{PACK}"]),
    }
    plant = _at(result.downstream, PLANT)
    assert (f"{FARM_A}|bird:0001", "slaughtered", at["slaughter_a1"]) not in plant  # outputs
    assert ("carcass:a1", "slaughtered", at["slaughter_a1"]) in plant
    assert ("carcass:a2", "slaughtered", at["slaughter_a2"]) in plant
    assert _keys(result.recalls) == {
        (PLANT, LOT, "recall", at["recall"]),
        (PLANT, f"{FARM_A}|bird:0002", "recall", at["recall_bird"]),
    }
    assert result.birds == (f"{FARM_A}|bird:0001", f"{FARM_A}|bird:0002")


def test_a_reference_to_an_entry_naming_many_birds_concerns_only_its_subject(
    logs: Opened,
) -> None:
    at = logs.built.at
    # farm A's one hatched entry names both birds; the plant's recall of bird:0002 names it
    one = logs.trace("bird:0001", origin=FARM_A)
    assert ("bird:0001", "hatched", at["a_hatched"]) in _at(one.upstream, FARM_A)
    assert _keys(one.recalls) == {(PLANT, LOT, "recall", at["recall"])}
    two = logs.trace("bird:0002", origin=FARM_A)
    assert _keys(two.recalls) == {(PLANT, f"{FARM_A}|bird:0002", "recall", at["recall_bird"])}
    assert all(i.item.subject != "carcass:a1" for i in two.downstream)


def test_two_farms_bird_0001_are_not_confused(logs: Opened) -> None:
    at = logs.built.at
    result = logs.trace("bird:0001", origin=FARM_B)
    plant = _at(result.downstream, PLANT)
    assert ("carcass:b1", "slaughtered", at["slaughter_b1"]) in plant
    assert all(s not in ("carcass:a1", "carcass:a2", PACK) for s, _e, _i in plant)
    assert result.birds == (f"{FARM_B}|bird:0001",)
    assert not _at(result.upstream, FARM_A) and not _at(result.downstream, FARM_A)
    # the pack of farm A's bird:0002 leads to farm A only
    pack = logs.trace(PACK)
    assert pack.birds == (f"{FARM_A}|bird:0002",)
    assert {i.origin for i in pack.upstream} == {FARM_A, PLANT}
    # inside the plant's log alone, neither farm's bird is the plant's
    store, index = logs.logs[PLANT]
    single = trace(store, LOT, index=index)
    assert single.birds == () and single.recalled
    assert {i.index for i in single.recalls} == {at["recall"]}
    # the plant's recall of farm A's bird:0002 (by reference) reaches its pack, and only it
    pack_alone = trace(store, PACK, index=index)
    assert [(i.subject, i.index) for i in pack_alone.recalls] == [("bird:0002", at["recall_bird"])]


def test_a_forged_reference_is_flagged_downstream_and_not_followed_upstream(
    logs: Opened,
) -> None:
    at = logs.built.at
    down = logs.trace("barn:b1", origin=FARM_A, window=(T0, T0 + 10 * 3_600_000))
    forged = [
        i for i in down.downstream if i.item.index == at["slaughter_f9"] and i.origin == PLANT
    ]
    assert forged and all(i.flags == ("ref_entry_mismatch",) for i in forged)
    assert [(c.origin, c.index, c.status) for c in down.failing] == [
        (PLANT, at["slaughter_f9"], "ref_entry_mismatch")
    ]
    assert (FORGED, "packed", at["packed_forged"]) in _at(down.downstream, PLANT)
    up = logs.trace(FORGED)
    assert [c.status for c in up.failing] == ["ref_entry_mismatch"]
    assert up.logs() == (PLANT,)  # farm A's history is not borrowed
    assert up.birds == ()
    inputs = [i for i in up.upstream if i.item.relation == "input"]
    assert [i.flags for i in inputs] == [("ref_entry_mismatch",)]
    assert inputs[0].item.subject == "carcass:f9"


def test_a_reference_to_a_rolled_back_entry_is_flagged(rolled: Opened) -> None:
    at = rolled.built.at
    result = rolled.trace(LOT)
    failing = [(c.origin, c.index, c.ref.log, c.status) for c in result.failing]
    assert failing == [(PLANT, at["slaughter_b1"], FARM_B, "ref_rolled_back")]
    assert FARM_B not in result.logs()  # not followed upstream
    assert result.birds == (f"{FARM_A}|bird:0001",)
    # downstream from the rewritten farm B, the plant's slaughter is still reached, flagged
    down = rolled.trace("bird:0001", origin=FARM_B)
    flagged = {i.item.index: i.flags for i in down.downstream if i.origin == PLANT}
    assert flagged[at["slaughter_b1"]] == ("ref_rolled_back",)
    assert (LOT, "received", at[f"shop_received_{LOT}"]) in _at(down.downstream, SHOP)
    assert down.recalled


def test_a_start_names_its_log_when_it_must(logs: Opened) -> None:
    with pytest.raises(MalformedError, match="the log of the bird"):
        logs.trace("bird:0001")
    with pytest.raises(MalformedError, match="every log that names it"):
        logs.trace(LOT, origin=PLANT)
    with pytest.raises(MalformedError, match="barn start only"):
        logs.trace(LOT, window=(0, 1))
    nothing = logs.trace("bird:0042", origin=FARM_A)
    assert not nothing.found and nothing.birds == ()


def test_the_reference_index_is_built_as_the_index_advances(logs: Opened) -> None:
    at = logs.built.at
    store, _ = logs.logs[PLANT]
    index = TraceIndex(store)
    index.advance(at["slaughter_a1"])
    assert index.referencing(FARM_A, at["a_placed_1"]) == ()
    index.advance(store.entry_count)
    assert list(index.referencing(FARM_A, at["a_placed_1"])) == [
        at["slaughter_a1"],
        at["slaughter_f9"],
    ]
    (ref,) = index.refs_of(at["slaughter_b1"])
    assert (ref.log, ref.index, ref.subject) == (FARM_B, at["b_placed_1"], "bird:0001")
    assert index.foreign_origin(at["slaughter_b1"], "bird:0001") == FARM_B
    assert index.foreign_origin(at["packed_lot"], "carcass:a1") is None
    assert index.refs_of(at["packed_lot"]) == ()


def test_the_json_form_names_each_item_s_log_and_each_reference_s_status(
    logs: Opened, tmp_path: Path
) -> None:
    body = logs.trace(FORGED).to_json()
    assert body["log"] is None and body["start"] == FORGED
    assert {item["log"] for item in body["upstream"]} == {PLANT}
    (crossing,) = body["references"]
    assert crossing["status"] == "ref_entry_mismatch" and crossing["ref"]["subject"] == "bird:0009"
