"""``farmtrace trace``, through its module's parser and handler, over a story farm's data dir."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest
from trace_farm import TraceFarm, build_trace_farm

from chain.store import Store
from chain.trace import trace
from farmtrace import _cmd_trace
from gateway.datadir import DataDir


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> TraceFarm:
    return build_trace_farm(DataDir(tmp_path_factory.mktemp("trace-cli") / "farm"))


def _run(farm: TraceFarm, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_trace.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["trace", "--data-dir", str(farm.data_dir.root), *argv])
    code: int = args.handler(args)
    return code


def test_a_lot_in_text(farm: TraceFarm, capsys: pytest.CaptureFixture[str]) -> None:
    lot = farm.manifest.lots[0]
    assert _run(farm, "--lot", f"{lot.gtin}/{lot.lot}") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Trace of {lot.subject}")
    assert f"Birds ({len(lot.birds)}): {', '.join(lot.birds)}" in out
    assert "RECALLED (" in out and "reason=label error" in out
    assert "destination=FreshMart Store 12" in out
    assert "packing" in out and "feed_refill" in out and "no feed deliveries" in out
    assert "pubkey" not in out  # kept for --json


def test_a_pack_in_json_matches_the_library(
    farm: TraceFarm, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = farm.manifest.packs[0]
    assert _run(farm, "--pack", f"{pack.gtin}/{pack.serial}", "--json") == 0
    body = json.loads(capsys.readouterr().out)
    with Store.open(farm.data_dir.log) as store:
        assert body == trace(store, pack.subject).to_json()
    assert body["birds"] == [pack.bird]


def test_a_barn_window_and_a_bird(farm: TraceFarm, capsys: pytest.CaptureFixture[str]) -> None:
    m = farm.manifest
    assert (
        _run(farm, "--barn", m.barns[1], "--from", "2026-01-02", "--to", "2026-01-02T06:00Z") == 0
    )
    out = capsys.readouterr().out
    assert "2026-01-02T00:00:00Z to 2026-01-02T06:00:00Z" in out
    assert f"barn:{farm.recall_barn}" in out and "Salmonella found in barn" in out
    assert _run(farm, "--bird", farm.dead_bird, "--json", "--no-feed") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["birds"] == [farm.dead_bird]
    assert not any(i["relation"] == "feed_refill" for i in body["upstream"])
    assert any(i["event"] == "died" for i in body["upstream"])


def test_nothing_known_exits_1(farm: TraceFarm, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(farm, "--bird", "nobody") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "says nothing about bird:nobody" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lot", "09506000134352"], "expected GTIN/LOT"),
        (["--lot", "0950600013435/L1"], "GTIN"),
        (["--pack", "09506000134353/S1"], "check digit"),
        (["--pack", "09506000134352/" + "x" * 21], "serial"),
        (["--bird", "a:b"], "--bird"),
        (["--barn", "b1"], "needs its window"),
        (["--barn", "b1", "--from", "2026-01-01"], "needs its window"),
        (["--barn", "b1", "--from", "soon", "--to", "2026-01-02"], "ISO 8601"),
        (["--barn", "b1", "--from", "2026-01-02", "--to", "2026-01-01"], "not before"),
        (["--bird", "0001", "--from", "2026-01-01"], "use them with --barn"),
    ],
)
def test_bad_arguments_exit_2(
    farm: TraceFarm, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _run(farm, *argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("farmtrace trace: ") and message in captured.err


@pytest.mark.parametrize("argv", [[], ["--bird", "1", "--barn", "b1"], ["--lot"]])
def test_usage_errors_exit_2(farm: TraceFarm, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _run(farm, *argv)
    assert exited.value.code == 2


def test_a_missing_or_locked_store_exits_2(
    farm: TraceFarm, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = dataclasses.replace(farm, data_dir=DataDir(tmp_path_factory.mktemp("none")))
    assert _run(empty, "--bird", "0001") == 2
    assert "cannot open store" in capsys.readouterr().err
    with Store.open(farm.data_dir.log):  # LevelDB: one process at a time
        assert _run(farm, "--bird", "0001") == 2
    assert "another process" in capsys.readouterr().err
