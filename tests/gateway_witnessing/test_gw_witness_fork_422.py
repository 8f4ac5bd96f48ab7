"""A real ``farmtrace witness serve`` and a real gateway: another root at the size it cosigned.

The operator rewrites a cosigned block (drops one reading, re-signs with the
log's own key) so that the tree keeps its size and changes its root. The
witness answers the gateway's ``old 3`` / size 3 request with the current
C2SP tlog-witness's 422 (v1.0.0 said 409), keeps the request as evidence and
keeps serving what it cosigned; the gateway reports a fork (``root_mismatch``)
and counts it.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from pathlib import Path

from gateway_harness import GatewayProcess, Publisher, Signer, device_keys, new_data_dir
from history_rewrite import rewrite_history
from mqtt_broker import Broker
from test_gw_witnessing_process import wait_for
from witness_harness import WitnessProcess, make_witness_dir

from chain.checkpoint import open_checkpoint, verify_cosignatures
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from gateway.witnessing import save_witness_policy

WITNESS = "coop.test/witness"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def refusals(gateway: GatewayProcess, reason: str) -> float:
    pattern = rf'^farmtrace_witness_refusals_total{{reason="{reason}",witness="{WITNESS}"}} (\S+)$'
    match = re.search(pattern, gateway.scrape(), re.M)
    return 0.0 if match is None else float(match[1])


def test_a_same_size_fork_gets_422_and_the_gateway_reports_a_fork(
    tmp_path: Path, broker: Broker
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    wdir = make_witness_dir(tmp_path / "w", WITNESS, [(trust.origin, trust.log_key)])
    monitoring = "/" + hashlib.sha256(trust.origin.encode()).hexdigest() + "/checkpoint"
    with WitnessProcess(wdir) as witness:
        policy = WitnessPolicy(1, (Witness(witness.vkey, witness.url),))
        save_witness_policy(data_dir.witnesses, policy)
        gateway = GatewayProcess(
            data_dir, broker.url, ["--block-interval-ms", "50", "--witness-max-backoff", "0.3"]
        )
        device = Signer(device_keys(1)[0])
        publisher = Publisher(broker.port, "fork-422-publisher")

        def served() -> tuple[int, int]:
            text = get(gateway.http_url + "/checkpoint")[1]
            cosigners = verify_cosignatures(text, policy.verifier_keys)
            return open_checkpoint(text, trust.log_key).size, len(cosigners)

        try:
            gateway.start()
            publisher.watch(device.id)
            publisher.register(admin, [device.key])
            erased = device.reading(41.5)  # the reading the operator will want gone
            publisher.publish(device.id, [device.reading(20.0), erased, device.reading(21.0)])
            publisher.wait_receipt(device.id, lambda r: r.seq >= device.seq)
            wait_for(lambda: served() == (3, 1), 10, "genesis, registration, readings cosigned")
            status, witnessed = get(witness.url + monitoring)
            assert status == 200
            witnessed_root = open_checkpoint(witnessed, trust.log_key).root_hash

            assert gateway.terminate() == 0
            assert rewrite_history(data_dir, 2, keep=lambda raw: raw != erased) == 1
            gateway.start()  # the same 3 blocks, another root at size 3

            wait_for(lambda: refusals(gateway, "root_mismatch") >= 1, 10, "the fork reported")
            assert refusals(gateway, "inconsistent") == 0
            assert gateway.log is not None
            log = gateway.log.read_text()
            assert f"witness {WITNESS} refused this log (root_mismatch)" in log
            assert "answered 422" in log and "a fork" in log
            assert served()[0] == 3  # nothing newer was published
        finally:
            if gateway.proc is not None and gateway.proc.poll() is None:
                assert gateway.terminate() == 0
            publisher.close()

        # The witness kept what it cosigned, and the request as evidence of the fork.
        assert get(witness.url + monitoring) == (200, witnessed)
        # (the "old 0" probe that got the 409 carried the forked checkpoint too)
        kept = sorted(p.read_text() for p in (wdir / "evidence").glob("*.txt"))
        assert [body.split("\n", 1)[0] for body in kept] == ["old 0", "old 3"]
        for body in kept:
            forked = open_checkpoint(body.split("\n\n", 1)[1], trust.log_key)
            assert (forked.size, forked.root_hash != witnessed_root) == (3, True)
        assert "possible log misbehaviour" in witness.output()
