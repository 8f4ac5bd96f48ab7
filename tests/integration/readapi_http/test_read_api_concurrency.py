"""The read API serves proofs while the gateway appends: every answer verifies."""

from __future__ import annotations

import base64
import json
import random
import threading
from pathlib import Path

from farm_logs import LogFactory

from chain import merkle
from chain.checkpoint import open_checkpoint
from chain.proof_bundle import EntryProof, verify_entry_proof
from readapi import LogInfo, create_app

BLOCKS = 120


def test_proofs_served_during_appends_all_verify(tmp_path: Path) -> None:
    factory = LogFactory(tmp_path / "log")
    factory.register("d1")
    vkey = factory.trust.log_key
    app = create_app(LogInfo(factory.store.origin, vkey, (), factory.store))
    done = threading.Event()
    failures: list[BaseException] = []
    sizes_seen: list[int] = []

    def append() -> None:
        try:
            for n in range(BLOCKS):
                factory.commit([factory.reading("d1") for _ in range(1 + n % 4)])
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def serve() -> None:
        client = app.test_client()
        rng = random.Random(7)
        previous: tuple[int, bytes] | None = None
        try:
            while not done.is_set() or len(sizes_seen) < 5:
                response = client.get("/api/v1/entries/0/proof")
                assert response.status_code == 200, response.get_data(as_text=True)
                checkpoint = verify_entry_proof(EntryProof.from_json(response.get_data()), vkey)
                size = checkpoint.size
                # The newest entry this checkpoint covers, and a random one before it.
                block = json.loads(client.get(f"/api/v1/blocks/{size - 1}").get_data())
                last = block["header"]["first_index"] + block["header"]["count"] - 1
                for index in (last, rng.randrange(last + 1)):
                    answer = client.get(f"/api/v1/entries/{index}/proof?tree_size={size}")
                    assert answer.status_code == 200, answer.get_data(as_text=True)
                    proof = EntryProof.from_json(answer.get_data())
                    assert verify_entry_proof(proof, vkey).size == size
                if previous is not None:
                    old_size, old_root = previous
                    assert old_size <= size
                    answer = client.get(f"/api/v1/consistency?first={old_size}&second={size}")
                    hashes = [base64.b64decode(h) for h in answer.get_json()["hashes"]]
                    merkle.verify_consistency(
                        old_size, size, hashes, old_root, checkpoint.root_hash
                    )
                previous = (size, checkpoint.root_hash)
                sizes_seen.append(size)
        except BaseException as exc:
            failures.append(exc)
            done.set()

    threads = [threading.Thread(target=append), threading.Thread(target=serve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not any(t.is_alive() for t in threads)
        assert not failures, failures
        final = open_checkpoint(factory.store.latest_checkpoint()[1], vkey)  # type: ignore[index]
        assert final.size == BLOCKS + 2
        # The reader really ran while the log grew, not only before or after.
        growing = sorted(set(sizes_seen))
        assert len(growing) >= 5, growing
        assert growing[0] < BLOCKS // 2
    finally:
        factory.close()
