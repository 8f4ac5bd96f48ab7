"""Proof time at 10^6 blocks: inclusion and consistency proofs from a big store.

Builds (once, then cached under ``bench/.cache/``) a store of 10^6 blocks of
one small signed reading each, through ``LogWriter.commit_block`` with
``Store.open(..., sync=False)``: a million fsyncs would take hours and prove
nothing about proofs. Then times ``Store.inclusion_proof`` and
``Store.consistency_proof`` for random leaves and tree sizes (each call opens
a snapshot and reads O(log n) nodes), and verifies a sample of the proofs
against roots the store computes.

Goal (issue): p99 < 1 ms for both at 10^6 blocks.

Also times ``Store.block_of_entry`` on the same store, freshly opened (its
first call, then random lookups), against what its first call did before
(every block header parsed).

Run alone: ``.venv/bin/python bench/proof_bench.py [--quick]``.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from _common import CACHE, Figure, fresh_dir, main_for, percentile

from chain import merkle, note
from chain.entries import parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store

_ORIGIN = "bench.example/proofs"
_START_MS = 1_767_225_600_000
_CHUNK = 10_000
_GOAL_MS = 1.0
_VERIFY_EVERY = 50


def _build(path: Path, blocks: int) -> float:
    """Fill a new store at ``path`` with ``blocks`` one-entry blocks; return the seconds taken."""
    signer, _ = note.generate_key(_ORIGIN, seed=bytes(32))
    device = SignerKey.generate("bench-dev", seed=bytes([7]) * 32)
    started = time.perf_counter()
    with Store.open(path, origin=_ORIGIN, sync=False) as store:
        writer = LogWriter(store, signer)
        for first in range(0, blocks, _CHUNK):
            for i in range(first, min(first + _CHUNK, blocks)):
                ts = _START_MS + i * 60_000
                reading = reading_payload(device.id, i + 1, ts, "humidity", "barn:b1", 60.5, "%RH")
                writer.commit_block([parse_entry(sign_entry(reading, device.id, device.seed))], ts)
            elapsed = time.perf_counter() - started
            print(f"    {store.size:>9,} blocks, {elapsed:6.0f} s", flush=True)
        writer.sign_checkpoint()
    return time.perf_counter() - started


def _store(blocks: int) -> tuple[Path, str]:
    """The cached store of ``blocks`` blocks (built if missing); (path, how it was obtained)."""
    marker = CACHE / f"proofs-{blocks}.json"
    path = CACHE / f"proofs-{blocks}"
    if marker.exists() and path.exists():
        built = json.loads(marker.read_text())
        return path, f"cached, built in {built['seconds']:.0f} s on {built['date']}"
    marker.unlink(missing_ok=True)
    print(f"  building a {blocks:,}-block store in {path} (once; cached afterwards)")
    seconds = _build(fresh_dir(path.name), blocks)
    date = time.strftime("%Y-%m-%d", time.gmtime())
    marker.write_text(json.dumps({"blocks": blocks, "seconds": seconds, "date": date}))
    return path, f"built now in {seconds:.0f} s"


def _time_proofs(store: Store, samples: int, rng: random.Random) -> dict[str, list[float]]:
    """Latencies (ms) of ``samples`` inclusion and consistency proofs; verifies some."""
    size = store.size
    inclusion, consistency = [], []
    for i in range(samples):
        tree = rng.randint(1, size)
        leaf = rng.randrange(tree)
        t0 = time.perf_counter()
        proof = store.inclusion_proof(leaf, tree)
        inclusion.append((time.perf_counter() - t0) * 1e3)
        if i % _VERIFY_EVERY == 0:
            leaf_hash = merkle.leaf_hash(store.block_raw(leaf))
            merkle.verify_inclusion(leaf, tree, leaf_hash, proof, store.root(tree))
    for i in range(samples):
        second = rng.randint(1, size)
        first = rng.randint(1, second)
        t0 = time.perf_counter()
        proof = store.consistency_proof(first, second)
        consistency.append((time.perf_counter() - t0) * 1e3)
        if i % _VERIFY_EVERY == 0:
            merkle.verify_consistency(first, second, proof, store.root(first), store.root(second))
    return {"inclusion": sorted(inclusion), "consistency": sorted(consistency)}


def _time_block_lookups(path: Path, samples: int, rng: random.Random) -> list[Figure]:
    """``Store.block_of_entry`` on a freshly opened store: its first call, then random lookups.

    Raw limit, in the same run: what its first call did before (every block
    header parsed into a list, then a bisection in memory), on a fresh open too.
    """
    with Store.open(path) as store:
        t0 = time.perf_counter()
        firsts = [store.block(height).first_index for height in range(store.size)]
        scan = time.perf_counter() - t0
    with Store.open(path) as store:
        count = store.entry_count
        t0 = time.perf_counter()
        store.block_of_entry(count // 2)
        first = time.perf_counter() - t0
        lookups = []
        for _ in range(samples):
            index = rng.randrange(count)
            t0 = time.perf_counter()
            height = store.block_of_entry(index)
            lookups.append((time.perf_counter() - t0) * 1e3)
            assert firsts[height] <= index and (
                height + 1 == len(firsts) or index < firsts[height + 1]
            )
    lookups.sort()
    p50, p99 = percentile(lookups, 50), percentile(lookups, 99)
    print(
        f"  block_of_entry: first call {first * 1e3:.2f} ms (raw, the old full header scan: "
        f"{scan:.1f} s); {samples:,} random lookups p50 {p50:.3f} ms, p99 {p99:.3f} ms"
    )
    at = f"{len(firsts):,} blocks"
    return [
        Figure(f"block_of_entry old first call at {at}", scan * 1e3, "ms", note="raw: full scan"),
        Figure(f"block_of_entry first call at {at}", first * 1e3, "ms"),
        Figure(f"block_of_entry lookup p99 at {at}", p99, "ms"),
    ]


def run(*, quick: bool = False) -> list[Figure]:
    """Time proofs at 10^6 blocks (10^4 with ``quick``); return the figures."""
    blocks, samples = (10_000, 1_000) if quick else (1_000_000, 10_000)
    path, how = _store(blocks)
    print(f"  store: {blocks:,} blocks ({how})")
    with Store.open(path) as store:
        assert store.size == blocks, f"cached store has {store.size} blocks, expected {blocks}"
        latencies = _time_proofs(store, samples, random.Random(2026))
    figures = []
    for kind, ordered in latencies.items():
        p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
        verified = (samples + _VERIFY_EVERY - 1) // _VERIFY_EVERY
        print(
            f"  {kind:<11} proofs: {samples:,} samples, p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
            f"max {ordered[-1]:.3f} ms; {verified} verified"
        )
        at = f"{blocks:,} blocks"
        figures.append(Figure(f"{kind} proof p50 at {at}", p50, "ms"))
        if quick:  # the goal is for 10^6 blocks
            figures.append(Figure(f"{kind} proof p99 at {at}", p99, "ms", note="smoke run"))
        else:
            goal = f"< {_GOAL_MS:g} ms"
            figures.append(Figure(f"{kind} proof p99 at {at}", p99, "ms", goal, p99 < _GOAL_MS))
    figures += _time_block_lookups(path, samples, random.Random(2027))
    return figures


if __name__ == "__main__":
    main_for("proof time", run)
