"""A witnessed farm, every part a real process: what a rewritten history runs into.

Mosquitto, ``farmtrace gateway run``, three ``farmtrace witness serve`` (a
co-op, a retailer, a regulator) and ``farmtrace site run``, with a 2-of-3
policy at the gateway, the site and the auditor. Then the gateway's operator
cheats with what they really hold (the data directory and the log's key):
they restore an old backup, or rewrite a past block. The witnesses refuse,
the site refuses the new history and says so on its pages, and the live audit
fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess, Publisher, Signer, device_keys, new_data_dir
from history_rewrite import backup, restore, rewrite_history
from mqtt_broker import Broker, free_port
from witness_harness import WitnessProcess, make_witness_dir

from chain.checkpoint import open_checkpoint
from chain.entries import parse_entry
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.datadir import DataDir

ROOT = Path(__file__).resolve().parents[2]
_QUICK_RETRIES = ("--witness-max-backoff", "0.5")  # the default 30 s cap would outlast a test
NAMES = ("coop.test/witness", "retail.test/witness", "regulator.test/witness")


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, seen: Callable[[], object] = str
) -> None:
    """Wait until ``check()``; on time-out, fail with ``what`` and what ``seen()`` says."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s; {seen()}"
        time.sleep(0.05)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


@dataclass
class SiteProcess:
    """``farmtrace site run`` following one gateway, on a free port."""

    site_dir: Path
    source: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.site_dir / "site.out"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "farmtrace", "site", "run",
                    "--site-dir", str(self.site_dir), "--source", self.source,
                    "--port", str(self.port), "--sync-interval", "0.2", *self.extra,
                ],
                stdout=out, stderr=out, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
        wait_for(lambda: b"site running" in log.read_bytes(), 20, "the site starts")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@dataclass
class WitnessedFarm:
    """The whole cast; ``checkpoint(url)`` reads what a server publishes, verified."""

    tmp: Path
    broker: Broker
    data_dir: DataDir
    trust: TrustRoot
    admin: Signer
    witnesses: list[WitnessProcess]
    policy: WitnessPolicy
    gateway: GatewayProcess
    site: SiteProcess
    publisher: Publisher
    device: Signer
    size: int = 0
    """The log's size (blocks) once the last readings were committed."""

    def checkpoint(self, url: str) -> tuple[int, set[str]]:
        """(size, names of the policy's witnesses that cosigned) of ``url``'s /checkpoint."""
        note = get(url + "/checkpoint")
        size = open_checkpoint(note, self.trust.log_key).size
        return size, set(self.policy.cosigners(note))

    def readings(self, *values: float) -> None:
        """Publish readings and wait until they are committed; note the log's size then."""
        self.publisher.publish(self.device.id, [self.device.reading(v) for v in values])
        seq = self.device.seq  # after a rollback, seqs the old log lost leave a gap: see ranges
        self.publisher.wait_receipt(
            self.device.id, lambda r: r.seq >= seq or any(a <= seq <= b for a, b in r.ranges)
        )
        self.size = max(self.size, self.publisher.receipts[self.device.id].block + 1)

    def audit(self) -> subprocess.CompletedProcess[str]:
        policy_file = self.tmp / "auditor-witnesses.json"
        policy_file.write_text(self.policy.to_json())
        trust_file = self.tmp / "auditor-trust.json"
        trust_file.write_text(self.trust.to_json())
        return subprocess.run(
            [
                sys.executable, "-m", "farmtrace", "audit", "--url", self.gateway.http_url,
                "--trust", str(trust_file), "--witnesses", str(policy_file), "--no-progress",
            ],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip

    def restart_gateway(self) -> None:
        assert self.gateway.terminate() == 0
        self.gateway.start()


def witness_the_log(
    tmp_path: Path, data_dir: DataDir, names: Sequence[str]
) -> tuple[TrustRoot, list[WitnessProcess], WitnessPolicy, Path]:
    """Witnesses of ``data_dir``'s log named ``names`` (not started), a 2-of-them policy
    given to the gateway, and a site directory pinning the trust root and the policy."""
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    witnesses = [
        WitnessProcess(
            make_witness_dir(tmp_path / name.split(".")[0], name, [(trust.origin, trust.log_key)]),
            port=free_port(),
        )
        for name in names
    ]
    policy = WitnessPolicy(
        2, tuple(Witness(w.vkey, f"http://127.0.0.1:{w.port}") for w in witnesses)
    )
    data_dir.witnesses.write_text(policy.to_json())
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "trust.json").write_text(trust.to_json())
    (site_dir / "witnesses.json").write_text(policy.to_json())
    return trust, witnesses, policy, site_dir


@pytest.fixture
def farm(tmp_path: Path, broker: Broker) -> Iterator[WitnessedFarm]:
    data_dir, admin = new_data_dir(tmp_path / "gateway")
    trust, witnesses, policy, site_dir = witness_the_log(tmp_path, data_dir, NAMES)
    gateway = GatewayProcess(
        data_dir,
        broker.url,  # a fixed port: the site follows the same URL across restarts
        ["--http-port", str(free_port()), "--block-interval-ms", "50", *_QUICK_RETRIES],
    )
    publisher = Publisher(broker.port, "witnessed-farm")
    device = Signer(device_keys(1, "barn-thermo")[0])
    cast = WitnessedFarm(
        tmp_path, broker, data_dir, trust, admin, witnesses, policy, gateway,
        SiteProcess(site_dir, ""), publisher, device,
    )  # fmt: skip
    try:
        for witness in witnesses[:2]:
            witness.start()
        gateway.start()
        cast.site.source = gateway.http_url
        cast.site.start()
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        yield cast
    finally:
        publisher.close()
        cast.site.stop()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.terminate()
        for witness in witnesses:
            if witness.running:
                witness.stop()


def refusal_count(metrics: str, reason: str) -> float:
    """The gateway's ``farmtrace_witness_refusals_total`` for ``reason``, summed over witnesses."""
    pattern = re.compile(
        rf'^farmtrace_witness_refusals_total{{[^}}]*reason="{reason}"[^}}]*}} (\S+)$', re.M
    )
    return sum(float(value) for value in pattern.findall(metrics))


def _value(raw: bytes) -> object:
    return parse_entry(raw).payload.get("value")


def wait_in_sync(farm: WitnessedFarm, cosigners: set[str], what: str) -> None:
    """Wait until the gateway publishes its whole log cosigned by ``cosigners``, as the site."""

    def seen() -> str:
        gateway, site = farm.checkpoint(farm.gateway.http_url), farm.checkpoint(farm.site.url)
        return f"the gateway publishes {gateway}, the site has {site}"

    def check() -> bool:
        served = farm.checkpoint(farm.gateway.http_url)
        whole = served[0] >= farm.size and served[1] == cosigners
        return whole and farm.checkpoint(farm.site.url) == served

    wait_for(check, 10, what, seen)


def assert_refused_everywhere(farm: WitnessedFarm, witnessed: int, conflict: str) -> str:
    """The witnesses kept ``witnessed``, the site too and warns with ``conflict``; the audit fails.

    Returns the audit's report.
    """
    for witness in farm.witnesses[:2]:
        kept = get(f"{witness.url}/latest-checkpoint?origin={farm.trust.origin}")
        assert open_checkpoint(kept, farm.trust.log_key).size == witnessed
    wait_for(
        lambda: f'class="conflict-{conflict}"' in get(farm.site.url + "/"),
        10,
        f"the site warns of a {conflict}",
    )
    page = get(farm.site.url + "/")
    assert "two different versions of this farm" in page
    assert farm.checkpoint(farm.site.url)[0] == witnessed  # the checked history is kept
    audit = farm.audit()
    assert audit.returncode == 1, audit.stdout + audit.stderr
    return audit.stdout


def test_two_of_three_holds_with_one_witness_down_and_pages_name_who_vouches(
    farm: WitnessedFarm,
) -> None:
    coop, retail, regulator = (w.name for w in farm.witnesses)
    farm.readings(20.5, 21.0, 21.5)
    wait_in_sync(farm, {coop, retail}, "2 of 3 cosign; the site follows")
    size, _ = farm.checkpoint(farm.site.url)
    head = get(f"{farm.site.url}/api/v1/blocks/{size - 1}")
    block_hash = head.split('"hash":"', 1)[1].split('"', 1)[0] if '"hash":"' in head else ""
    assert block_hash, head
    page = get(f"{farm.site.url}/batch/{block_hash}")
    assert coop in page and retail in page and regulator in page
    assert "2 of 3 independent witnesses vouch" in page
    assert "has not cosigned this checkpoint" in page  # the regulator's, still down

    farm.witnesses[2].start()  # the regulator comes back and catches up from old 0
    farm.readings(22.0)
    wait_in_sync(farm, {coop, retail, regulator}, "all three cosign")
    audit = farm.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_a_gateway_restored_from_an_old_backup_is_caught(farm: WitnessedFarm) -> None:
    coop, retail, _ = (w.name for w in farm.witnesses)
    farm.readings(20.0, 20.5)
    wait_in_sync(farm, {coop, retail}, "the first blocks are cosigned")
    backed_up, _ = farm.checkpoint(farm.gateway.http_url)
    farm.gateway.terminate()
    backup(farm.data_dir, farm.tmp / "backup")
    farm.gateway.start()
    for value in (39.5, 40.5, 41.0):  # the heat wave the operator will want to forget
        farm.readings(value)  # a block each
    wait_in_sync(farm, {coop, retail}, "the heat wave is cosigned")
    witnessed, _ = farm.checkpoint(farm.site.url)

    farm.gateway.terminate()
    restore(farm.data_dir, farm.tmp / "backup")
    farm.gateway.start()
    farm.readings(21.0)  # new history on top of the old backup

    # The witnesses refuse: they have cosigned a bigger tree than this log holds.
    def refusals() -> float:
        return refusal_count(get(farm.gateway.http_url + "/metrics"), "witness_ahead")

    wait_for(
        lambda: refusals() >= 2,
        10,
        "both witnesses refuse the restored log",
        lambda: get(farm.gateway.http_url + "/metrics"),
    )
    # The gateway can publish no cosigned checkpoint of its new history, only the backup's.
    assert farm.checkpoint(farm.gateway.http_url)[0] == backed_up < witnessed
    assert "rolled back" in assert_refused_everywhere(farm, witnessed, "rollback")


def test_a_rewritten_past_block_is_caught(farm: WitnessedFarm) -> None:
    coop, retail, _ = (w.name for w in farm.witnesses)
    farm.readings(20.0, 20.5)
    farm.readings(41.5)  # the reading the operator will want to erase
    farm.readings(21.0, 21.5)
    wait_in_sync(farm, {coop, retail}, "the history is cosigned")
    witnessed, _ = farm.checkpoint(farm.site.url)

    farm.gateway.terminate()
    assert rewrite_history(farm.data_dir, 1, keep=lambda raw: _value(raw) != 41.5) == 1
    farm.gateway.start()
    farm.readings(22.0)

    def refused() -> float:
        text = get(farm.gateway.http_url + "/metrics")
        return refusal_count(text, "root_mismatch") + refusal_count(text, "inconsistent")

    wait_for(lambda: refused() >= 2, 10, "both witnesses refuse the rewritten log")
    assert "fork" in assert_refused_everywhere(farm, witnessed, "fork").lower()
