"""``farmtrace export epcis``, run through its handler on a small story farm's data directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from epcis_reference import schema_errors

from chain.epcis import export_bird, export_pack
from chain.store import Store
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from farmtrace import _cmd_export
from gateway.datadir import DataDir

FARM = StoryFarm(days=2, birds=4, shelf_birds=3, lot_birds=1, move_every=0, block_size=400)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataDir, StoryManifest]:
    data_dir = DataDir(tmp_path_factory.mktemp("cli") / "farm")
    return data_dir, build_story_log(data_dir, FARM)


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="farmtrace")
    _cmd_export.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", "epcis", *argv])
    code: int = args.handler(args)
    return code


def _without_date(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "creationDate"}


def test_a_bird_is_written_to_a_file(
    farm: tuple[DataDir, StoryManifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, m = farm
    bird = m.packs[0].bird
    out = tmp_path / "bird.jsonld"
    assert _run("--data-dir", str(data_dir.root), "--bird", bird, "--output", str(out)) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    events = len(document["epcisBody"]["eventList"])
    assert capsys.readouterr().out == f"wrote {events} EPCIS events about bird:{bird} to {out}\n"
    assert not list(tmp_path.glob("*.partial"))
    with Store.open(data_dir.log) as store:
        expected = export_bird(store, bird, base_url="http://127.0.0.1:8000", created_ms=0)
    assert _without_date(document) == _without_date(expected)


def test_packs_and_lots_go_to_standard_output(
    farm: tuple[DataDir, StoryManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir, m = farm
    base = "https://trace.example.com/farm"
    for option, link, given in (
        ("--pack", m.packs[-1].link, f"{m.packs[-1].gtin}/{m.packs[-1].serial}"),
        ("--lot", m.lots[0].link, f"{m.lots[0].gtin.lstrip('0')}/{m.lots[0].lot}"),  # GTIN-13
    ):
        code = _run("--data-dir", str(data_dir.root), option, given, "--base-url", base)
        assert code == 0
        document = json.loads(capsys.readouterr().out)
        with Store.open(data_dir.log) as store:
            expected = export_pack(store, link, base_url=base, created_ms=0)
        assert _without_date(document) == _without_date(expected)
        assert document["farmtrace:subject"].endswith(link.lot or link.serial or "?")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--bird", "9999"], 1, "bird '9999': not in the log"),
        (["--pack", "09506000134352/NOPE"], 1, "pack /01/09506000134352/21/NOPE: never packed"),
        (["--pack", "09506000134353/S0001"], 2, "wrong check digit"),
        (["--lot", "09506000134352"], 2, "expected GTIN/LOT"),
        (["--pack", "09506000134352/a b"], 2, "serial: expected 1 to 20"),
        (["--bird", "bad!id"], 2, "bird id: expected an id"),
        (["--bird", "0001", "--base-url", "ftp://x"], 2, "base URL: expected http(s)"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_status(
    farm: tuple[DataDir, StoryManifest],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    data_dir, _ = farm
    assert _run("--data-dir", str(data_dir.root), *argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("farmtrace export epcis: ")
    assert message in captured.err


def test_unreadable_or_unsigned_stores(
    farm: tuple[DataDir, StoryManifest], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--data-dir", str(tmp_path / "nowhere"), "--bird", "0001") == 2
    assert "cannot open store" in capsys.readouterr().err
    data_dir, _ = farm
    with Store.open(data_dir.log):  # LevelDB admits one user: as if the gateway were running
        assert _run("--data-dir", str(data_dir.root), "--bird", "0001") == 2
    assert "another process" in capsys.readouterr().err
    Store.open(DataDir(tmp_path).log, origin="x.example/log").close()
    assert _run("--data-dir", str(tmp_path), "--bird", "0001") == 1
    assert "no signed checkpoint yet" in capsys.readouterr().err
    out = tmp_path / "missing-dir" / "bird.jsonld"
    assert _run("--data-dir", str(data_dir.root), "--bird", "0001", "--output", str(out)) == 2
    assert f"cannot write {out}" in capsys.readouterr().err


def test_exactly_one_subject_is_required(farm: tuple[DataDir, StoryManifest]) -> None:
    data_dir, _ = farm
    with pytest.raises(SystemExit) as exited:
        _run("--data-dir", str(data_dir.root), "--bird", "0001", "--lot", "1/2")
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        _run("--data-dir", str(data_dir.root))
