"""The gateway enforces the lifecycle rules: bad events are refused and counted, across restarts."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm_logs import START_MS
from gateway_harness import (
    GatewayProcess,
    Publisher,
    Signer,
    committed_entries,
    metric,
    new_data_dir,
    now_ms,
)
from mqtt_broker import Broker
from test_audit_lifecycle import GTIN, EventLog
from test_gateway_ingest import audit_ok

from chain.audit import audit_store
from chain.entries import event_payload, operator_payload, parse_entry, sign_entry
from chain.keyfile import SignerKey
from gateway.admission import Verdict
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer

NOW = START_MS + 10 * 24 * 3_600_000
REJECTED = "farmtrace_entries_rejected_total"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EventLog]:
    log = EventLog(tmp_path / "log")
    yield log
    log.close()


def open_ingest(log: EventLog) -> Ingest:
    signer = read_log_signer(log.data_dir)
    return Ingest.open(log.store, log.trust, signer, IngestConfig(), now_ms=NOW)


def test_pending_and_committed_events_both_hold_the_rules_after_a_restart(log: EventLog) -> None:
    ingest = open_ingest(log)
    for raw in (
        log.event("hatched", ["bird:1", "bird:2"], breed="Ross 308").raw,
        log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"]).raw,
    ):
        assert ingest.offer(raw, "plant", NOW).verdict is Verdict.ACCEPTED
    ingest.flush()
    # "crash" before any block: the restarted ingest re-admits both, in order
    again = open_ingest(log)
    assert again.pending_count == 2 and not again.counts
    twice = log.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:9"])
    decision = again.offer(twice.raw, "plant", NOW)
    assert decision.verdict is Verdict.REJECTED and decision.reason == "lifecycle_conflict"
    slaughter = log.store.entry_count + 1  # the second pending entry
    assert decision.message == f"slaughtered: bird:1 was slaughtered in entry {slaughter}"
    again.flush()
    list(again.close_blocks(NOW))
    # restarted from the committed log (the event index): the rule still holds
    third = open_ingest(log)
    unslaughtered = log.event("packed", ["bird:2"], gtin=GTIN, serial="S2")
    decision = third.offer(unslaughtered.raw, "plant", NOW)
    assert decision.reason == "lifecycle_conflict", decision
    assert decision.message.endswith("bird:2 was never slaughtered")
    assert third.counts == {"lifecycle_conflict": 1}
    packed = log.event("packed", ["carcass:1"], gtin=GTIN, serial="S1")
    assert third.offer(packed.raw, "plant", NOW).verdict is Verdict.ACCEPTED
    third.flush()
    list(third.close_blocks(NOW))
    report = audit_store(log.store, log.trust, jobs=1)
    assert report.ok, report.to_text()


class Operator(Signer):
    """An operator's key and seq: signs lifecycle events at the current time."""

    def event(self, event: str, subjects: list[str], **fields: object) -> bytes:
        self.seq += 1
        payload = event_payload(event, self.seq, now_ms(), subjects, **fields)
        return sign_entry(payload, self.id, self.key.seed)


def register(admin: Signer, key: SignerKey, roles: list[str]) -> bytes:
    admin.seq += 1
    ts = now_ms() - 3_600_000
    payload = operator_payload(
        "register", key.id, admin.seq, ts, pubkey=key.public_key, roles=roles
    )
    return sign_entry(payload, admin.id, admin.key.seed)


def scrape(gateway: GatewayProcess) -> str:
    assert gateway.log is not None
    ports = re.findall(rb"gateway running: http://127.0.0.1:(\d+)/", gateway.log.read_bytes())
    url = f"http://127.0.0.1:{int(ports[-1])}/metrics"  # the latest run's port
    return str(urllib.request.urlopen(url, timeout=5).read().decode())


def wait_rejected(gateway: GatewayProcess, count: int) -> None:
    deadline = time.monotonic() + 10
    while metric(scrape(gateway), REJECTED, "lifecycle_conflict") < count:
        assert time.monotonic() < deadline, scrape(gateway)
        time.sleep(0.02)


def test_a_real_gateway_refuses_bad_events_and_still_does_after_a_restart(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    plant = Operator(SignerKey.generate("plant"))
    gateway = GatewayProcess(data_dir, broker.url, ["--block-interval-ms", "50"])
    gateway.start()
    pub = Publisher(broker.port, "operators")
    try:
        pub.watch(admin.id)
        pub.publish(admin.id, [register(admin, plant.key, ["hatchery", "plant"])])
        pub.wait_receipt(admin.id, lambda r: r.seq == admin.seq)
        pub.watch(plant.id)
        good = [plant.event("hatched", ["bird:1", "bird:2"], breed="Ross 308")]
        bad = [plant.event("packed", ["bird:1"], gtin=GTIN, serial="S1")]  # not slaughtered
        good += [plant.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:1"])]
        bad += [plant.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:2"])]
        good += [plant.event("packed", ["carcass:1"], gtin=GTIN, serial="S1")]
        pub.publish(plant.id, [good[0], bad[0], good[1], bad[1], good[2]])
        pub.wait_receipt(plant.id, lambda r: r.covers(plant.seq))
        wait_rejected(gateway, 2)
        gateway.kill()
        gateway.start()
        again = plant.event("slaughtered", ["bird:1"], plant="P", outputs=["carcass:3"])
        last = plant.event("slaughtered", ["bird:2"], plant="P", outputs=["carcass:2"])
        pub.publish(plant.id, [again, last])
        pub.wait_receipt(plant.id, lambda r: r.covers(plant.seq))
        wait_rejected(gateway, 1)  # the counter restarts with the process
        assert gateway.terminate() == 0
    finally:
        pub.close()
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.kill()
    events = [e for e in committed_entries(data_dir) if parse_entry(e).type == "event"]
    assert events == [*good, last]
    assert gateway.log is not None
    text = gateway.log.read_text()
    assert "rejected from plant: lifecycle_conflict: packed: bird:1" in text
    assert "bird:1 was never slaughtered" in text
    restarted = text.rsplit("gateway running", 1)[1]  # what the second run logged
    assert re.search(r"slaughtered: bird:1 was slaughtered in entry \d+", restarted)
    audit_ok(data_dir)
