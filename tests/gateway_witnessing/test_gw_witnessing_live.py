"""A real gateway (real Mosquitto, LevelDB, HTTP) pushing to spec witnesses over HTTP."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gateway_harness import Publisher, Signer, device_keys, metric, new_data_dir
from mqtt_broker import Broker
from spec_witness import SpecWitness

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.ingest import IngestConfig
from gateway.mqtt_ingest import MqttSettings
from gateway.service import Gateway, GatewayConfig
from gateway.witnessing import WitnessingConfig, save_witness_policy

FAST = WitnessingConfig(timeout_s=2, backoff_min_s=0.05, backoff_max_s=0.5, poll_s=1)
# The request grammar of c2sp.org/tlog-witness: old size line, proof lines, empty line, note.
BODY = re.compile(rb"old (0|[1-9][0-9]*)\n((?:[A-Za-z0-9+/]{43}=\n){0,63})\n(.+)", re.S)


class Farm:
    """A gateway data dir, its admin and one registered device, and the spec witnesses."""

    def __init__(self, root: Path, broker: Broker, names: tuple[str, ...]) -> None:
        self.data_dir, self.admin = new_data_dir(root / "gw")
        self.trust = TrustRoot.from_json(self.data_dir.trust.read_text())
        self.broker = broker
        self.witnesses = [SpecWitness(name) for name in names]
        for witness in self.witnesses:
            witness.trust_log(self.trust.log_key)
            witness.start()
        self.device = Signer(device_keys(1)[0])
        self.publisher = Publisher(broker.port, "witnessing-publisher")
        self.gateway: Gateway | None = None

    def configure(self, quorum: int, witnesses: list[SpecWitness] | None = None) -> None:
        chosen = self.witnesses if witnesses is None else witnesses
        policy = WitnessPolicy(quorum, tuple(Witness(w.vkey, w.url) for w in chosen))
        save_witness_policy(self.data_dir.witnesses, policy)

    def start(self) -> Gateway:
        self.gateway = Gateway(
            GatewayConfig(
                data_dir=self.data_dir,
                farm="testfarm",
                mqtt=MqttSettings(port=self.broker.port, client_id="gw-witnessing"),
                ingest=IngestConfig(block_interval_ms=100),
                http_port=0,
                witnessing=FAST,
            )
        )
        self.gateway.start()
        assert self.gateway.mqtt is not None and self.gateway.mqtt.connected.wait(10)
        return self.gateway

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None

    def get(self, path: str) -> bytes:
        assert self.gateway is not None
        url = f"http://127.0.0.1:{self.gateway.http_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return bytes(response.read())

    def checkpoint(self) -> tuple[int, dict[str, int]]:
        """The served checkpoint's size and its verified cosigners."""
        served = self.get("/checkpoint").decode()
        size = open_checkpoint(served, self.trust.log_key).size
        return size, verify_cosignatures(served, [w.vkey for w in self.witnesses])

    @property
    def store(self) -> Store:
        assert self.gateway is not None and self.gateway.store is not None
        return self.gateway.store

    def newest(self) -> int:
        latest = self.store.latest_checkpoint()
        assert latest is not None
        return latest[0]

    def block(self, readings: int = 5) -> float:
        """Publish readings, wait for their receipt; return how long that took."""
        started = time.monotonic()
        self.publisher.publish(self.device.id, [self.device.reading() for _ in range(readings)])
        seq = self.device.seq
        self.publisher.wait_receipt(self.device.id, lambda r: r.seq >= seq, timeout=10)
        return time.monotonic() - started

    def close(self) -> None:
        self.stop()
        self.publisher.close()
        for witness in self.witnesses:
            witness.stop()


@pytest.fixture
def farm_factory(tmp_path: Path, broker: Broker) -> Iterator[Callable[..., Farm]]:
    made: list[Farm] = []

    def make(*names: str) -> Farm:
        farm = Farm(tmp_path / f"farm{len(made)}", broker, names)
        made.append(farm)
        return farm

    yield make
    for farm in made:
        farm.close()


def register(farm: Farm) -> None:
    farm.publisher.watch(farm.device.id)
    farm.publisher.register(farm.admin, [farm.device.key])


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - started


def fully_cosigned(farm: Farm, size: int | None = None) -> Callable[[], bool]:
    def check() -> bool:
        served, cosigners = farm.checkpoint()
        want = farm.newest() if size is None else size
        return served == want and len(cosigners) == len(farm.witnesses)

    return check


def parse_body(body: bytes) -> tuple[int, list[bytes], str]:
    match = BODY.fullmatch(body)
    assert match is not None, body[:200]
    proof = [base64.b64decode(line, validate=True) for line in match[2].split(b"\n")[:-1]]
    assert all(len(h) == 32 for h in proof)
    return int(match[1]), proof, match[3].decode()


def test_two_witnesses_cosign_every_checkpoint_within_a_second(
    farm_factory: Callable[..., Farm],
) -> None:
    farm = farm_factory("a.test/witness", "b.test/witness")
    farm.configure(quorum=2)
    farm.start()
    register(farm)
    for _ in range(3):
        farm.block()
        elapsed = wait_for(fully_cosigned(farm), 1.0, "both cosignatures on /checkpoint")
        assert elapsed < 1.0
    size = farm.newest()
    log = json.loads(farm.get("/api/v1/log"))
    assert log["witnesses"] == [w.vkey for w in farm.witnesses]
    proof = json.loads(farm.get("/api/v1/entries/1/proof"))
    assert len(verify_cosignatures(proof["checkpoint"], log["witnesses"])) == 2
    metrics = farm.get("/metrics").decode()
    assert metric(metrics, "farmtrace_published_checkpoint_size") == size
    assert metric(metrics, "farmtrace_witness_quorum") == 2
    pushes = []
    for witness in farm.witnesses:
        label = f'{{outcome="cosigned",witness="{witness.name}"}}'
        assert metric(metrics, "farmtrace_witness_requests_total" + label) >= 3
        assert all(r.status == 200 for r in witness.requests)
        bodies = [parse_body(r.body) for r in witness.requests]
        sizes = [open_checkpoint(note, farm.trust.log_key).size for _, _, note in bodies]
        assert [old for old, _, _ in bodies] == [0, *sizes[:-1]]  # each from the last cosigned
        olds_proofs = [(old, proof) for old, proof, _ in bodies]
        pushes += [(*op, pushed) for op, pushed in zip(olds_proofs, sizes, strict=True)]
    farm.stop()
    with Store.open(farm.data_dir.log) as store:
        stored = store.checkpoint(size)
        for old, proof, pushed in pushes:
            assert proof == ([] if old == 0 else store.consistency_proof(old, pushed))
    assert len(verify_cosignatures(stored, [w.vkey for w in farm.witnesses])) == 2


def test_a_witness_down_does_not_slow_ingest_and_catches_up_when_back(
    farm_factory: Callable[..., Farm],
) -> None:
    farm = farm_factory("up.test/witness", "down.test/witness")
    up, down = farm.witnesses
    farm.configure(quorum=2)
    farm.start()
    register(farm)
    farm.block()
    wait_for(fully_cosigned(farm), 2.0, "both cosignatures")
    cosigned = farm.newest()
    down.stop()  # connection refused from now on
    latencies = [farm.block() for _ in range(4)]
    assert max(latencies) < 1.5, latencies
    newest = farm.newest()
    assert newest > cosigned
    wait_for(
        lambda: up.name in verify_cosignatures(farm.store.checkpoint(newest), [up.vkey]),
        2.0,
        "the witness that is up cosigns the newest checkpoint",
    )
    assert farm.checkpoint()[0] == cosigned  # quorum 2: still the one both cosigned
    metrics = farm.get("/metrics").decode()
    label = f'{{outcome="unreachable",witness="{down.name}"}}'
    assert metric(metrics, "farmtrace_witness_requests_total" + label) >= 1
    seen = len(down.requests)
    down.start()  # back, on the same port: it catches up with the newest checkpoint only
    wait_for(fully_cosigned(farm, newest), 3.0, "the returning witness cosigns the newest")
    caught_up = [parse_body(r.body) for r in down.requests[seen:] if r.status == 200]
    first_old, _, first_note = caught_up[0]
    assert first_old == cosigned
    assert open_checkpoint(first_note, farm.trust.log_key).size == newest  # no intermediate one

    down.stop()  # restarts with empty state: the gateway resends from 0
    down.reset()
    down.start()
    seen = len(down.requests)
    farm.block()
    wait_for(fully_cosigned(farm), 3.0, "the reset witness cosigns again")
    statuses = [(parse_body(r.body)[0], r.status) for r in down.requests[seen:]]
    assert statuses[-2:] == [(newest, 409), (0, 200)], statuses


def test_a_restarted_gateway_keeps_publishing_the_cosigned_checkpoint(
    farm_factory: Callable[..., Farm],
) -> None:
    farm = farm_factory("a.test/witness", "b.test/witness")
    farm.configure(quorum=2)
    farm.start()
    register(farm)
    farm.block()
    wait_for(fully_cosigned(farm), 2.0, "both cosignatures")
    cosigned = farm.newest()
    for witness in farm.witnesses:
        witness.stop()
    farm.block()
    farm.block()
    newer = farm.newest()
    assert farm.checkpoint()[0] == cosigned < newer
    farm.stop()
    farm.start()  # the witnesses are still down
    size, cosigners = farm.checkpoint()
    assert (size, len(cosigners)) == (cosigned, 2)
    last_entry = farm.store.entry_count - 1
    proof = json.loads(farm.get(f"/api/v1/entries/{last_entry}/proof"))
    assert proof["block_path"]["tree_size"] == newer  # not covered by the cosigned one yet
    proof = json.loads(farm.get("/api/v1/entries/0/proof"))
    assert proof["block_path"]["tree_size"] == cosigned
    for witness in farm.witnesses:
        witness.start()
    wait_for(fully_cosigned(farm, newer), 3.0, "the witnesses are back")


def test_a_witness_holding_an_older_size_gets_a_consistency_proof_after_a_409(
    farm_factory: Callable[..., Farm],
) -> None:
    farm = farm_factory("late.test/witness")
    (witness,) = farm.witnesses
    farm.start()  # no witnesses yet: grow the log
    register(farm)
    for _ in range(3):
        farm.block()
    farm.stop()
    with Store.open(farm.data_dir.log) as store:
        newest = store.size
        witness.preload(farm.trust.origin, 2, store.root(2))
        expected_proof = store.consistency_proof(2, newest)
    farm.configure(quorum=1)
    farm.start()
    wait_for(fully_cosigned(farm, newest), 2.0, "the witness cosigns")
    (old0, proof0, _), (old1, proof1, note1) = (parse_body(r.body) for r in witness.requests)
    assert [r.status for r in witness.requests] == [409, 200]
    assert (old0, proof0, old1) == (0, [], 2)
    assert proof1 == expected_proof and len(proof1) > 0
    assert open_checkpoint(note1, farm.trust.log_key).size == newest


def test_witnesses_that_refuse_the_history_are_alarms_and_ingest_goes_on(
    farm_factory: Callable[..., Farm], caplog: pytest.LogCaptureFixture
) -> None:
    farm = farm_factory("honest.test/witness", "ahead.test/witness", "forked.test/witness")
    honest, ahead, forked = farm.witnesses
    farm.start()
    register(farm)
    farm.block()
    farm.stop()
    ahead.preload(farm.trust.origin, 1000, b"\x07" * 32)  # this data dir "was rolled back"
    forked.preload(farm.trust.origin, 2, b"\x09" * 32)  # it saw another history at size 2
    farm.configure(quorum=1)
    caplog.set_level(logging.ERROR, logger="gateway.witnessing")
    farm.start()
    started = time.monotonic()
    for _ in range(3):
        assert farm.block() < 1.5
    wait_for(lambda: honest.name in farm.checkpoint()[1], 2.0, "the honest witness cosigns")
    metrics = farm.get("/metrics").decode()
    refusals = "farmtrace_witness_refusals_total"
    assert metric(metrics, f'{refusals}{{reason="witness_ahead",witness="{ahead.name}"}}') >= 1
    assert metric(metrics, f'{refusals}{{reason="inconsistent",witness="{forked.name}"}}') >= 1
    assert metric(metrics, f'{refusals}{{reason="inconsistent",witness="{ahead.name}"}}') == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(ahead.name in m and "1000" in m and "rolled back" in m for m in errors), errors
    assert any(forked.name in m and "fork" in m for m in errors), errors
    elapsed = time.monotonic() - started
    assert len(ahead.requests) < 10 + elapsed / 0.1  # backed off, not hammered
    assert ahead.state[farm.trust.origin][0] == 1000 and forked.state[farm.trust.origin][0] == 2
