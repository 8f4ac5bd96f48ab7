"""An operator-only log: ``farmtrace gateway run`` without ``--farm``, fed over HTTP, no broker.

Real processes: the gateway is a child process (so that it can be killed
-9) with no Mosquitto anywhere; operators are registered and events signed
through the real command line (``--submit-url``); bad submissions are real
HTTP requests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway_harness import (
    FARM,
    ORIGIN,
    ROOT,
    Signer,
    committed_entries,
    metric,
    new_data_dir,
    now_ms,
)
from mqtt_broker import Broker
from witness_harness import WitnessProcess, make_witness_dir

from chain.entries import event_payload, operator_payload, sign_entry
from chain.keyfile import SignerKey, save_key
from chain.trust import TrustRoot
from chain.wire import entry_digest
from gateway.datadir import DataDir
from gateway.ingest import IngestConfig
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig
from readapi import ReadApiClient
from signer.http_submit import parse_submit_url, submit_and_wait
from signer.identity import DeviceIdentity
from signer.mqtt_url import MqttUrl
from signer.transport import publish_and_wait

Cli = Callable[..., tuple[int, str, str]]
_RUN = [sys.executable, "-m", "farmtrace", "gateway", "run"]


@dataclass
class OperatorGateway:
    """``farmtrace gateway run --data-dir D --http-port 0`` (no --farm) as a child process."""

    data_dir: DataDir
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data_dir.root / "gateway.log"

    def start(self) -> None:
        before = self.log.read_bytes().count(b"gateway running") if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*_RUN, "--data-dir", str(self.data_dir.root), "--http-port", "0", *self.extra],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + 20
        while self.log.read_bytes().count(b"gateway running") <= before:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gateway did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        found = re.findall(rb"gateway running: (http://\S+)/checkpoint", self.log.read_bytes())
        return str(found[-1].decode())

    def scrape(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(30) == 0, self.log.read_text()


def post(url: str, body: bytes, content_type: str = "application/jose") -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/api/v1/submit", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def receipt_of(url: str, digest: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/receipts/{digest}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def hatched(signer: str, seq: int, seed: bytes, bird: str = "bird:0002") -> bytes:
    payload = event_payload("hatched", seq, now_ms(), [bird], breed="Ross 308")
    return sign_entry(payload, signer, seed)


def new_log(root: Path) -> tuple[DataDir, Signer, Path]:
    """A fresh log, its admin, and the admin's seq state (genesis used seq 1)."""
    data_dir, admin = new_data_dir(root / "gw")
    save_key(admin.key, root / "admin.key")
    state = root / "st" / "admin"
    with DeviceIdentity.create(state, admin.key) as identity:
        identity.next_seq()
    return data_dir, admin, state


def test_an_operator_only_log_takes_signed_events_over_http_and_refuses_bad_ones(
    tmp_path: Path, run_cli: Cli
) -> None:
    data_dir, _admin, admin_state = new_log(tmp_path)
    log_key = TrustRoot.from_json(data_dir.trust.read_text()).log_key
    witness = WitnessProcess(
        make_witness_dir(tmp_path / "w1", "w1.test/witness", [(ORIGIN, log_key)])
    )
    witness.start()
    policy = {"quorum": 1, "witnesses": [{"vkey": witness.vkey, "url": witness.url}]}
    data_dir.witnesses.write_text(json.dumps(policy))
    gateway = OperatorGateway(data_dir, ["--block-interval-ms", "100"])
    try:
        gateway.start()
        assert "operator-only log (HTTP submissions, no MQTT)" in gateway.log.read_text()
        hatchery = SignerKey.generate("hatch1")
        save_key(hatchery, tmp_path / "hatch1.key")
        sending = ["--submit-url", gateway.url, "--timeout", "20"]
        code, out, err = run_cli(
            "operator", "register", "--id", "hatch1", f"--pubkey={hatchery.public_key_b64}",
            "--role", "hatchery", "--key", tmp_path / "admin.key", "--state-dir", admin_state,
            *sending,
        )  # fmt: skip
        assert code == 0 and "committed: entry 1 in block height 1" in out, err
        code, out, err = run_cli(
            "event", "hatched", "--bird", "0001", "--breed", "Ross 308",
            "--key", tmp_path / "hatch1.key", "--state-dir", tmp_path / "st" / "hatch1",
            *sending,
        )  # fmt: skip
        assert code == 0 and "signed seq 1" in out and "committed: entry 2" in out, err
        # The pre-sign check read the submit URL's read API: a second hatch is refused unsigned.
        code, out, err = run_cli(
            "event", "hatched", "--bird", "0001", "--breed", "Ross 308",
            "--key", tmp_path / "hatch1.key", "--state-dir", tmp_path / "st" / "hatch1",
            *sending,
        )  # fmt: skip
        assert code == 1 and "refused, nothing signed" in err

        [(index, raw)] = ReadApiClient(gateway.url).subject_events("bird:0001")
        assert index == 2
        # A replay of a committed entry: the same hash, its receipt, no second copy.
        status, body = post(gateway.url, raw)
        assert (status, body["hash"], body["index"]) == (200, entry_digest(raw), 2)
        assert receipt_of(gateway.url, entry_digest(raw))[1] == body

        forged = hatched("hatch1", 2, SignerKey.generate("hatch1").seed)  # another key
        stranger = SignerKey.generate("stranger")
        refused = {
            "bad_signature": (403, post(gateway.url, forged)),
            "unknown_signer": (403, post(gateway.url, hatched("stranger", 1, stranger.seed))),
            "oversized": (413, post(gateway.url, b"e" * 9000)),
            "malformed_entry": (400, post(gateway.url, b"not.a.jws")),
            "unsupported_media_type": (415, post(gateway.url, raw, "text/plain")),
            "lifecycle_conflict": (
                409,
                post(gateway.url, hatched("hatch1", 2, hatchery.seed, bird="bird:0001")),
            ),
        }
        for reason, (expected, (status, body)) in refused.items():
            assert (status, body["reason"]) == (expected, reason), body
            assert body["error"]
        scraped = gateway.scrape()
        for reason in refused:
            assert metric(scraped, "farmtrace_entries_rejected_total", reason) == 1, reason
        assert metric(scraped, "farmtrace_entries_duplicate_total") == 1
        assert metric(scraped, "farmtrace_mqtt_connected") == 0
        status, body = receipt_of(gateway.url, "ab" * 32)
        assert (status, body["reason"]) == (404, "unknown")
        # Witnessing is as for a farm's log: the witness cosigns the log with the events.
        deadline = time.monotonic() + 20
        while metric(gateway.scrape(), "farmtrace_published_checkpoint_size") < 3:
            assert time.monotonic() < deadline, "the witness never cosigned the events"
            time.sleep(0.05)
    finally:
        gateway.stop()
        witness.stop()
    assert [entry_digest(e) for e in committed_entries(data_dir)].count(entry_digest(raw)) == 1


def test_an_entry_answered_202_survives_kill_9_and_a_resend_dedups(tmp_path: Path) -> None:
    data_dir, admin, _ = new_log(tmp_path)
    gateway = OperatorGateway(data_dir, ["--block-interval-ms", "600000"])  # no block closes
    gateway.start()
    raw = admin.register(SignerKey.generate("dev001"))
    digest = entry_digest(raw)
    try:
        assert post(gateway.url, raw) == (202, {"hash": digest})
        status, body = receipt_of(gateway.url, digest)
        assert (status, body["reason"]) == (404, "pending")
        gateway.kill()  # after the 202: the entry is durable, not yet in a block
        gateway.extra = ["--block-interval-ms", "100"]
        gateway.start()
        # The restarted gateway forgot the hash (memory), but recovered the entry itself:
        # the client's resend is a duplicate, answered with the committed entry's receipt.
        receipt = submit_and_wait(parse_submit_url(gateway.url), raw, timeout=20)
        assert (receipt.hash, receipt.index, receipt.block) == (digest, 1, 1)
        scraped = gateway.scrape()
        assert metric(scraped, "farmtrace_entries_accepted_total") == 0
        assert metric(scraped, "farmtrace_entries_duplicate_total") >= 1
    finally:
        gateway.stop()
    assert committed_entries(data_dir).count(raw) == 1


def test_a_farms_gateway_with_http_submit_takes_entries_over_both(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    config = GatewayConfig(
        data_dir=data_dir,
        farm=FARM,
        mqtt=MqttSettings(port=broker.port, client_id="gw-http-submit", verify_workers=1),
        ingest=IngestConfig(block_interval_ms=100),
        http_port=0,
        http_submit=True,
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        assert gateway.mqtt is not None and gateway.mqtt.connected.wait(10)
        url = f"http://127.0.0.1:{gateway.http_port}"
        hatchery = SignerKey.generate("hatch1")
        payload = operator_payload(
            "register", "hatch1", 2, now_ms() - 60_000, pubkey=hatchery.public_key,
            roles=["hatchery"],
        )  # fmt: skip
        registration = sign_entry(payload, admin.id, admin.key.seed)
        receipt = submit_and_wait(parse_submit_url(url), registration, timeout=20)
        assert (receipt.index, receipt.block) == (1, 1)
        # The operator's event over MQTT is judged against the key registered over HTTP.
        raw = hatched("hatch1", 1, hatchery.seed, bird="bird:0001")
        broker_url = MqttUrl("127.0.0.1", broker.port, "hatch1")
        assert publish_and_wait(raw, 1, "hatch1", broker_url, FARM, 20).names(1, entry_digest(raw))
        status, body = post(url, raw)  # and a replay over HTTP finds it committed
        assert (status, body["index"]) == (200, 2)
    finally:
        gateway.stop()
    assert committed_entries(data_dir)[1:] == [registration, raw]


def test_the_two_ways_of_sending_do_not_mix(tmp_path: Path, run_cli: Cli) -> None:
    code, _, err = run_cli("gateway", "run", "--data-dir", tmp_path, "--http-submit")
    assert code == 2 and "--http-submit is for a farm's gateway" in err
    save_key(SignerKey.generate("hatch1"), tmp_path / "k.key")
    signer = ["--key", tmp_path / "k.key", "--state-dir", tmp_path / "st", "--no-check"]
    event = ["event", "hatched", "--bird", "0001", "--breed", "Ross 308", *signer]
    code, _, err = run_cli(*event, "--submit-url", "http://127.0.0.1:9", "--farm", "f")
    assert code == 2 and "--farm and the --mqtt-* TLS options go with --mqtt" in err
    code, _, err = run_cli(*event, "--submit-url", "http://127.0.0.1:9", "--mqtt", "mqtt://h")
    assert code == 2 and "not allowed with argument" in err
    code, _, err = run_cli(*event, "--mqtt", "mqtt://h")
    assert code == 2 and "--farm is required with --mqtt" in err


def test_http_submissions_go_on_while_the_farms_broker_is_down(tmp_path: Path) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    with socket.socket() as probe:  # a port nothing listens on: the broker is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = GatewayConfig(
        data_dir=data_dir,
        farm=FARM,
        mqtt=MqttSettings(port=port, client_id="gw-no-broker", verify_workers=0),
        ingest=IngestConfig(block_interval_ms=100),
        http_port=0,
        http_submit=True,
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        url = parse_submit_url(f"http://127.0.0.1:{gateway.http_port}")
        registration = admin.register(SignerKey.generate("dev001"))
        assert submit_and_wait(url, registration, timeout=20).index == 1
        assert gateway.mqtt is not None and not gateway.mqtt.connected.is_set()
    finally:
        gateway.stop()
