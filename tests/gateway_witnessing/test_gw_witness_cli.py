"""``farmtrace gateway witness ...``: editing witnesses.json, and a gateway refusing a bad one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import new_data_dir

from chain import note
from chain.checkpoint import generate_cosigner_key
from chain.witness_policy import WitnessPolicy
from farmtrace.cli import main
from gateway.datadir import DataDir

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*args: object) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    return new_data_dir(tmp_path / "gw")[0]


def vkey(name: str) -> str:
    return generate_cosigner_key(name)[1]


def policy(data_dir: DataDir) -> WitnessPolicy:
    return WitnessPolicy.from_json(data_dir.witnesses.read_text())


def test_add_quorum_list_and_remove_edit_witnesses_json(run: Run, data_dir: DataDir) -> None:
    a, b = vkey("a.example/w"), vkey("b.example/w")
    d = ("--data-dir", data_dir.root)
    code, out, _ = run("gateway", "witness", "list", *d)
    assert code == 0 and "no witnesses" in out
    assert run("gateway", "witness", "add", *d, "--vkey", a, "--url", "http://a:7380/")[0] == 0
    assert (policy(data_dir).quorum, policy(data_dir).witnesses[0].url) == (1, "http://a:7380")
    code, out, _ = run("gateway", "witness", "add", *d, "--vkey", b, "--url", "https://b")
    assert code == 0 and "1 of 2 witnesses" in out and "restart" in out
    assert run("gateway", "witness", "quorum", *d, "2")[0] == 0
    code, out, _ = run("gateway", "witness", "list", *d)
    assert code == 0 and "2 of 2 witnesses" in out
    assert f"a.example/w  http://a:7380  {a}" in out and f"b.example/w  https://b  {b}" in out
    assert run("gateway", "witness", "remove", *d, "--name", "a.example/w")[0] == 0
    assert policy(data_dir) == WitnessPolicy.from_json(policy(data_dir).to_json())
    assert (policy(data_dir).quorum, policy(data_dir).verifier_keys) == (1, (b,))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "--vkey", "x.example/w+00000000+AAAA", "--url", "http://x"), "witness key"),
        (("add", "--vkey", note.generate_key("log.example")[1], "--url", "http://x"), "0x04"),
        (("add", "--vkey", "VKEY", "--url", "ftp://x"), "url must start with http"),
        (("add", "--vkey", "VKEY", "--url", "http://again"), "already configured"),
        (("remove", "--name", "nobody.example/w"), "no witness named 'nobody.example/w'"),
        (("quorum", "2"), "expected 0..1"),
        (("quorum", "-1"), "expected 0..1"),
    ],
)
def test_bad_edits_exit_2_and_leave_the_file_alone(
    run: Run, data_dir: DataDir, args: tuple[str, ...], message: str
) -> None:
    key = vkey("a.example/w")
    run(
        "gateway", "witness", "add", "--data-dir", data_dir.root, "--vkey", key, "--url", "http://a"
    )
    before = data_dir.witnesses.read_text()
    args = tuple(key if a == "VKEY" else a for a in args)
    code, out, err = run("gateway", "witness", args[0], "--data-dir", data_dir.root, *args[1:])
    assert code == 2 and out == "" and message in err, err
    assert data_dir.witnesses.read_text() == before


def test_editing_a_directory_that_is_no_gateway_data_dir_fails(run: Run, tmp_path: Path) -> None:
    code, _, err = run("gateway", "witness", "quorum", "--data-dir", tmp_path / "nothing", "0")
    assert code == 2 and "not a gateway data directory" in err
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"quorum": 1, "witnesses": [{"vkey": "VKEY"}]}', "has no url"),
        ("not json", "expected JSON"),
        ('{"quorum": 2, "witnesses": [{"vkey": "VKEY", "url": "http://w"}]}', "expected 0..1"),
    ],
)
def test_the_gateway_refuses_to_start_with_a_bad_witnesses_json(
    run: Run, data_dir: DataDir, content: str, message: str
) -> None:
    data_dir.witnesses.write_text(content.replace("VKEY", vkey("w.example/w")))
    code, _, err = run(
        "gateway", "run", "--data-dir", data_dir.root, "--farm", "f", "--http-port", "0"
    )
    assert code == 2 and "witnesses.json" in err and message in err, err
    code, _, err = run("gateway", "witness", "list", "--data-dir", data_dir.root)
    assert code == 2 and message in err


def test_help_explains_what_witnesses_are_for(run: Run) -> None:
    code, out, _ = run("gateway", "witness", "--help")
    assert code == 0
    for phrase in ("cosign", "quorum", "rolled back or forked", "farmtrace witness add-log"):
        assert phrase in out.replace("\n", " ")
