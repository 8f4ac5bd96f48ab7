"""The consumer site over a story farm whose latest checkpoint witnesses cosigned.

Three witnesses under a 2-of-3 policy; the caller picks the farm, the keys'
seeds, which witnesses cosign and how long ago, and any extra app config.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser_harness import serve

from chain import note
from chain.checkpoint import cosign, generate_cosigner_key
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import Witness, WitnessPolicy
from consumer_web import create_app
from consumer_web._replica_state import ReplicaStatus
from demo.story_farm import StoryFarm, StoryManifest, build_story_log
from gateway.datadir import DataDir

NAMES = ("coop.example/witness", "retail.example/witness", "ngo.example/witness")


def witness_keys(seed_offset: int) -> list[tuple[str, str]]:
    """(signer key, verifier key) of each of NAMES, seeded ``n + seed_offset``."""
    return [
        generate_cosigner_key(name, seed=bytes([n + seed_offset]) * 32)
        for n, name in enumerate(NAMES)
    ]


def two_of_three(keys: list[tuple[str, str]]) -> WitnessPolicy:
    """The 2-of-3 policy over the verifier keys of ``keys``."""
    return WitnessPolicy(2, tuple(Witness(vkey) for _, vkey in keys))


@dataclass
class WitnessedData:
    """consumer_web.SiteData over the story log, with a witness policy."""

    store: Store
    trust: TrustRoot
    witness_policy: WitnessPolicy

    def status(self) -> ReplicaStatus:
        size, signed = self.store.latest_checkpoint() or (0, None)
        return ReplicaStatus(size, signed, None, (), ())


@dataclass
class Site:
    url: str
    manifest: StoryManifest

    @property
    def pack_url(self) -> str:
        pack = self.manifest.packs[0]
        return f"{self.url}/01/{pack.gtin}/21/{pack.serial}"


@contextmanager
def witnessed_site(
    root: Path,
    farm: StoryFarm,
    policy: WitnessPolicy,
    cosigners: list[tuple[str, int]],
    config: Mapping[str, Any] | None = None,
) -> Iterator[Site]:
    """Serve the site over ``farm`` built in ``root``.

    ``cosigners`` holds (signer key, seconds ago) of each witness that cosigns
    the latest checkpoint; ``config`` is added to the app's config.
    """
    data_dir = DataDir(root / "farm")
    manifest = build_story_log(data_dir, farm)
    with Store.open(data_dir.log) as store:
        size, signed = store.latest_checkpoint() or (0, "")
        text, now = note.parse(signed).text, int(time.time())
        lines = [cosign(text, key, now - ago) for key, ago in cosigners]
        store.put_checkpoint(size, signed + "".join(lines))
        app = create_app(
            {
                "TESTING": True,
                "SITE_DATA": WitnessedData(store, manifest.trust, policy),
                "WARM_CACHE": False,
                **(config or {}),
            }
        )
        try:
            with serve(app) as url:
                yield Site(url, manifest)
        finally:
            app.extensions["farmtrace_site"].close()
