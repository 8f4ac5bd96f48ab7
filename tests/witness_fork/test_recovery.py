"""A gateway whose disk is lost mid-stream is rebuilt from the site's replica; nothing is lost.

Every part is a real process or a real device: Mosquitto, ``farmtrace gateway
run``, two ``farmtrace witness serve`` (quorum 2), ``farmtrace site run``,
and two devices with durable outboxes (signer.Device over MQTT links)
recording all along. The gateway is killed with SIGKILL and its data
directory deleted (the log's key survives, kept apart as the runbook says),
then ``farmtrace gateway recover`` rebuilds it from the site's replica and
the gateway runs again on it.

The kill is placed right after the site caught up with the gateway's head
(blocks close every 1.5 s, so the next commit is far): receipts that the
gateway sent for blocks no mirror holds yet would be lost with the disk
(docs/backup-and-recovery.md, "What remains": without --mirror), and the
test checks that it did not kill in such a window rather than hoping so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gateway_harness import FARM, GatewayProcess, Publisher, device_keys, new_data_dir, now_ms
from mqtt_broker import Broker, free_port
from test_witnessed_farm import SiteProcess, get, refusal_count, wait_for, witness_the_log

from chain.checkpoint import open_checkpoint
from chain.entries import parse_entry
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from gateway.datadir import DataDir
from signer.device import Device
from signer.fleet import Fleet
from signer.identity import DeviceIdentity
from signer.mqtt_link import MqttLink
from signer.mqtt_url import parse_mqtt_url
from signer.outbox import Outbox

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


class Recorder:
    """Devices recording a reading each every ``period`` s, on a thread, until stopped."""

    def __init__(self, devices: list[Device], fleet: Fleet, period: float = 0.03) -> None:
        self.devices, self.fleet, self.period = devices, fleet, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder")

    def _run(self) -> None:
        value = 20.0
        while not self._stop.wait(self.period):
            value += 0.01
            for device in self.devices:
                device.record("temperature", "barn:b1", round(value, 2), "Cel", now_ms())
            self.fleet.wake()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Cast:
    tmp: Path
    data_dir: DataDir
    trust: TrustRoot
    policy: WitnessPolicy
    gateway: GatewayProcess
    site: SiteProcess
    devices: list[Device]
    fleet: Fleet

    def site_size(self) -> int:
        return open_checkpoint(get(self.site.url + "/checkpoint"), self.trust.log_key).size

    def gateway_has_block(self, height: int) -> bool:
        try:
            get(f"{self.gateway.http_url}/api/v1/blocks/{height}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404, exc
            return False
        return True

    def cosigned(self, url: str) -> tuple[int, int]:
        """(size, number of the policy's witnesses that cosigned) of ``url``'s checkpoint."""
        note = get(url + "/checkpoint")
        return open_checkpoint(note, self.trust.log_key).size, len(self.policy.cosigners(note))

    def farmtrace(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "farmtrace", *args],
            capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120,
        )  # fmt: skip

    def recover_from_site(self) -> subprocess.CompletedProcess[str]:
        """``farmtrace gateway recover`` of the gateway's data dir from the site's replica."""
        return self.farmtrace(
            "gateway", "recover", "--from", self.site.url,
            "--trust", str(self.tmp / "trust.json"),
            "--witnesses", str(self.tmp / "witnesses.json"),
            "--log-key", str(self.tmp / "secrets" / "log.key"),
            "--data-dir", str(self.data_dir.root),
        )  # fmt: skip

    def await_the_recovered_log(self, mirrored: int, issued: dict[str, int]) -> str:
        """After recovery from ``mirrored`` blocks: nothing lost, witnesses on, audit clean.

        Waits for every outbox to drain and both witnesses to cosign past
        ``mirrored`` with the site following; checks no witness refused, stops
        the gateway, then that every device's seqs up to ``issued`` are
        committed exactly once and the audit passes. Returns the gateway's
        last ``/metrics`` for the caller's own checks.
        """
        wait_for(
            lambda: all(d.outbox.count == 0 for d in self.devices),
            60,
            "every reading is receipted",
            lambda: {d.id: d.outbox.count for d in self.devices},
        )
        wait_for(
            lambda: (
                self.cosigned(self.gateway.http_url)[1] == 2
                and self.cosigned(self.gateway.http_url)[0] > mirrored
                and self.site_size() >= self.cosigned(self.gateway.http_url)[0]
            ),
            30,
            "both witnesses cosign the recovered log's new checkpoints; the site follows",
            lambda: (self.cosigned(self.gateway.http_url), self.site_size()),
        )
        metrics = get(self.gateway.http_url + "/metrics")
        refused = ("witness_ahead", "inconsistent", "root_mismatch")
        assert sum(refusal_count(metrics, reason) for reason in refused) == 0
        assert self.gateway.terminate() == 0
        with Store.open(self.data_dir.log) as store:
            committed = [parse_entry(store.entry(i)) for i in range(store.entry_count)]
        for device_id, last in issued.items():
            seqs = sorted(e.seq for e in committed if e.kid == device_id)
            assert seqs == list(range(1, last + 1)), f"{device_id}: every reading exactly once"
        audit = self.farmtrace("audit", "--data-dir", str(self.data_dir.root), "--no-progress")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        return metrics


@contextmanager
def staged_cast(
    tmp_path: Path,
    broker: Broker,
    publisher_name: str,
    site_extra: tuple[str, ...] = (),
    gateway_extra: Callable[[SiteProcess], list[str]] = lambda _site: [],
) -> Iterator[Cast]:
    """A witnessed farm as an operator runs it, all processes stopped on exit.

    Two witnesses, the gateway, the site following it (``site_extra``: its
    options) and two devices whose registration went through the broker;
    the log key's safe copy is in ``secrets/`` and the pinned trust root and
    witness policy beside it. ``gateway_extra`` gives more gateway options
    from the site (e.g. ``--mirror`` its URL).
    """
    data_dir, admin = new_data_dir(tmp_path / "gateway")
    secrets = tmp_path / "secrets"  # the operator's safe copy of the log's key, off the disk
    secrets.mkdir(mode=0o700)
    shutil.copy2(data_dir.log_key, secrets / "log.key")
    names = ("coop.test/witness", "retail.test/witness")
    trust, witnesses, policy, site_dir = witness_the_log(tmp_path, data_dir, names)
    (tmp_path / "witnesses.json").write_text(policy.to_json())
    (tmp_path / "trust.json").write_text(trust.to_json())  # pinned by the operator too
    site = SiteProcess(site_dir, "", extra=site_extra)
    gateway = GatewayProcess(
        data_dir,
        broker.url,
        [
            "--http-port", str(free_port()), "--block-interval-ms", "1500",
            "--witness-max-backoff", "0.5", *gateway_extra(site),
        ],
    )  # fmt: skip
    keys = device_keys(2, "barn-thermo")
    devices = [
        Device(DeviceIdentity.create(tmp_path / k.id, k), Outbox.open(tmp_path / k.id / "o.db"))
        for k in keys
    ]
    url = parse_mqtt_url(broker.url)
    fleet = Fleet([MqttLink(d, url, FARM, resend_after=1.0) for d in devices], poll_interval=0.1)
    publisher = Publisher(broker.port, publisher_name)
    try:
        for witness in witnesses:
            witness.start()
        gateway.start()
        site.source = gateway.http_url
        site.start()
        publisher.register(admin, keys)
        publisher.close()
        fleet.start()
        yield Cast(tmp_path, data_dir, trust, policy, gateway, site, devices, fleet)
    finally:
        fleet.stop()
        for device in devices:
            device.outbox.close()
            device.identity.close()
        if site.proc is not None and site.proc.poll() is None:
            site.proc.send_signal(signal.SIGCONT)  # a test may have frozen it
        site.stop()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.terminate()
        for witness in witnesses:
            if witness.running:
                witness.stop()


@pytest.fixture
def cast(tmp_path: Path, broker: Broker) -> Iterator[Cast]:
    with staged_cast(tmp_path, broker, "recovery-admin") as staged:
        yield staged


def _kill_right_after_the_site_caught_up(cast: Cast) -> int:
    """SIGKILL the gateway just after the site pulled its head; return that size."""
    wait_for(lambda: cast.site_size() >= 3, 30, "the site mirrors the first blocks")
    seen = cast.site_size()
    heads: list[int] = []

    def caught_up() -> bool:  # a new head on the site, and none beyond it on the gateway
        heads.append(cast.site_size())
        return heads[-1] > seen and not cast.gateway_has_block(heads[-1])

    wait_for(caught_up, 30, "the site pulls the gateway's newest block", lambda: heads[-3:])
    cast.gateway.kill()
    with Store.open(cast.data_dir.log) as dead:  # what the lost disk held
        assert dead.size == heads[-1], "a block committed between the check and the kill"
        # Accepted and acknowledged to the broker, not yet blocked: lost with the disk, so
        # only the devices' outboxes still hold them.
        assert dead.pending(), "expected entries pending at the kill"
    return heads[-1]


def test_a_gateway_whose_disk_is_lost_is_rebuilt_from_the_site_and_loses_nothing(
    cast: Cast,
) -> None:
    recorder = Recorder(cast.devices, cast.fleet)
    recorder.start()
    try:
        mirrored = _kill_right_after_the_site_caught_up(cast)
        shutil.rmtree(cast.data_dir.root)  # the disk is gone; the devices keep recording
        wait_for(lambda: all(d.outbox.count > 20 for d in cast.devices), 20, "the outboxes fill up")
        done = cast.recover_from_site()
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{mirrored} blocks" in done.stdout and "cosigned size" in done.stdout
        with Store.open(cast.data_dir.log) as store:
            assert store.size == mirrored and store.pending() == []
            assert store.latest_checkpoint() == (mirrored, get(cast.site.url + "/checkpoint"))
        cast.gateway.start()
    finally:
        recorder.stop()

    issued = {d.id: d.identity.last_seq for d in cast.devices}
    cast.await_the_recovered_log(mirrored, issued)
    assert 'class="conflict-' not in get(cast.site.url + "/")
