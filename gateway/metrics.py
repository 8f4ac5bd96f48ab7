"""The gateway's Prometheus metrics, on a registry of its own (so tests can run several).

Served at ``/metrics`` in the Prometheus text format. Names::

    farmtrace_entries_accepted_total            accepted (pending, then committed)
    farmtrace_entries_committed_total           in a block
    farmtrace_entries_duplicate_total           identical resends (harmless, re-receipted)
    farmtrace_entries_late_total                accepted, but older than the late window
    farmtrace_entries_rejected_total{reason}    refused, by reason tag (status junk and
                                                quarantined messages too: docs/gateway.md)
    farmtrace_block_height                      blocks in the log
    farmtrace_log_entries                       entries in the log
    farmtrace_pending_entries                   accepted, not yet in a block (queue depth)
    farmtrace_ingest_lag_seconds                age of the oldest pending entry
    farmtrace_commit_latency_seconds            receive-to-checkpoint latency (histogram)
    farmtrace_devices_online                    devices whose retained status is online
    farmtrace_devices_registered                devices registered (not revoked) in the log
    farmtrace_devices_silent                    registered devices silent (the fleet view's flag)
    farmtrace_devices_offline                   registered devices whose status says offline
    farmtrace_devices_backlog_growing           registered devices whose outbox keeps growing
    farmtrace_mqtt_connected                    1 while connected and subscribed (receiving)
    farmtrace_mqtt_reconnects_total             connections re-established after a loss
    farmtrace_ingest_restarts_total             ingest loop restarts after a failure
    farmtrace_published_checkpoint_size         tree size of the checkpoint /checkpoint serves

With witnesses (``<data-dir>/witnesses.json``), per witness (its key name)::

    farmtrace_witness_requests_total{witness,outcome}   add-checkpoint pushes, by outcome
    farmtrace_witness_refusals_total{witness,reason}    refusals of this log's history:
        witness_ahead (it cosigned a bigger tree: rolled back), root_mismatch and
        inconsistent (it cosigned another history: forked)
    farmtrace_witness_cosigned_size{witness}            newest size it cosigned (this run)
    farmtrace_witness_last_cosigned_timestamp_seconds{witness}
                                                        when its last cosignature was stored
    farmtrace_witness_quorum                            cosignatures a checkpoint needs

With mirrors (``--mirror URL``, :mod:`gateway.mirror_gate`), per mirror (its URL)::

    farmtrace_mirror_size{mirror}              blocks it serves under a quorum-cosigned
                                               checkpoint (receipts may cover them)
    farmtrace_mirror_held_blocks{mirror}       blocks of ours it holds in all (the
                                               witnesses may be shown them)
    farmtrace_mirror_errors_total{mirror,reason}
                                               failed polls: unreachable, http_error,
        malformed_response, malformed_note, unknown_signer, bad_signature,
        witness_quorum, fork (another history: never receipted on), rollback
        (it holds more than this store), internal_error
    farmtrace_mirror_receipts_held             committed entries whose receipts wait
    farmtrace_mirror_released_size             blocks receipts may cover
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REJECT_REASONS = (
    "oversized",
    "malformed_entry",
    "wrong_topic",
    "unknown_signer",
    "unauthorized",
    "kind_not_registered",
    "subject_not_registered",
    "value_out_of_range",
    "bad_signature",
    "equivocation",
    "clock_skew",
    "lifecycle_conflict",
    "malformed_status",
    "malformed_topic",
    "internal_error",
    "poison",
)


class GatewayMetrics:
    """Every metric the gateway exports, registered on :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.accepted = Counter("farmtrace_entries_accepted", "Entries accepted", registry=r)
        self.committed = Counter("farmtrace_entries_committed", "Entries in blocks", registry=r)
        self.duplicate = Counter(
            "farmtrace_entries_duplicate", "Identical resends of held entries", registry=r
        )
        self.late = Counter("farmtrace_entries_late", "Accepted entries that came late", registry=r)
        self.rejected = Counter(
            "farmtrace_entries_rejected", "Entries refused, by reason", ["reason"], registry=r
        )
        for reason in _REJECT_REASONS:  # export zeros, so that alerts can rate() from the start
            self.rejected.labels(reason)
        self.http_submissions = Counter(
            "farmtrace_http_submissions",
            "Entries submitted over HTTP, by answer: accepted, duplicate, rejected, unavailable",
            ["outcome"],
            registry=r,
        )
        self.block_height = Gauge("farmtrace_block_height", "Blocks in the log", registry=r)
        self.log_entries = Gauge("farmtrace_log_entries", "Entries in the log", registry=r)
        self.pending = Gauge(
            "farmtrace_pending_entries", "Accepted entries not yet in a block", registry=r
        )
        self.lag = Gauge(
            "farmtrace_ingest_lag_seconds", "Age of the oldest pending entry", registry=r
        )
        self.commit_latency = Histogram(
            "farmtrace_commit_latency_seconds",
            "From receiving an entry to its signed checkpoint",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.devices_online = Gauge(
            "farmtrace_devices_online", "Devices reporting online", registry=r
        )
        self.devices_registered = Gauge(
            "farmtrace_devices_registered", "Devices registered in the log", registry=r
        )
        self.devices_silent = Gauge(
            "farmtrace_devices_silent",
            "Registered devices unheard past interval + grace",
            registry=r,
        )
        self.devices_offline = Gauge(
            "farmtrace_devices_offline", "Registered devices whose status is offline", registry=r
        )
        self.devices_backlog_growing = Gauge(
            "farmtrace_devices_backlog_growing",
            "Registered devices whose outbox grew across their last statuses",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "farmtrace_mqtt_connected", "1 while connected to the broker and subscribed", registry=r
        )
        self.mqtt_reconnects = Counter(
            "farmtrace_mqtt_reconnects", "Broker connections re-established", registry=r
        )
        self.ingest_restarts = Counter(
            "farmtrace_ingest_restarts", "Ingest loop restarts after a failure", registry=r
        )
        self.verify_worker_restarts = Counter(
            "farmtrace_verify_worker_restarts",
            "Signature worker processes replaced after they died",
            registry=r,
        )
        self.published_size = Gauge(
            "farmtrace_published_checkpoint_size",
            "Tree size of the checkpoint served at /checkpoint",
            registry=r,
        )
        self.witness_requests = Counter(
            "farmtrace_witness_requests",
            "add-checkpoint pushes to a witness, by outcome",
            ["witness", "outcome"],
            registry=r,
        )
        self.witness_refusals = Counter(
            "farmtrace_witness_refusals",
            "Witness refusals of this log's history (rollback or fork), by reason",
            ["witness", "reason"],
            registry=r,
        )
        self.witness_cosigned_size = Gauge(
            "farmtrace_witness_cosigned_size",
            "Newest tree size the witness cosigned",
            ["witness"],
            registry=r,
        )
        self.witness_last_cosigned = Gauge(
            "farmtrace_witness_last_cosigned_timestamp_seconds",
            "When the witness's last cosignature was stored (POSIX seconds)",
            ["witness"],
            registry=r,
        )
        self.witness_quorum = Gauge(
            "farmtrace_witness_quorum", "Witness cosignatures a checkpoint needs", registry=r
        )

        self.mirror_size = Gauge(
            "farmtrace_mirror_size",
            "Blocks the mirror serves under a quorum-cosigned checkpoint",
            ["mirror"],
            registry=r,
        )
        self.mirror_held = Gauge(
            "farmtrace_mirror_held_blocks",
            "Blocks of this log the mirror holds, cosigned or not",
            ["mirror"],
            registry=r,
        )
        self.mirror_errors = Counter(
            "farmtrace_mirror_errors",
            "Failed polls of a mirror, by reason",
            ["mirror", "reason"],
            registry=r,
        )
        self.mirror_receipts_held = Gauge(
            "farmtrace_mirror_receipts_held",
            "Committed entries whose receipts wait for a mirror",
            registry=r,
        )
        self.mirror_released_size = Gauge(
            "farmtrace_mirror_released_size",
            "Blocks a mirror serves cosigned: receipts may cover them",
            registry=r,
        )

    def prepare_witness(
        self, witness: str, outcomes: Iterable[str], reasons: Iterable[str]
    ) -> None:
        """Export zeros for ``witness``'s counters, so that alerts can rate() from the start."""
        for outcome in outcomes:
            self.witness_requests.labels(witness, outcome)
        for reason in reasons:
            self.witness_refusals.labels(witness, reason)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
