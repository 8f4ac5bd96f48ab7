"""Site data for tests: a store and its trust root, with a replica status the test sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from consumer_web._replica_state import Conflict, ReplicaStatus, SourceStatus, WitnessWait


@dataclass
class StaticSiteData:
    """What ``consumer_web.SiteData`` asks for, over a store that tests build offline."""

    store: Store
    trust: TrustRoot
    witnesses: tuple[str, ...] = ()
    sources: tuple[SourceStatus, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    as_of_ms: int | None = None
    calls: list[str] = field(default_factory=list)
    witness_policy: WitnessPolicy | None = None
    waiting: WitnessWait | None = None

    def status(self) -> ReplicaStatus:
        self.calls.append("status")
        latest = self.store.latest_checkpoint()
        return ReplicaStatus(
            0 if latest is None else latest[0],
            None if latest is None else latest[1],
            self.as_of_ms,
            self.sources,
            self.conflicts,
            self.waiting,
        )
