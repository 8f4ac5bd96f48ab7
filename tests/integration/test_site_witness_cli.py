"""``farmtrace site init --witnesses`` and ``site run`` with the site directory's witnesses.json."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from farm_logs import LogFactory
from followed_logs import HttpLog

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.witness_policy import Witness, WitnessPolicy

ROOT = Path(__file__).resolve().parents[2]
KEYS = [generate_cosigner_key(f"w{n}.example/witness", seed=bytes([n]) * 32) for n in (1, 2, 3)]
POLICY = WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in KEYS))

Cli = Callable[..., tuple[int, str, str]]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_init_copies_a_valid_policy_and_refuses_a_bad_one(
    tmp_path: Path, source: LogFactory, run_cli: Cli
) -> None:
    trust = _write(tmp_path / "trust.json", source.trust.to_json())
    # Hand-written (not indented): the copy is the policy re-serialised.
    given = {"quorum": 2, "witnesses": [{"vkey": v, "url": "http://w.example"} for _, v in KEYS]}
    policy = _write(tmp_path / "policy.json", json.dumps(given))
    bad = _write(tmp_path / "bad.json", json.dumps({"quorum": 4, "witnesses": given["witnesses"]}))

    code, _, err = run_cli("site", "init", "--site-dir", tmp_path / "s1", "--trust", trust,
                           "--witnesses", bad)  # fmt: skip
    assert code == 2 and "bad.json: witness quorum: expected 0..3" in err
    assert not (tmp_path / "s1").exists()  # nothing half made

    code, out, _ = run_cli("site", "init", "--site-dir", tmp_path / "s1", "--trust", trust,
                           "--witnesses", policy)  # fmt: skip
    assert code == 0 and "requires 2 of 3 witnesses to cosign" in out
    copied = (tmp_path / "s1" / "witnesses.json").read_text()
    assert WitnessPolicy.from_json(copied) == WitnessPolicy.from_mapping(given)

    code, _, err = run_cli("site", "init", "--site-dir", tmp_path / "s1", "--trust", trust)
    assert code == 2 and "already set up" in err

    code, _, _ = run_cli("site", "init", "--site-dir", tmp_path / "s2", "--trust", trust)
    assert code == 0 and not (tmp_path / "s2" / "witnesses.json").exists()


def test_help_explains_the_policy(run_cli: Cli) -> None:
    code, out, _ = run_cli("site", "init", "--help")
    assert code == 0 and "--witnesses FILE" in out and '"quorum": 2' in out
    code, out, _ = run_cli("site", "run", "--help")
    assert code == 0 and "witnesses.json" in out and "waiting for witness" in out


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_site_run_follows_under_the_site_dirs_policy(
    tmp_path: Path, source: LogFactory, http: HttpLog, run_cli: Cli
) -> None:
    size, signed = source.store.latest_checkpoint() or (0, "")
    source.store.put_checkpoint(size, signed + cosign(note.parse(signed).text, KEYS[0][0], 1))
    trust = _write(tmp_path / "trust.json", source.trust.to_json())
    policy = _write(tmp_path / "policy.json", POLICY.to_json())
    site = tmp_path / "site"
    assert run_cli("site", "init", "--site-dir", site, "--trust", trust,
                   "--witnesses", policy)[0] == 0  # fmt: skip
    log = tmp_path / "site.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "farmtrace", "site", "run", "--site-dir", str(site),
             "--source", http.url, "--port", "0", "--sync-interval", "0.2"],
            stdout=out, stderr=out, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (found := re.search(rb"site running: (http://\S+)/", log.read_bytes())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        url = found[1].decode()
        assert json.loads(_get(f"{url}/api/v1/log"))["witnesses"] == list(POLICY.verifier_keys)
        pattern = f'replica_sync_total{{result="witness_quorum",source="{http.url}"}} ([0-9.]+)'
        while (
            not re.search(pattern, text := _get(f"{url}/metrics"))
            or float(re.findall(pattern, text)[0]) < 1
        ):
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
        assert "replica_waiting_for_witnesses 1.0" in text
        assert "replica_tree_size 0.0" in text  # nothing taken without the quorum
        assert "waiting for independent witnesses" in _get(f"{url}/").replace("&#39;", "'")
    finally:
        proc.terminate()
        assert proc.wait(20) == 0, log.read_text()
