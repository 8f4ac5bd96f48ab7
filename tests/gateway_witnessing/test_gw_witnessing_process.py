"""``farmtrace gateway run`` as a process with witnesses: kill -9 keeps the cosigned checkpoint."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gateway_harness import GatewayProcess, Publisher, Signer, device_keys, new_data_dir
from mqtt_broker import Broker
from spec_witness import SpecWitness

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.witnessing import save_witness_policy


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def test_a_killed_gateway_comes_back_publishing_the_cosigned_checkpoint(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    witnesses = [SpecWitness("a.test/witness"), SpecWitness("b.test/witness")]
    for witness in witnesses:
        witness.trust_log(trust.log_key)
        witness.start()
    policy = WitnessPolicy(2, tuple(Witness(w.vkey, w.url) for w in witnesses))
    save_witness_policy(data_dir.witnesses, policy)
    gateway = GatewayProcess(
        data_dir, broker.url, ["--block-interval-ms", "50", "--witness-max-backoff", "0.3"]
    )
    device = Signer(device_keys(1)[0])
    publisher = Publisher(broker.port, "process-publisher")

    def served() -> tuple[int, int]:
        with urllib.request.urlopen(gateway.http_url + "/checkpoint", timeout=5) as response:
            text = response.read().decode()
        cosigners = verify_cosignatures(text, policy.verifier_keys)
        return open_checkpoint(text, trust.log_key).size, len(cosigners)

    def block() -> None:
        publisher.publish(device.id, [device.reading() for _ in range(3)])
        publisher.wait_receipt(device.id, lambda r, seq=device.seq: r.seq >= seq)

    try:
        gateway.start()
        publisher.watch(device.id)
        publisher.register(admin, [device.key])
        block()
        wait_for(lambda: served() == (3, 2), 3.0, "genesis, registration, readings cosigned")
        for witness in witnesses:
            witness.stop()
        block()  # checkpoint 4: no witness can cosign it
        assert served() == (3, 2)
        gateway.kill()
        gateway.start()  # the witnesses are still down
        assert served() == (3, 2)
        for witness in witnesses:
            witness.start()
        wait_for(lambda: served() == (4, 2), 3.0, "cosigned once the witnesses are back")
    finally:
        if gateway.proc is not None and gateway.proc.poll() is None:
            assert gateway.terminate() == 0
        publisher.close()
        for witness in witnesses:
            witness.stop()
