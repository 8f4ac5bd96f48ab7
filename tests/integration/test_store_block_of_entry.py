"""``Store.block_of_entry`` on a real store: right for every entry, and O(log n) header reads.

It once parsed every block header of the store on its first call (about 40 s
at 10^6 blocks); the read-count test fails if it scans again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.block import BlockHeader, build_header
from chain.entries import Entry, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store

ORIGIN = "blocks.example/log"
BLOCKS = 1000
T0 = 1_767_225_600_000
_KEY = SignerKey.generate("dev", seed=bytes(32))


def _entries(first_seq: int, count: int) -> list[Entry]:
    return [
        parse_entry(
            sign_entry(
                reading_payload("dev", seq, T0 + seq, "temperature", "barn:b1", 21.5, "Cel"),
                "dev",
                _KEY.seed,
            )
        )
        for seq in range(first_seq, first_seq + count)
    ]


def _append(store: Store, counts: list[int]) -> None:
    """Append one block of ``count`` new entries for each of ``counts``."""
    prev = store.head()
    seq = store.entry_count + 1
    for count in counts:
        entries = _entries(seq, count)
        header = build_header(log=ORIGIN, prev=prev, entries=[e.raw for e in entries], closed_at=T0)
        store.append_block(header, entries)
        prev, seq = header, seq + count


@pytest.fixture(scope="module")
def tall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 1,000 blocks of 1 to 3 entries each (closed)."""
    path = tmp_path_factory.mktemp("tall") / "log"
    counts = [1 + random.Random(height).randrange(3) for height in range(BLOCKS)]
    with Store.open(path, origin=ORIGIN, sync=False) as store:
        _append(store, counts)
    return path


@pytest.fixture
def counted(tall: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, list[int]]]:
    """A freshly opened store of :func:`tall`, and the heights of the headers it reads."""
    reads: list[int] = []
    with Store.open(tall) as store:
        read = store.block

        def block(height: int) -> BlockHeader:
            reads.append(height)
            return read(height)

        monkeypatch.setattr(store, "block", block)
        yield store, reads


def test_the_first_call_reads_log_n_headers_not_all(counted: tuple[Store, list[int]]) -> None:
    store, reads = counted
    bound = math.ceil(math.log2(BLOCKS)) + 2
    assert store.block_of_entry(store.entry_count // 2) > 0
    assert 0 < len(reads) <= bound, len(reads)
    reads.clear()
    for index in random.Random(7).sample(range(store.entry_count), 50):
        store.block_of_entry(index)
    assert len(reads) <= 50 * bound
    reads.clear()
    store.block_of_entry(store.entry_count - 1)
    store.block_of_entry(store.entry_count - 1)
    assert len(reads) <= bound


def test_every_entry_is_found_in_its_block_and_new_blocks_too(tall: Path) -> None:
    with Store.open(tall) as store:
        truth = [h for h in range(store.size) for _ in range(store.block(h).count)]
        assert len(truth) == store.entry_count
        order = list(range(store.entry_count))
        random.Random(3).shuffle(order)
        assert [store.block_of_entry(i) for i in order] == [truth[i] for i in order]
        assert [store.block_of_entry(i) for i in range(len(truth))] == truth
        _append(store, [2, 1])  # after the bisection's headers were remembered
        assert [store.block_of_entry(i) for i in range(len(truth), store.entry_count)] == [
            BLOCKS,
            BLOCKS,
            BLOCKS + 1,
        ]
        for bad in (-1, store.entry_count):
            with pytest.raises(KeyError):
                store.block_of_entry(bad)
