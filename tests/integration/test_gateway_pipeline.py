"""The ingest pipeline on a real store, without a broker: recovery, blocks, receipts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from farm_logs import START_MS, LogFactory

from chain.audit import audit_store
from chain.entries import Entry, device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from gateway.admission import Verdict
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.receipts import ReceiptBook

NOW = START_MS + 10 * 24 * 3_600_000


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[LogFactory]:
    log = LogFactory(tmp_path / "log")
    log.register("d1")
    log.register("d2")
    yield log
    log.close()


def open_ingest(factory: LogFactory, **config: int) -> Ingest:
    return Ingest.open(
        factory.store,
        factory.trust,
        read_log_signer(factory.data_dir),
        IngestConfig(**config),
        now_ms=NOW,
    )


def raws(entries: list[Entry]) -> list[bytes]:
    return [e.raw for e in entries]


def test_flushed_pending_entries_survive_a_crash_and_commit_once(factory: LogFactory) -> None:
    ingest = open_ingest(factory)
    batch = raws([factory.reading("d1") for _ in range(5)])
    for raw in batch:
        assert ingest.offer(raw, "d1", NOW).verdict is Verdict.ACCEPTED
    assert ingest.flush() == 5
    assert ingest.unflushed_count == 0
    extra = factory.reading("d1").raw
    ingest.offer(extra, "d1", NOW)  # accepted but never flushed: never acknowledged either
    size_before = factory.store.size
    # "crash": drop the Ingest without closing a block; reopen from the store
    again = open_ingest(factory)
    assert again.pending_count == 5
    assert again.offer(batch[0], "d1", NOW).verdict is Verdict.DUPLICATE  # broker redelivery
    assert again.offer(extra, "d1", NOW).verdict is Verdict.ACCEPTED  # redelivered, unacked
    again.flush()
    blocks = list(again.close_blocks(NOW + 1))
    assert factory.store.size == size_before + 1 == blocks[-1].header.height + 1
    assert factory.store.pending() == []
    assert factory.store.block_entries(blocks[0].header.height) == [*batch, extra]
    assert again.receipt("d1").seq == 6
    report = audit_store(factory.store, factory.trust)
    assert report.ok, report.to_text()


def test_blocks_close_by_count_and_by_time(factory: LogFactory) -> None:
    ingest = open_ingest(factory, max_block_entries=4, block_interval_ms=1000)
    for _ in range(3):
        ingest.offer(factory.reading("d2").raw, "d2", NOW)
    assert not ingest.block_due(NOW)  # nothing is durable yet
    ingest.flush()
    assert not ingest.block_due(NOW + 999)
    assert ingest.block_due(NOW + 1000)
    assert ingest.ms_until_due(NOW + 400) == 600
    for _ in range(7):
        ingest.offer(factory.reading("d2").raw, "d2", NOW)
    ingest.flush()
    assert ingest.block_due(NOW)
    blocks = list(ingest.close_blocks(NOW))
    assert [b.header.count for b in blocks] == [4, 4, 2]
    assert all(b.signers == {"d2"} for b in blocks)
    latest = factory.store.latest_checkpoint()
    assert latest is not None and latest[0] == factory.store.size


def test_registration_and_readings_in_the_same_block(factory: LogFactory) -> None:
    ingest = open_ingest(factory)
    key = SignerKey.generate("d3")
    factory.admin_seq += 1
    reg = sign_entry(
        device_payload(
            "register",
            "d3",
            factory.admin_seq,
            NOW - 10,
            pubkey=key.public_key,
            kinds=["temperature"],
            subjects=["barn:b1"],
        ),
        "admin",
        factory.admin.seed,
    )
    reading = sign_entry(
        reading_payload("d3", 1, NOW, "temperature", "barn:b1", 20.0, "Cel"), "d3", key.seed
    )
    early = sign_entry(
        reading_payload("d3", 2, NOW - 20, "temperature", "barn:b1", 20.0, "Cel"), "d3", key.seed
    )
    assert ingest.offer(reading, "d3", NOW).reason == "unknown_signer"
    assert ingest.offer(reg, "admin", NOW).verdict is Verdict.ACCEPTED
    assert ingest.offer(reading, "d3", NOW).verdict is Verdict.ACCEPTED
    assert ingest.offer(early, "d3", NOW).reason == "unauthorized"  # before its registration
    ingest.flush()
    (block,) = ingest.close_blocks(NOW)
    assert block.header.count == 2
    assert parse_entry(factory.store.entry(block.header.first_index)).type == "device"
    assert ingest.counts["unknown_signer"] == 1 and ingest.counts["unauthorized"] == 1


def test_receipt_book_reads_the_store_then_follows_commits(factory: LogFactory) -> None:
    factory.commit([factory.reading("d1") for _ in range(4)])
    factory.commit([factory.reading("d1") for _ in range(3)])
    book = ReceiptBook(factory.store)
    receipt = book.receipt("d1")
    assert receipt.seq == 7
    index = factory.store.lookup("d1", 7)
    assert index is not None and receipt.block == factory.store.block_of_entry(index)
    book.committed("d1", [9, 10])
    assert book.receipt("d1").ranges == ((9, 10),)
    assert book.receipt("d2").seq == 0
