"""A small log built by hand: hostile text in every field a page shows, a seq gap, a spike.

Bird ``x1`` hatches, is placed in barn ``b1``, is inspected, slaughtered,
packed (GTIN + serial ``A1``) and its pack recalled; the barn's sensor
``b1-temp`` skips seqs 50 to 52 (readings lost before the gateway) and reads
a heat spike for two hours on day one, and another that outlasts the bird's
stay. The last checkpoint is cosigned by one witness. A final block, with a
``shipped`` event, is committed but no checkpoint covers it yet: the site
must not show it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.entries import (
    Entry,
    device_payload,
    event_payload,
    operator_payload,
    parse_entry,
    reading_payload,
    sign_entry,
)
from chain.keyfile import SignerKey
from chain.log import LogWriter
from chain.store import Store
from chain.trust import TrustRoot

ORIGIN = "hostile.example/log"
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
GTIN = "09506000134352"
SERIAL = "A1"
SCRIPT = "<script>alert('x')</script>"
HOSTILE = {
    "breed": f"{SCRIPT} Ross \"308\" & 'friends' 肉鸡",
    "hatchery": '"><img src=x onerror=alert(1)>',
    "farm_name": "Farm <b>Bold</b> & Co",
    "vet_name": SCRIPT,
    "note": "</td></tr><script>alert(2)</script>",
    "plant": "Plant <iframe src=//evil>",
    "reason": "<script>document.location='//evil'</script> salmonella",
}
GAP = (50, 52)
SPIKE = (START + DAY + 10 * HOUR, START + DAY + 12 * HOUR)
LAST_SPIKE = (START + 2 * DAY - 40 * MINUTE, START + 2 * DAY + HOUR)  # runs past slaughter


@dataclass(frozen=True)
class HostileLog:
    store: Store
    trust: TrustRoot
    witness: str  # the witness's verifier key
    shipped_index: int  # the entry no checkpoint covers
    writer: LogWriter
    keys: dict[str, SignerKey]
    seqs: dict[str, int]


def _key(name: str) -> SignerKey:
    return SignerKey.generate(name, seed=random.Random(name).randbytes(32))


def build_hostile_log(path: Path) -> HostileLog:
    """Build the log in ``path`` (a new directory) and return it open."""
    admin = _key("admin")
    log_signer, log_verifier = note.generate_key(ORIGIN, seed=bytes(range(32)))
    witness_signer, witness_verifier = generate_cosigner_key("witness.example/w1", seed=bytes(32))
    trust = TrustRoot(ORIGIN, log_verifier, (("admin", admin.public_key),))
    store = Store.open(path, origin=ORIGIN, sync=False)
    writer = LogWriter(store, log_signer)
    seqs: dict[str, int] = {}
    keys = {"admin": admin}

    def signed(signer: str, build: Callable[[int], dict[str, object]]) -> Entry:
        seq = seqs[signer] = seqs.get(signer, 0) + 1
        return parse_entry(sign_entry(build(seq), signer, keys[signer].seed))

    entries: list[Entry] = []
    ops = {"farm-op": ("farm", HOSTILE["farm_name"]), "vet": ("vet", HOSTILE["vet_name"])}
    ops |= {"plant": ("plant", "Plant"), "hatchery": ("hatchery", "Hatchery")}
    for op, (role, name) in ops.items():
        keys[op] = _key(op)
        pub = keys[op].public_key
        entries.append(
            signed(
                "admin",
                partial(
                    operator_payload,
                    "register",
                    op,
                    ts=START - DAY,
                    pubkey=pub,
                    roles=[role],
                    name=name,
                ),
            )
        )
    devices = {"b1-temp": ("temperature", "barn:b1"), "b1-hum": ("humidity", "barn:b1")}
    devices |= {"b1-feeder1": ("feed", "barn:b1"), "b1-water": ("water", "barn:b1")}
    devices |= {"bird-x1": ("activity", "bird:x1")}
    for dev, (kind, location) in devices.items():
        keys[dev] = _key(dev)
        entries.append(
            signed(
                "admin",
                partial(
                    device_payload,
                    "register",
                    dev,
                    ts=START - DAY,
                    pubkey=keys[dev].public_key,
                    kinds=[kind],
                    location=location,
                    subjects=[f"feeder:{dev}" if kind == "feed" else location],
                    farm="f1",
                ),
            )
        )
    writer.commit_block(entries, START)
    writer.sign_checkpoint()

    def event(signer: str, ts: int, name: str, subjects: list[str], **fields: object) -> Entry:
        return signed(signer, lambda seq: event_payload(name, seq, ts, subjects, **fields))

    timed: list[tuple[int, Entry]] = []
    bird = ["bird:x1"]
    timed.append(
        (
            START - DAY,
            event(
                "hatchery",
                START - DAY,
                "hatched",
                bird,
                breed=HOSTILE["breed"],
                hatchery=HOSTILE["hatchery"],
            ),
        )
    )
    timed.append((START, event("farm-op", START, "placed", bird, barn="b1")))
    timed.append(
        (
            START + DAY,
            event(
                "vet", START + DAY, "inspected", ["barn:b1"], result="fail", note=HOSTILE["note"]
            ),
        )
    )
    end = START + 2 * DAY
    readings: list[tuple[int, str, str, str, float]] = []
    hopper, meter = 500.0, 0.0
    for step, ts in enumerate(range(START + 5 * MINUTE, end + 6 * HOUR, 10 * MINUTE)):
        hot = any(start <= ts < stop for start, stop in (SPIKE, LAST_SPIKE))
        temp = 31.0 + math.sin(step / 9) + (8.0 if hot else 0.0)
        readings.append((ts, "b1-temp", "temperature", "barn:b1", round(temp, 2)))
        readings.append(
            (ts, "b1-hum", "humidity", "barn:b1", round(60 + 5 * math.cos(step / 7), 1))
        )
        hopper = 500.0 if hopper < 100 else hopper - 7.5
        readings.append((ts, "b1-feeder1", "feed", "feeder:b1-feeder1", hopper))
        meter += 13.25
        readings.append((ts, "b1-water", "water", "barn:b1", meter))
        if step % 3 == 0 and ts < end:
            readings.append((ts, "bird-x1", "activity", "bird:x1", float(step % 40)))
    units = {
        "temperature": "Cel",
        "humidity": "%RH",
        "feed": "kg",
        "water": "l",
        "activity": "count",
    }
    for ts, dev, kind, subject, value in readings:
        seq = seqs[dev] = seqs.get(dev, 0) + 1
        if dev == "b1-temp" and GAP[0] <= seq <= GAP[1]:
            continue  # lost before it reached the gateway
        payload = reading_payload(dev, seq, ts, kind, subject, value, units[kind])
        timed.append((ts, parse_entry(sign_entry(payload, dev, keys[dev].seed))))
    timed.append(
        (
            end,
            event(
                "plant", end, "slaughtered", bird, plant=HOSTILE["plant"], outputs=["carcass:x1"]
            ),
        )
    )
    timed.append(
        (
            end + HOUR,
            event(
                "plant",
                end + HOUR,
                "packed",
                ["carcass:x1"],
                gtin=GTIN,
                serial=SERIAL,
                plant=HOSTILE["plant"],
                weight_g=1800,
            ),
        )
    )
    pack = f"pack:{GTIN}.{SERIAL}"
    timed.append(
        (
            end + 2 * HOUR,
            event("plant", end + 2 * HOUR, "recalled", [pack], reason=HOSTILE["reason"]),
        )
    )
    timed.sort(key=lambda item: item[0])
    ordered = [e for _, e in timed]
    half = len(ordered) // 2
    for chunk in (ordered[:half], ordered[half:]):
        writer.commit_block(chunk, chunk[-1].ts)
        writer.sign_checkpoint()
    size, signed_note = store.latest_checkpoint() or (0, "")
    text = note.parse(signed_note).text
    cosigned = signed_note + cosign(text, witness_signer, START // 1000 + 3 * 86400)
    store.put_checkpoint(size, cosigned)
    shipped = event("plant", end + 3 * HOUR, "shipped", [pack], destination=SCRIPT)
    writer.commit_block([shipped], end + 3 * HOUR)
    return HostileLog(store, trust, witness_verifier, store.entry_count - 1, writer, keys, seqs)
