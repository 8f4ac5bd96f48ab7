"""A receipt book that holds receipts covers only the blocks a mirror released (real store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_harness import Signer, device_keys, new_data_dir, now_ms

from chain.store import Store
from chain.trust import TrustRoot
from chain.wire import entry_digest
from gateway.datadir import DataDir
from gateway.ingest import Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.receipts import ReceiptBook


def _open(data_dir: DataDir, store: Store) -> Ingest:
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    config = IngestConfig(block_interval_ms=0, hold_receipts=True)
    return Ingest.open(store, trust, read_log_signer(data_dir), config, now_ms())


def _commit(ingest: Ingest, raws: list[bytes], publisher: str | None = None) -> int:
    for raw in raws:
        decision = ingest.offer(raw, publisher, now_ms())
        assert decision.verdict.name == "ACCEPTED", decision
    ingest.flush()
    list(ingest.close_blocks(now_ms()))
    return ingest.store.size


def test_receipts_wait_for_the_mirror_and_a_restart_does_not_forget_it(tmp_path: Path) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    device = Signer(device_keys(1)[0])
    with Store.open(data_dir.log) as store:
        ingest = _open(data_dir, store)
        book = ingest.receipts
        registered = _commit(ingest, [admin.register(device.key)])
        first = [device.reading() for _ in range(3)]
        _commit(ingest, first, device.id)
        second = [device.reading() for _ in range(2)]
        size = _commit(ingest, second, device.id)
        assert book.receipt(device.id).seq == 0 and book.receipt(device.id).hashes == ()
        assert book.held_entries == store.entry_count  # the genesis block too

        assert book.release(registered + 1) == {admin.id, device.id}  # up to the first readings
        receipt = book.receipt(device.id)
        assert receipt.seq == 3 and not receipt.covers(4)
        assert receipt.hashes == tuple(enumerate(map(entry_digest, first), start=1))
        assert book.held_entries == 2

        # A resend of a committed entry that no mirror has yet: neither covered nor named.
        assert ingest.offer(second[0], device.id, now_ms()).verdict.name == "DUPLICATE"
        receipt = book.receipt(device.id)
        assert receipt.seq == 3 and all(seq <= 3 for seq, _ in receipt.hashes)
        # A status's low at a held seq does not ask for a receipt either.
        book.note_low(device.id, 4)
        assert not book.holds_committed(device.id)

    with Store.open(data_dir.log) as store:  # a restart: nothing released until a mirror says
        book = _open(data_dir, store).receipts
        assert book.released_size == 0 and book.receipt(device.id).seq == 0
        assert book.release(size) == {admin.id, device.id}
        assert book.receipt(device.id).seq == 5 and book.held_entries == 0
        assert book.release(size) == set()  # nothing new
        with pytest.raises(ValueError):
            book.release(size + 1)


def test_a_long_wait_releases_without_reading_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, admin = new_data_dir(tmp_path / "gw")
    device, other = (Signer(k) for k in device_keys(2))
    with Store.open(data_dir.log) as store:
        ingest = _open(data_dir, store)
        book = ingest.receipts
        _commit(ingest, [admin.register(device.key), admin.register(other.key)])
        assert book.receipt(device.id).seq == 0  # loaded while nothing is released
        for _ in range(3):
            _commit(ingest, [device.reading()], device.id)
        _commit(ingest, [other.reading()], other.id)
        monkeypatch.setattr("gateway.receipts.MAX_RELEASE_SCAN", 1)
        assert book.release(store.size) == {other.id}  # only the last block was read
        assert book.receipt(device.id).seq == 3  # reloaded from the store, all released
        assert book.receipt(other.id).seq == 1


def test_a_book_that_holds_nothing_refuses_a_release(tmp_path: Path) -> None:
    data_dir, _ = new_data_dir(tmp_path / "gw")
    with Store.open(data_dir.log) as store:
        book = ReceiptBook(store)
        assert book.released_size is None and book.held_entries == 0
        with pytest.raises(ValueError):
            book.release(1)
