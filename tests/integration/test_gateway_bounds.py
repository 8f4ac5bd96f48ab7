"""Issue 16: what the ingest thread holds in memory is bounded by its settings, not by traffic."""

from __future__ import annotations

import logging

from farm_logs import START_MS, LogFactory

from gateway.admission import Decision, Verdict
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.reject_log import RejectLog

NOW = START_MS + 10 * 24 * 3_600_000
BLOCK = 500
BATCH = 128


def test_pending_entries_stay_under_a_block_plus_a_batch(d1_log: LogFactory) -> None:
    ingest = Ingest.open(
        d1_log.store,
        d1_log.trust,
        read_log_signer(d1_log.data_dir),
        IngestConfig(max_block_entries=BLOCK, block_interval_ms=60_000),
        now_ms=NOW,
    )
    readings = [d1_log.reading("d1").raw for _ in range(8 * BLOCK)]
    most = 0
    for start in range(0, len(readings), BATCH):  # as the MQTT loop does, batch by batch
        for raw in readings[start : start + BATCH]:
            assert ingest.offer(raw, "d1", NOW).verdict is Verdict.ACCEPTED
        ingest.flush()
        most = max(most, ingest.pending_count)
        if ingest.block_due(NOW):
            for _ in ingest.close_blocks(NOW):
                pass
    assert BLOCK <= most < BLOCK + BATCH
    assert ingest.store.entry_count >= 1 + 1 + 7 * BLOCK


def test_the_rejection_log_keeps_at_most_4096_devices() -> None:
    log = RejectLog(logging.getLogger("test.reject_log"))
    decision = Decision(Verdict.REJECTED, "unknown_signer", "nobody")
    for i in range(10_000):  # ids that come and go, e.g. from a misconfigured fleet
        log.log(f"dev{i:05d}", decision, now=float(i))
    assert len(log._last) <= 4097
