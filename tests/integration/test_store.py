"""The LevelDB store: atomic blocks, conflicts, proofs from stored nodes, concurrent readers."""

from __future__ import annotations

import threading
from pathlib import Path

import plyvel
import pytest
from farm_logs import START_MS, LogFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from merkle_reference import ref_consistency, ref_inclusion, ref_root

from chain import merkle
from chain.block import build_header
from chain.errors import ChainLinkError, DuplicateEntryError, EquivocationError, StorageError
from chain.store import Store

BLOCKS = 70


@pytest.fixture(scope="module")
def tall_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[bytes]]:
    """A log of 70 one-entry blocks, and its block headers (the log leaves)."""
    factory = LogFactory(tmp_path_factory.mktemp("tall") / "log")
    factory.register("sensor")
    while factory.store.size < BLOCKS:
        factory.commit([factory.reading("sensor")])
    headers = [factory.store.block_raw(h) for h in range(factory.store.size)]
    yield factory.store, headers
    factory.close()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_proofs_match_the_reference_tree(
    tall_log: tuple[Store, list[bytes]], data: st.DataObject
) -> None:
    store, headers = tall_log
    size = data.draw(st.integers(1, BLOCKS), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    size1 = data.draw(st.integers(1, size), label="size1")
    root = ref_root(headers[:size])
    assert store.root(size) == root
    proof = store.inclusion_proof(index, size)
    assert proof == ref_inclusion(headers[:size], index)
    merkle.verify_inclusion(index, size, merkle.leaf_hash(headers[index]), proof, root)
    consistency = store.consistency_proof(size1, size)
    assert consistency == ref_consistency(headers[:size], size1)
    merkle.verify_consistency(size1, size, consistency, ref_root(headers[:size1]), root)


def test_proofs_reject_sizes_outside_the_log(tall_log: tuple[Store, list[bytes]]) -> None:
    store, _ = tall_log
    for bad in [(0, 0), (BLOCKS, BLOCKS), (0, BLOCKS + 1), (-1, 5)]:
        with pytest.raises(ValueError):
            store.inclusion_proof(*bad)
    with pytest.raises(ValueError):
        store.consistency_proof(5, BLOCKS + 1)
    with pytest.raises(ValueError):
        store.consistency_proof(0, 5)


def test_entry_proof_verifies_against_the_block(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    entries = [log_factory.reading("dev") for _ in range(7)]
    log_factory.commit(entries)
    store = log_factory.store
    for entry_index in range(store.entry_count):
        height, path = store.entry_proof(entry_index)
        header = store.block(height)
        merkle.verify_inclusion(
            entry_index - header.first_index,
            header.count,
            merkle.leaf_hash(store.entry(entry_index)),
            path,
            bytes.fromhex(header.entries_root),
        )
    assert store.block_of_entry(store.entry_count - 1) == store.size - 1
    with pytest.raises(KeyError):
        store.entry_proof(store.entry_count)


def test_duplicate_and_equivocation_are_refused(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    first = log_factory.reading("dev", seq=1, value=20.0)
    log_factory.commit([first])
    size = log_factory.store.size
    with pytest.raises(DuplicateEntryError) as dup:
        log_factory.commit([first])
    assert dup.value.existing_index == log_factory.store.lookup("dev", 1)
    forged = log_factory.reading("dev", seq=1, value=99.0)
    with pytest.raises(EquivocationError):
        log_factory.commit([forged])
    second = log_factory.reading("dev", seq=2)
    with pytest.raises(DuplicateEntryError):
        log_factory.commit([second, second])
    assert log_factory.store.size == size  # nothing was written by the refused blocks


def test_a_block_that_does_not_follow_the_head_is_refused(log_factory: LogFactory) -> None:
    store = log_factory.store
    log_factory.register("dev")
    entry = log_factory.reading("dev")
    stale = build_header(
        log=store.origin, prev=store.block(0), entries=[entry.raw], closed_at=START_MS
    )
    with pytest.raises(ChainLinkError):
        store.append_block(stale, [entry])


def test_indexes_answer_lookups(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    log_factory.commit([log_factory.reading("dev", ts=START_MS + i * 1000) for i in range(5)])
    store = log_factory.store
    head = store.head()
    assert head is not None
    assert store.height_of(head.hash) == head.height
    with pytest.raises(KeyError):
        store.height_of("00" * 32)
    hits = list(store.subject_entries("barn:b1", START_MS + 1000, START_MS + 4000))
    assert [store.entry(i) for i in hits] == store.block_entries(head.height)[1:4]
    assert store.lookup("dev", 3) == head.first_index + 2
    assert store.lookup("dev", 6) is None
    assert len(store.registration_indexes()) == 2  # genesis admin and the device


def test_a_second_process_cannot_open_a_store_in_use(log_factory: LogFactory) -> None:
    with pytest.raises(StorageError, match="another process"):
        Store.open(log_factory.data_dir.log)


def test_opening_something_else_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"does not exist|not a farmtrace"):
        Store.open(tmp_path / "missing")
    db = plyvel.DB(str(tmp_path / "other"), create_if_missing=True)
    db.put(b"k", b"v")
    db.close()
    with pytest.raises(StorageError, match="not a farmtrace store"):
        Store.open(tmp_path / "other", origin="x.example/log")


def test_concurrent_readers_see_consistent_proofs(log_factory: LogFactory) -> None:
    log_factory.register("dev")
    store = log_factory.store
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                size = store.size
                root = store.root(size)
                for height in range(size):
                    proof = store.inclusion_proof(height, size)
                    leaf = merkle.leaf_hash(store.block_raw(height))
                    merkle.verify_inclusion(height, size, leaf, proof, root)
        except BaseException as exc:  # report any failure to the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for _ in range(40):
        log_factory.commit([log_factory.reading("dev")])
    done.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert store.size == 42
