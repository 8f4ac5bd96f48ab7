"""README's "Auditors' Python API" examples, run as written against a real served log.

The log is served over HTTP on a free loopback port and cosigned by a real
witness process (``farmtrace witness serve``); the examples' files
(``demo-data/gateway/trust.json`` and ``witnesses.json``) are made in a
temporary working directory, and only the example's read-API URL is
replaced by the served log's.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import serve
from live_audit_witnesses import push, write_policy
from witness_harness import WitnessProcess, make_witness_dir

from verify.batch import BatchReport
from verify.report import LiveAuditReport

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_URL = "http://127.0.0.1:8080"


def api_examples() -> list[str]:
    """The Python blocks of README's "Auditors' Python API" section, in order."""
    text = README.read_text()
    section = text.split("### Auditors' Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert len(blocks) >= 2, "README's auditors' API section lost its examples"
    assert EXAMPLE_URL in blocks[0], f"the first example no longer reads {EXAMPLE_URL}"
    return blocks


def _setup(source: LogFactory, tmp_path: Path, witness_url: str, witness_vkey: str) -> None:
    gateway = tmp_path / "work" / "demo-data" / "gateway"
    gateway.mkdir(parents=True)
    shutil.copyfile(source.data_dir.trust, gateway / "trust.json")
    write_policy(gateway / "witnesses.json", 1, [(witness_vkey, witness_url)])
    size = source.store.size
    source.store.put_checkpoint(
        size, source.store.checkpoint(size) + push(witness_url, source.store, size, 0)
    )


def run_examples(url: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "readme_example"}
    for block in api_examples():
        exec(compile(block.replace(EXAMPLE_URL, url), "README.md", "exec"), namespace)
    return namespace


def test_the_auditors_api_examples_run_against_a_served_witnessed_log(
    source: LogFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    origin, log_key = source.trust.origin, source.trust.log_key
    witness_dir = make_witness_dir(tmp_path / "w", "coop.test/witness", [(origin, log_key)])
    with WitnessProcess(witness_dir) as witness:
        _setup(source, tmp_path, witness.url, witness.vkey)
        monkeypatch.chdir(tmp_path / "work")
        served = serve(source)
        try:
            first = run_examples(served.url)
            second = run_examples(served.url)  # the state file of the first run is checked
        finally:
            served.stop()
    out = capsys.readouterr().out
    assert "RESULT: OK: block 1 is in the log" in out, out
    assert "coop.test/witness: consistent" in out, out
    batch, audit, again = first["batch"], first["audit"], second["audit"]
    assert isinstance(batch, BatchReport) and batch.ok
    assert isinstance(audit, LiveAuditReport) and audit.ok
    assert isinstance(again, LiveAuditReport) and again.state is not None
    assert again.state.outcome == "consistent", again.state
    assert (tmp_path / "work" / "farm-audit.state").exists()


def test_the_examples_stop_on_a_log_that_is_not_the_pinned_one(
    source: LogFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = LogFactory(tmp_path / "other")  # another log: its own key and trust root
    gateway = tmp_path / "work" / "demo-data" / "gateway"
    gateway.mkdir(parents=True)
    shutil.copyfile(other.data_dir.trust, gateway / "trust.json")
    write_policy(gateway / "witnesses.json", 0, [])
    monkeypatch.chdir(tmp_path / "work")
    served = serve(source)
    try:
        with pytest.raises(SystemExit) as exited:
            run_examples(served.url)
        assert exited.value.code == 1
    finally:
        served.stop()
        other.close()
