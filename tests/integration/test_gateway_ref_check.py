"""A plant's gateway checks cross-log references before it accepts an event (``--pins``).

Real processes: one Mosquitto, a farm's gateway and a plant's gateway
(``farmtrace gateway run`` subprocesses, the plant's with ``--pins`` naming
the farm's log), the plant operator's ``farmtrace event --ref-to`` run in
this process. The check is the gateway's ingest's, whatever path an entry
came by; here the plant's entries come over MQTT.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import ORIGIN, GatewayProcess, Publisher, Signer, metric, new_data_dir, now_ms
from mqtt_broker import Broker
from test_gateway_ingest import audit_ok
from test_gateway_lifecycle import Operator, register

from chain.entries import parse_entry
from chain.errors import SourceError
from chain.keyfile import SignerKey, save_key
from chain.wire import entry_topic, receipt_topic
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from readapi.client import ReadApiClient
from signer.identity import SEQ_FILE

PLANT_ORIGIN = "plant.test/log"
PLANT_SITE = "plantsite"  # the plant gateway's MQTT topic level (the farm's is the harness's)
REJECTED = "farmtrace_entries_rejected_total"


def publish(pub: Publisher, signer: Signer, raws: list[bytes]) -> None:
    """Publish ``raws`` as ``signer`` to the plant's gateway (not the harness's farm topic)."""
    for raw in raws:
        pub.client.publish(entry_topic(PLANT_SITE, signer.id), raw, qos=1).wait_for_publish(10)


def wait_rejected(gateway: GatewayProcess, reason: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while metric(gateway.scrape(), REJECTED, reason) < 1:
        assert time.monotonic() < deadline, f"no {reason} rejection:\n{gateway.scrape()}"
        time.sleep(0.05)


def submit(base_url: str, raw: bytes) -> tuple[int, dict[str, str]]:
    """POST ``raw`` to the gateway's ``/api/v1/submit``; its status and JSON answer."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/submit", raw, {"Content-Type": "application/jose"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.load(refused)


def forged(ref: dict[str, object], subject: str, **changes: object) -> dict[str, object]:
    return {**ref, "subject": subject, **changes}


@pytest.fixture
def plant_dir(tmp_path: Path) -> tuple[DataDir, Signer]:
    data_dir = DataDir(tmp_path / "plant")
    admin = SignerKey.generate("admin")
    init_data_dir(data_dir, PLANT_ORIGIN, [admin], now_ms() - 7_200_000)
    return data_dir, Signer(admin, seq=1)


def test_a_plant_gateway_accepts_checked_references_keeps_their_notes_and_refuses_bad_ones(
    tmp_path: Path,
    broker: Broker,
    plant_dir: tuple[DataDir, Signer],
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    farm_data, farm_admin = new_data_dir(tmp_path / "farm")
    plant_data, plant_admin = plant_dir
    farmer, plant2 = Operator(SignerKey.generate("farmer")), Operator(SignerKey.generate("plant2"))
    plant_key = SignerKey.generate("plant")
    save_key(plant_key, tmp_path / "plant.key")
    farm = GatewayProcess(farm_data, broker.url, ["--block-interval-ms", "50"])
    pins = tmp_path / "pins" / "pins.json"
    pins.parent.mkdir()
    farm.start()
    pub = Publisher(broker.port, "test-operators")
    plant: GatewayProcess | None = None
    try:
        # The farm's log: its farmer hatches and places bird:0001 and bird:0002.
        pub.watch(farm_admin.id)
        pub.publish(farm_admin.id, [register(farm_admin, farmer.key, ["hatchery", "farm"])])
        pub.wait_receipt(farm_admin.id, lambda r: r.seq == farm_admin.seq)
        pub.watch(farmer.id)
        birds = ["bird:0001", "bird:0002"]
        pub.publish(
            farmer.id,
            [
                farmer.event("hatched", birds, breed="Ross 308"),
                farmer.event("placed", birds, barn="b1"),
            ],
        )
        pub.wait_receipt(farmer.id, lambda r: r.covers(farmer.seq))
        farm_api = ReadApiClient(farm.http_url)
        pins.write_text(
            json.dumps(
                {
                    "logs": [
                        {
                            "origin": ORIGIN,
                            "name": "Green Valley Farm",
                            "role": "farm",
                            "trust": str(farm_data.trust),  # no witnesses file: quorum 0
                            "sources": [farm.http_url],
                        }
                    ]
                }
            )
        )
        # The plant's log, following the farm's: its gateway runs with --pins.
        options = ["--farm", PLANT_SITE, "--http-submit", "--block-interval-ms", "50"]
        plant = GatewayProcess(plant_data, broker.url, [*options, "--pins", str(pins)])
        plant.start()
        pub.client.subscribe(receipt_topic(PLANT_SITE, plant_admin.id), 1)
        publish(pub, plant_admin, [register(plant_admin, plant_key, ["plant"])])
        publish(pub, plant_admin, [register(plant_admin, plant2.key, ["plant"])])
        pub.wait_receipt(plant_admin.id, lambda r: r.seq == plant_admin.seq)

        # The plant operator names the farm's placement of bird:0001 with --ref-to.
        code, out, err = run_cli(
            "event", "slaughtered", "--bird", "0001", "--plant", "Riverside",
            "--output", "carcass:0001", "--ref-to", f"{ORIGIN}=bird:0001", "--pins", pins,
            "--key", tmp_path / "plant.key", "--state-dir", tmp_path / "st" / "plant",
            "--mqtt", broker.url, "--farm", PLANT_SITE, "--check-url", plant.http_url,
            "--timeout", 10,
        )  # fmt: skip
        assert code == 0 and "committed" in out, err
        placed_index = farm_api.subject_events("bird:0001")[-1][0]
        assert f"references Green Valley Farm ({ORIGIN}) entry {placed_index}: its placed" in out
        plant_api = ReadApiClient(plant.http_url)
        ((_, slaughter),) = plant_api.subject_events("carcass:0001")
        (ref,) = parse_entry(slaughter).payload["refs"]
        assert (ref["log"], ref["index"], ref["subject"]) == (ORIGIN, placed_index, "bird:0001")
        # The plant keeps and serves the farm's checkpoint the reference names.
        farm_note = farm_api.entry_proof(placed_index, ref["size"]).checkpoint
        assert plant_api.ref_checkpoint(ORIGIN, ref["size"]) == farm_note
        with pytest.raises(SourceError) as missing:
            plant_api.ref_checkpoint(ORIGIN, ref["size"] + 1)
        assert missing.value.status == 404
        with pytest.raises(SourceError) as other_log:
            plant_api.ref_checkpoint("elsewhere.test/log", ref["size"])
        assert other_log.value.status == 404

        # Nothing to name: refused before anything is signed.
        slaughter = [
            "event", "slaughtered", "--bird", "0009", "--plant", "Riverside",
            "--output", "carcass:0009", "--ref-to", f"{ORIGIN}=bird:0009", "--pins", pins,
            "--key", tmp_path / "plant.key", "--state-dir", tmp_path / "st" / "plant",
            "--mqtt", broker.url, "--farm", PLANT_SITE, "--check-url", plant.http_url,
        ]  # fmt: skip
        code, _, err = run_cli(*slaughter)
        assert code == 1 and f"{ORIGIN} has no entry about bird:0009 that a slaughtered" in err

        # Hand-made references, each refused with its reason (and counted).
        refs = {
            "ref_entry_mismatch": forged(ref, "bird:0002", hash="ab" * 32),  # never placed so
            "ref_rolled_back": forged(ref, "bird:0002", size=ref["size"] + 5),  # beyond the farm
            "ref_unknown_log": forged(ref, "bird:0002", log="elsewhere.test/log"),
        }
        for reason, bad in refs.items():
            event = plant2.event(
                "slaughtered", ["bird:0002"], plant="Riverside", outputs=["carcass:0002"],
                refs=[bad],
            )  # fmt: skip
            publish(pub, plant2, [event])
            wait_rejected(plant, reason)
        # The same check on the HTTP path: a clear error to the submitter.
        event = plant2.event(
            "slaughtered", ["bird:0002"], plant="Riverside", outputs=["carcass:0002"],
            refs=[forged(ref, "bird:0002", hash="cd" * 32)],
        )  # fmt: skip
        status, answer = submit(plant.http_url, event)
        assert (status, answer["reason"]) == (422, "ref_entry_mismatch"), answer
        assert "the log shows another entry" in answer["error"]
        farm.terminate()  # the farm's log is down: the reference cannot be checked now
        event = plant2.event(
            "slaughtered", ["bird:0002"], plant="Riverside", outputs=["carcass:0002"],
            refs=[forged(ref, "bird:0002")],
        )  # fmt: skip
        publish(pub, plant2, [event])
        wait_rejected(plant, "ref_unavailable")
        code, _, err = run_cli(*slaughter)
        assert code == 2 and "no source answered" in err, err
        seqs = json.loads((tmp_path / "st" / "plant" / SEQ_FILE).read_text())
        assert seqs["reserved"] == 1  # the two refused --ref-to events used no seq
        scraped = plant.scrape()
        reasons = [*refs, "ref_unavailable"]
        assert [metric(scraped, REJECTED, r) for r in reasons] == [2, 1, 1, 1]
        assert plant.terminate() == 0
    finally:
        pub.close()
        for gateway in (farm, plant):
            if gateway is not None and gateway.proc is not None and gateway.proc.poll() is None:
                gateway.kill()
    assert plant.log is not None
    logged = plant.log.read_text()
    assert f"rejected from plant2: ref_entry_mismatch: reference to {ORIGIN} entry" in logged
    assert "the log shows another entry" in logged
    assert "rejected from plant2: ref_unavailable" in logged
    # Each refused event is kept whole in the dead-letter file, to be sent again.
    lines = [json.loads(line) for line in plant_data.dead_letter.read_text().splitlines()]
    assert [line["error"].split(":")[0] for line in lines] == reasons
    kept = [parse_entry(base64.b64decode(line["payload_b64"])) for line in lines]
    assert [e.seq for e in kept] == [1, 2, 3, 5] and {e.kid for e in kept} == {"plant2"}  # 4: HTTP
    audit_ok(plant_data)  # the kept notes are no records of the plant's own log
