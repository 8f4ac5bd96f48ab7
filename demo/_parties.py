"""The six-party demo's parties: who keeps which log, and the files that tie them together.

Each party keeps its own log (its own origin, log key, administrator and
trust root) in ``<demo>/logs/<slug>/``: two farms fed by their devices over
MQTT, and a hatchery, a processing plant, a distributor and a shop, whose
logs only their staff write to. Two witnesses watch all six logs; one pins
file (``<demo>/pins.json``, docs/supply-chain.md section 4) names every log
with its trust root, witness policy, read API and GS1 company prefixes, for
the consumer site and for the writers of cross-log references alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chain.keyfile import SignerKey, save_key
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from demo._witnesses import DemoWitness, witness_names
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from witness import WitnessConfig, add_log, init_witness_dir

__all__ = [
    "ADMIN",
    "PARTIES",
    "ChainPorts",
    "Party",
    "chain_witnesses",
    "party",
    "set_up_logs",
    "write_pins",
]

ADMIN = "admin"
"""Every log's genesis administrator (one key per log)."""

PLANT_PREFIX = "950600013"
"""The plant's GS1 company prefix: the demo's GTIN 09506000134352 is the plant's."""


@dataclass(frozen=True, slots=True)
class Party:
    """One party and its log.

    ``farm_id`` is set for the two farms (their MQTT topics' second level);
    ``operator`` is the staff member who signs the party's events, with
    ``roles`` in its registration; ``gs1_prefixes`` the company prefixes it packs under.
    """

    slug: str
    origin: str
    name: str
    role: str
    operator: str
    roles: tuple[str, ...]
    farm_id: str | None = None
    gs1_prefixes: tuple[str, ...] = ()

    @property
    def is_farm(self) -> bool:
        return self.farm_id is not None


PARTIES = (
    Party(
        "farm-a", "farm-a.demo.farmtrace.example/log", "Green Valley Farm", "farm",
        "farm-manager", ("farm",), farm_id="green-valley",
    ),
    Party(
        "farm-b", "farm-b.demo.farmtrace.example/log", "Hillside Farm", "farm",
        "farm-manager", ("farm",), farm_id="hillside",
    ),
    Party(
        "hatchery", "hatchery.demo.farmtrace.example/log", "Sunrise Hatchery", "hatchery",
        "hatchery", ("hatchery",),
    ),
    Party(
        "plant", "plant.demo.farmtrace.example/log", "Riverside Processing Plant", "plant",
        "plant", ("plant",), gs1_prefixes=(PLANT_PREFIX,),
    ),
    Party(
        "distributor", "distributor.demo.farmtrace.example/log",
        "ColdChain Distribution, DC North", "distributor", "distributor", ("distributor",),
    ),
    Party(
        "shop", "shop.demo.farmtrace.example/log", "FreshMart Store 12", "shop",
        "retailer", ("retailer",),
    ),
)  # fmt: skip


def party(slug: str) -> Party:
    """The party of ``slug`` (raises KeyError for an unknown one)."""
    for p in PARTIES:
        if p.slug == slug:
            return p
    raise KeyError(slug)


@dataclass(frozen=True, slots=True)
class ChainPorts:
    """Where the six-party demo's servers listen (all on 127.0.0.1).

    ``gateways`` and ``mqtt`` follow :data:`PARTIES`' order (``mqtt``: the farms only).
    """

    web: int = 8000
    gateways: tuple[int, ...] = (8080, 8081, 8082, 8083, 8084, 8085)
    mqtt: tuple[int, ...] = (1883, 1884)
    witnesses: tuple[int, int] = (7381, 7382)

    def __post_init__(self) -> None:
        farms = sum(p.is_farm for p in PARTIES)
        if len(self.gateways) != len(PARTIES) or len(self.mqtt) != farms:
            raise ValueError(
                f"ports: expected {len(PARTIES)} gateway and {farms} MQTT ports, found "
                f"{len(self.gateways)} and {len(self.mqtt)}"
            )
        every = [self.web, *self.gateways, *self.mqtt, *self.witnesses]
        if len(set(every)) != len(every):
            raise ValueError(f"ports: expected distinct ports, found {every}")

    def api(self, slug: str) -> str:
        """The read API (and submission) base URL of ``slug``'s gateway."""
        index = [p.slug for p in PARTIES].index(slug)
        return f"http://127.0.0.1:{self.gateways[index]}"

    def broker(self, slug: str) -> int:
        """The MQTT port of farm ``slug``'s Mosquitto."""
        farms = [p.slug for p in PARTIES if p.is_farm]
        return self.mqtt[farms.index(slug)]


def log_dir(root: Path, p: Party) -> DataDir:
    """``<demo>/logs/<slug>``: the party's gateway data directory."""
    return DataDir(root / "logs" / p.slug)


def set_up_logs(root: Path, genesis_ms: int) -> dict[str, DataDir]:
    """Create every party's log (once): a new log key and administrator each.

    The administrator's key is kept in the data dir's keys (as ``gateway init
    --admin-key`` leaves none: the demo signs as it). Logs that exist are kept.

    Raises:
        OSError, StorageError: a directory or file cannot be written.
    """
    dirs = {}
    for p in PARTIES:
        data = log_dir(root, p)
        if not data.trust.exists():
            admin = SignerKey.generate(ADMIN)
            init_data_dir(data, p.origin, [admin], genesis_ms)
            save_key(admin, data.signer_key(ADMIN))
        dirs[p.slug] = data
    return dirs


def chain_witnesses(
    root: Path, dirs: Mapping[str, DataDir], ports: tuple[int, int]
) -> list[DemoWitness]:
    """Create (once) the two witnesses, each watching every party's log; write each policy.

    Every log gets the same 2-of-2 policy (its ``witnesses.json``, rewritten on
    every run since the ports may change); a log missing from a witness's
    ``witness.json`` is added to it.

    Raises:
        OSError, StorageError: a directory or file cannot be written.
        FarmtraceError: a witness directory is corrupt.
    """
    trusts = [TrustRoot.from_json(dirs[p.slug].trust.read_text()) for p in PARTIES]
    logs = [(t.origin, t.log_key) for t in trusts]
    witnesses = []
    for (label, folder, name), port in zip(witness_names(), ports, strict=True):
        directory = root / "witnesses" / folder
        if not (directory / "witness.json").exists():
            init_witness_dir(directory, name, logs)
        for origin, key in logs:  # a no-op for a log it watches already
            add_log(directory, origin, key)
        witnesses.append(DemoWitness(label, directory, port, WitnessConfig.load(directory)))
    policy = WitnessPolicy(len(witnesses), tuple(Witness(w.config.vkey, w.url) for w in witnesses))
    for data in dirs.values():
        data.witnesses.write_text(policy.to_json())
    return witnesses


def write_pins(root: Path, dirs: Mapping[str, DataDir], ports: ChainPorts) -> Path:
    """Write ``<demo>/pins.json``: every log pinned by its trust root and witness policy.

    Paths are relative to the pins file's directory. Rewritten on every run
    (the ports may change). Returns its path.
    """
    path = root / "pins.json"
    logs: list[dict[str, object]] = []
    for p in PARTIES:
        data = dirs[p.slug]
        logs.append(
            {
                "origin": p.origin,
                "slug": p.slug,
                "name": p.name,
                "role": p.role,
                "trust": str(data.trust.relative_to(root)),
                "witnesses": str(data.witnesses.relative_to(root)),
                "sources": [ports.api(p.slug)],
                "gs1_prefixes": list(p.gs1_prefixes),
            }
        )
    path.write_text(json.dumps({"logs": logs}, indent=2) + "\n")
    return path


def origins(parties: Sequence[Party] = PARTIES) -> tuple[str, ...]:
    """The parties' origins, in order."""
    return tuple(p.origin for p in parties)
