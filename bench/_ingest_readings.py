"""Pre-signed readings for the ingest benchmark, signed once and cached in ``bench/.cache/``.

A :class:`Fleet` is an administrator, ``devices`` device keys, one signed
``device`` registration per device (by the administrator) and ``per_device``
signed readings per device (seq 1..per_device). Signing a million entries
takes about a minute on two cores, so the fleet is pickled under a name made
of its parameters and reused by later runs.

Every timestamp is fixed when the fleet is signed: the registrations at
``t0``, the readings just after it. A cached fleet's readings are therefore
hours or days old when they are published, which the gateway accepts and
counts as late (``farmtrace_entries_late_total``); nothing else differs.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from dataclasses import dataclass

from _common import CACHE

from chain.entries import device_payload, parse_entry, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from gateway.datadir import DataDir
from gateway.init import init_data_dir, read_log_signer

__all__ = ["ORIGIN", "Fleet", "load_fleet", "new_log"]

ORIGIN = "bench.farmtrace.test/log"
_FORMAT = 1  # bump when the cached layout or payloads change


@dataclass(frozen=True, slots=True)
class Fleet:
    """Signed registrations and readings; ``readings[d][i]`` is device d's seq i + 1."""

    t0: int
    admin_seed: bytes
    device_ids: tuple[str, ...]
    registrations: tuple[bytes, ...]
    readings: tuple[tuple[bytes, ...], ...]

    @property
    def admin(self) -> SignerKey:
        """The administrator who registered every device."""
        return SignerKey.generate("admin", seed=self.admin_seed)

    @property
    def total(self) -> int:
        """How many readings the fleet holds."""
        return sum(len(r) for r in self.readings)


def _device_id(i: int) -> str:
    return f"bench-d{i:04d}"


def _sign_device(job: tuple[bytes, str, int, int]) -> tuple[bytes, ...]:
    seed, dev, count, t0 = job
    out = []
    for seq in range(1, count + 1):
        value = round(18.0 + (seq % 97) * 0.1, 1)
        payload = reading_payload(dev, seq, t0 + seq, "temperature", "barn:b1", value, "Cel")
        out.append(sign_entry(payload, dev, seed))
    return tuple(out)


def _sign(devices: int, per_device: int) -> Fleet:
    t0 = time.time_ns() // 1_000_000 - 60_000
    admin = SignerKey.generate("admin")
    keys = [SignerKey.generate(_device_id(i)) for i in range(devices)]
    registrations = tuple(
        sign_entry(
            device_payload(
                "register",
                k.id,
                seq,
                t0,
                pubkey=k.public_key,
                kinds=["temperature"],
                subjects=["barn:b1"],
            ),
            admin.id,
            admin.seed,
        )
        for seq, k in enumerate(keys, start=2)  # the genesis block used the admin's seq 1
    )
    jobs = [(k.seed, k.id, per_device, t0) for k in keys]
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        readings = tuple(pool.map(_sign_device, jobs, chunksize=1))
    return Fleet(t0, admin.seed, tuple(k.id for k in keys), registrations, readings)


def load_fleet(devices: int, per_device: int) -> tuple[Fleet, str]:
    """The cached fleet for these parameters (signed now if missing); (fleet, how obtained)."""
    path = CACHE / f"ingest-fleet-v{_FORMAT}-{devices}x{per_device}.pickle"
    if path.exists():
        started = time.perf_counter()
        with path.open("rb") as f:
            fleet = pickle.load(f)
        assert isinstance(fleet, Fleet)
        return fleet, f"cached, loaded in {time.perf_counter() - started:.1f} s"
    print(f"  signing {devices * per_device:,} readings (once; cached afterwards)", flush=True)
    started = time.perf_counter()
    fleet = _sign(devices, per_device)
    seconds = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as f:
        pickle.dump(fleet, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)
    return fleet, f"signed now in {seconds:.0f} s"


def new_log(data_dir: DataDir, fleet: Fleet) -> None:
    """Create a log in the empty ``data_dir`` whose block 1 registers every device of ``fleet``."""
    init_data_dir(data_dir, ORIGIN, [fleet.admin], fleet.t0 - 3_600_000)
    with Store.open(data_dir.log) as store:
        writer = LogWriter(store, read_log_signer(data_dir))
        writer.commit_block([parse_entry(r) for r in fleet.registrations], fleet.t0)
        writer.sign_checkpoint()
