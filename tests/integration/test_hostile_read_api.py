"""Issue 11: ``farmtrace audit --url`` and ``verify-batch`` against a hostile read API.

A real log served over HTTP on 127.0.0.1 (the gateway's app over LevelDB),
one endpoint of which answers with poison: JSON nested thousands deep, a
number that overflows (1e999999), a 5000-digit integer, invalid UTF-8. The
real ``farmtrace`` command runs as a child process: it must exit non-zero
with a one-line reason, never a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from gateway_harness import ROOT
from test_verify_batch_cli import Site, serving

from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir

POISONS = {
    "nested": b'{"hash":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "overflow": b'{"height":1e999999,"tree_size":1e999999,"origin":"o","vkey":"v"}',
    "digits": b'{"height":' + b"7" * 5000 + b',"leaf_index":' + b"7" * 5000 + b"}",
    "utf8": b'{"origin":"\xff\xfe","vkey":"\xc3\x28","hashes":["\xff"]}',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = DataDir(tmp_path_factory.mktemp("hostile") / "farm")
    build_demo_log(data_dir, DemoFarm(days=1, block_size=50, seed=11))
    with serving(data_dir) as served:
        yield served


def farmtrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode != 0, (what, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, (what, result.stderr)
    said = result.stderr + result.stdout
    assert re.search(r"malformed|FAILED|expected", said), (what, said)


@pytest.mark.parametrize("endpoint", ["/checkpoint", "/api/v1/batches/", "/api/v1/blocks/"])
def test_verify_batch_fails_cleanly_on_poison(site: Site, endpoint: str) -> None:
    block_hash = site.store.block(3).hash
    for name, poison in POISONS.items():
        site.tamper.answers = {endpoint: poison}
        result = farmtrace(
            "verify-batch", block_hash, "--url", site.url, "--trust", str(site.trust_path)
        )
        assert_clean_failure(result, f"{endpoint} {name}")


@pytest.mark.parametrize("endpoint", ["/checkpoint", "/api/v1/blocks/"])
def test_audit_url_fails_cleanly_on_poison(site: Site, endpoint: str) -> None:
    for name, poison in POISONS.items():
        site.tamper.answers = {endpoint: poison}
        result = farmtrace("audit", "--url", site.url, "--trust", str(site.trust_path))
        assert_clean_failure(result, f"{endpoint} {name}")
