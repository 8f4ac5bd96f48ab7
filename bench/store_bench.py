"""Store append rate: blocks/s and entries/s through ``LogWriter.commit_block``.

Every block is one synced LevelDB write batch (the store's default, what the
gateway uses), on the repository's disk. Entries are signed and parsed before
the clock starts; what is timed is building the header (entries root, hash
link) and committing the block with its nodes and indexes.

Run alone: ``.venv/bin/python bench/store_bench.py [--quick]``.
"""

from __future__ import annotations

import shutil
import time

from _common import Figure, fresh_dir, main_for, percentile

from chain import note
from chain.entries import Entry, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store

_ORIGIN = "bench.example/store"
_START_MS = 1_767_225_600_000
_DEVICES = 8
# (entries per block, blocks in a full run, blocks in a quick run)
_SHAPES = ((1, 1000, 100), (100, 200, 10), (1000, 40, 3))


def _entries(count: int) -> list[Entry]:
    """``count`` signed readings (~300 bytes each), round robin over a few devices."""
    keys = [SignerKey.generate(f"bench-dev{d}", seed=bytes([d + 1]) * 32) for d in range(_DEVICES)]
    entries = []
    for i in range(count):
        key, seq = keys[i % _DEVICES], i // _DEVICES + 1
        ts, value = _START_MS + i * 1000, 21.0 + i % 50 / 10
        payload = reading_payload(key.id, seq, ts, "temperature", "barn:b1", value, "Cel")
        entries.append(parse_entry(sign_entry(payload, key.id, key.seed)))
    return entries


def _append_rate(block_size: int, blocks: int) -> tuple[float, float, float]:
    """(blocks/s, p50 and p99 commit latency in ms) for ``blocks`` blocks of ``block_size``."""
    entries = _entries(block_size * blocks)
    signer, _ = note.generate_key(_ORIGIN, seed=bytes(32))
    path = fresh_dir(f"store-bench-{block_size}")
    latencies = []
    with Store.open(path, origin=_ORIGIN) as store:
        writer = LogWriter(store, signer)
        started = time.perf_counter()
        for b in range(blocks):
            block = entries[b * block_size : (b + 1) * block_size]
            t0 = time.perf_counter()
            writer.commit_block(block, _START_MS + b)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        assert store.size == blocks and store.entry_count == blocks * block_size
    shutil.rmtree(path)
    latencies.sort()
    return blocks / elapsed, percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3


def run(*, quick: bool = False) -> list[Figure]:
    """Measure the append rate for each block shape; return the figures."""
    figures = []
    for block_size, full, short in _SHAPES:
        blocks = short if quick else full
        rate, p50, p99 = _append_rate(block_size, blocks)
        print(
            f"  {block_size:>5} entries/block x {blocks:>5} blocks: {rate:10,.1f} blocks/s "
            f"{rate * block_size:10,.0f} entries/s  commit p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
        name = f"append, {block_size} entries/block"
        latency = f"commit p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        figures.append(Figure(name, rate, "blocks/s", note=latency))
        figures.append(Figure(name, rate * block_size, "entries/s"))
    return figures


if __name__ == "__main__":
    main_for("store append rate (synced writes)", run)
