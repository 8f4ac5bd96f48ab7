"""The replica's Prometheus metrics, on a registry of its own (so tests can run several).

Names::

    replica_tree_size                          blocks in our latest accepted checkpoint
    replica_entries                            entries in our store
    replica_sync_total{source,result}          sync attempts per source, by outcome
    replica_conflicts_total{source}            distinct conflicts recorded (kept across restarts)
    replica_last_sync_timestamp_seconds        when the last sync round ended
    replica_as_of_timestamp_seconds            when a source last confirmed our head
    replica_blocks_fetched_total               blocks fetched, verified and stored
    replica_waiting_for_witnesses              1 while a source's newer checkpoint lacks the
                                               witness quorum (result="witness_quorum" above)
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["RESULTS", "ReplicaMetrics"]

RESULTS = ("ok", "behind", "witness_quorum", "unreachable", "error", "invalid", "conflict")
"""The outcomes of one sync attempt with one source (see :class:`SourceStatus`)."""


class ReplicaMetrics:
    """Every metric a replica exports, registered on :attr:`registry`."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tree_size = Gauge(
            "replica_tree_size", "Blocks in the latest accepted checkpoint", registry=r
        )
        self.entries = Gauge("replica_entries", "Entries in the replica's store", registry=r)
        self.sync = Counter(
            "replica_sync", "Sync attempts per source, by result", ["source", "result"], registry=r
        )
        self.conflicts = Counter(
            "replica_conflicts", "Conflicting histories recorded, by source", ["source"], registry=r
        )
        self.last_sync = Gauge(
            "replica_last_sync_timestamp_seconds", "When the last sync round ended", registry=r
        )
        self.as_of = Gauge(
            "replica_as_of_timestamp_seconds",
            "When a source last confirmed the replica's head",
            registry=r,
        )
        self.blocks_fetched = Counter(
            "replica_blocks_fetched", "Blocks fetched, verified and stored", registry=r
        )
        self.waiting = Gauge(
            "replica_waiting_for_witnesses",
            "1 while a source's newer checkpoint lacks the witness quorum, else 0",
            registry=r,
        )
        for source in sources:  # export zeros, so that alerts can rate() from the start
            self.conflicts.labels(source)
            for result in RESULTS:
                self.sync.labels(source, result)
