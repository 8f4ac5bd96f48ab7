"""Audit rate against the machine's own Ed25519 verify rate.

1. Raw verify rate: ``nacl.bindings.crypto_sign_open`` on pre-built signed
   messages (real ~300-byte reading entries), one core, nothing else running.
2. Audit rate: ``audit_store(store, trust)`` with its default of one process
   per core, over a demo farm's log of 201,621 entries (cached under
   ``bench/.cache/``), in entries per second of wall-clock time.
3. The ratio ``audit_rate / (os.cpu_count() * raw_rate)``: how close the
   audit, which also parses, authorises and cross-checks every record, comes
   to doing nothing but verify signatures on every core.

A shared (virtual) machine's speed drifts, so raw and audit runs alternate
(raw, audit, raw, audit, raw, audit, raw); each audit is compared with the
mean of the raw runs around it, and the median of the three is reported.

Goal (issue): ratio >= 0.7.

Run alone: ``.venv/bin/python bench/audit_bench.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import nacl.bindings
from _common import CACHE, Figure, fresh_dir, main_for

from chain.audit import audit_store
from chain.entries import parse_entry
from chain.store import Store
from chain.trust import TrustRoot
from demo.offline import DemoFarm, build_demo_log
from gateway.datadir import DataDir

_GOAL = 0.7
_FULL_FARM = DemoFarm(barns=10, days=70, block_size=500)  # 20 sensors: 201,621 entries
_QUICK_FARM = DemoFarm(barns=4, days=6, block_size=500)  # 6,913: still on every core
_RAW_MESSAGES = 2000


def _demo_log(farm: DemoFarm) -> tuple[DataDir, str]:
    """The cached demo log for ``farm`` (built if missing); (data dir, how it was obtained)."""
    name = f"audit-demo-{farm.barns}x{farm.days}d-{farm.block_size}"
    marker = CACHE / f"{name}.json"
    if marker.exists() and (CACHE / name).exists():
        built = json.loads(marker.read_text())
        return DataDir(CACHE / name), f"cached, built in {built['seconds']:.0f} s"
    marker.unlink(missing_ok=True)
    print(f"  building the demo log {CACHE / name} (once; cached afterwards)", flush=True)
    data_dir = DataDir(fresh_dir(name))
    started = time.perf_counter()
    build_demo_log(data_dir, farm)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"seconds": seconds}))
    return data_dir, f"built now in {seconds:.0f} s"


def _signed_messages(data_dir: DataDir, trust: TrustRoot) -> list[tuple[bytes, bytes]]:
    """(signature + signing input, public key) of the log's first reading entries."""
    keys = dict(trust.admins)
    messages: list[tuple[bytes, bytes]] = []
    with Store.open(data_dir.log) as store:
        index = 0
        while len(messages) < _RAW_MESSAGES and index < store.entry_count:
            entry = parse_entry(store.entry(index))
            index += 1
            if entry.type == "device":
                keys[str(entry.payload["dev"])] = entry.public_key or b""
            elif entry.type == "reading":
                messages.append((entry.signature + entry.signing_input, keys[entry.kid]))
    return messages


def _raw_rate(messages: list[tuple[bytes, bytes]], seconds: float) -> float:
    """Verifications per second on this core, over at least ``seconds``."""
    open_ = nacl.bindings.crypto_sign_open
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for signed, key in messages:
            open_(signed, key)
        done += len(messages)
    return done / elapsed


def _audit_rate(data_dir: DataDir, trust: TrustRoot, jobs: int | None) -> tuple[float, int]:
    """(entries/s of wall-clock time, entries) of one whole audit; it must pass."""
    with Store.open(data_dir.log) as store:
        started = time.perf_counter()
        report = audit_store(store, trust, jobs=jobs)
        elapsed = time.perf_counter() - started
    assert report.ok, report.to_text()
    return report.entries / elapsed, report.entries


def run(*, quick: bool = False) -> list[Figure]:
    """Measure raw verify and audit rates, alternating; return the figures."""
    farm = _QUICK_FARM if quick else _FULL_FARM
    rounds, raw_seconds = (1, 0.5) if quick else (3, 2.0)
    cores = os.cpu_count() or 1
    data_dir, how = _demo_log(farm)
    trust = TrustRoot.from_json(data_dir.trust.read_text())
    messages = _signed_messages(data_dir, trust)
    signed = statistics.mean(len(m) for m, _ in messages)
    print(f"  demo log: {data_dir.root} ({how})")
    print(
        f"  raw verify: {len(messages)} of its readings, {signed:.0f} bytes each with the "
        f"signature (~{signed - 64 + 86 + 1:.0f}-byte JWS entries)"
    )
    raws = [_raw_rate(messages, raw_seconds)]
    audits, ratios = [], []
    for _ in range(rounds):
        rate, entries = _audit_rate(data_dir, trust, None)
        raws.append(_raw_rate(messages, raw_seconds))
        ratio = rate / (cores * statistics.mean(raws[-2:]))
        audits.append(rate)
        ratios.append(ratio)
        print(
            f"  raw {raws[-2]:,.0f}/s, audit of {entries:,} entries on {cores} cores "
            f"{rate:,.0f}/s, raw {raws[-1]:,.0f}/s: ratio {ratio:.3f}"
        )
    single, _ = _audit_rate(data_dir, trust, 1)
    raw = statistics.median(raws)
    print(f"  audit in one process: {single:,.0f}/s = {single / raw:.3f} x the raw verify rate")
    ratio = statistics.median(ratios)
    if quick:  # a few thousand entries: starting the workers dominates
        verdict = Figure(f"audit / ({cores} x raw verify)", ratio, "ratio", note="smoke run")
    else:
        spread = f"median of {len(ratios)}: {min(ratios):.3f}..{max(ratios):.3f}"
        goal = f">= {_GOAL}"
        verdict = Figure(
            f"audit / ({cores} x raw verify)", ratio, "ratio", goal, ratio >= _GOAL, spread
        )
    return [
        Figure("raw Ed25519 verify, one core", raw, "verifies/s", note=f"median of {len(raws)}"),
        Figure(f"audit on {cores} cores", statistics.median(audits), "entries/s"),
        Figure("audit in one process", single, "entries/s", note=f"{single / raw:.3f} x raw"),
        verdict,
    ]


if __name__ == "__main__":
    main_for("audit rate vs. raw Ed25519 verify rate", run)
