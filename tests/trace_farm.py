"""A story farm with recalls of every kind, for the trace and recall tests.

:func:`build_trace_farm` builds a three-barn story farm (birds move between
barns half way; one pack is recalled by the story itself) and appends one
block of extra events signed by the farm's own operators:

* a recall of barn ``recall_barn`` at ``barn_recall_ms``, while its first
  flock is in it (every bird in that barn then is affected: its pack, its
  lot);
* a recall of that barn again before anyone was placed (affects nobody);
* a recall of bird ``recalled_bird``, of ``carcass:<carcass_bird>``, and of
  the lot;
* the death of an on-farm bird (``dead_bird``) half way through its stay;
* the slaughter of another (``cut_bird``) into two cuts, packed apart
  (``cut_packs``), and a recall of the first of those packs only.

``affected`` is every pack and lot subject a recall concerns (the rule of
consumer_web's pack pages); ``unaffected`` the other packs.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.entries import event_payload, parse_entry, sign_entry
from chain.gs1 import DigitalLink, pack_subject
from chain.keyfile import load_key
from chain.log import LogWriter
from chain.store import Store
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir
from gateway.init import read_log_signer

HOUR = 3_600_000
DAY = 24 * HOUR

TRACE_FARM = StoryFarm(
    days=8, barns=3, birds=18, shelf_birds=12, lot_birds=4, move_every=3, block_size=400
)


@dataclass(frozen=True)
class TraceFarm:
    data_dir: DataDir
    manifest: StoryManifest
    recall_barn: str
    barn_recall_ms: int
    barn_birds: frozenset[str]  # the birds in recall_barn at barn_recall_ms
    recalled_bird: str
    carcass_bird: str
    dead_bird: str
    cut_bird: str
    cut_packs: tuple[DigitalLink, DigitalLink]  # the first is recalled
    affected: frozenset[str]
    unaffected: frozenset[str]


def _in_barn(manifest: StoryManifest, bird: str, barn: str, ts: int) -> bool:
    return any(s.barn == barn and s.start_ms <= ts < s.end_ms for s in manifest.stays[bird])


def build_trace_farm(data_dir: DataDir, farm: StoryFarm = TRACE_FARM) -> TraceFarm:
    """Build the farm in ``data_dir`` (which must not hold a log); the store is closed after."""
    m = build_story_log(data_dir, farm)
    barn_ms = m.start_ms + DAY + 3 * HOUR
    barn = m.barns[1]
    in_barn = {b for b in m.birds if _in_barn(m, b, barn, barn_ms)}
    others = [p for p in m.packs if p.bird not in in_barn and not p.recalled]
    recalled_bird, carcass_bird = others[0].bird, others[1].bird
    lot = m.lots[0]
    on_farm = [b for b in m.birds if b not in {p.bird for p in m.packs} | set(lot.birds)]
    dead = on_farm[0]
    cut_bird = next(b for b in on_farm[1:] if b not in in_barn)
    cuts = [f"cut:{cut_bird}-breast", f"cut:{cut_bird}-leg"]
    gtin = m.packs[0].gtin
    cut_packs = (DigitalLink(gtin, f"C{cut_bird}B"), DigitalLink(gtin, f"C{cut_bird}L"))
    plant, farm_op = m.operators["plant"], m.operators["farm"]
    seqs = dict(m.last_seqs)
    late = m.end_ms + 2 * DAY
    planned = [
        (plant, barn_ms, "recalled", [f"barn:{barn}"], {"reason": "Salmonella found in barn"}),
        (plant, m.start_ms - 5 * DAY, "recalled", [f"barn:{barn}"], {"reason": "old scare"}),
        (plant, late, "recalled", [f"bird:{recalled_bird}"], {"reason": "drug residue"}),
        (plant, late + 1, "recalled", [f"carcass:{carcass_bird}"], {"reason": "bone fragments"}),
        (plant, late + 2, "recalled", [lot.subject], {"reason": "label error"}),
        (farm_op, m.start_ms + 4 * DAY, "died", [f"bird:{dead}"], {"cause": "heart failure"}),
        (
            plant,
            late - 10 * HOUR,
            "slaughtered",
            [f"bird:{cut_bird}"],
            {"plant": "P", "outputs": cuts},
        ),
        (plant, late - 9 * HOUR, "packed", cuts[:1], {"gtin": gtin, "serial": cut_packs[0].serial}),
        (plant, late - 9 * HOUR, "packed", cuts[1:], {"gtin": gtin, "serial": cut_packs[1].serial}),
        (plant, late + 3, "recalled", [pack_subject(cut_packs[0])], {"reason": "foreign body"}),
    ]
    entries = []
    for signer, ts, event, subjects, fields in planned:
        seqs[signer] += 1
        key = load_key(data_dir.signer_key(signer))
        payload = event_payload(event, seqs[signer], ts, subjects, **fields)
        entries.append(parse_entry(sign_entry(payload, signer, key.seed)))
    with Store.open(data_dir.log, sync=False) as store:
        writer = LogWriter(store, read_log_signer(data_dir))
        writer.commit_block(entries, late + 4)
        writer.sign_checkpoint()
    affected = {p.subject for p in m.packs if p.recalled or p.bird in in_barn}
    affected |= {p.subject for p in m.packs if p.bird in (recalled_bird, carcass_bird)}
    affected.add(lot.subject)
    every = {p.subject for p in m.packs}
    return TraceFarm(
        data_dir,
        m,
        barn,
        barn_ms,
        frozenset(in_barn),
        recalled_bird,
        carcass_bird,
        dead,
        cut_bird,
        cut_packs,
        frozenset(affected),
        frozenset(every - affected),
    )
