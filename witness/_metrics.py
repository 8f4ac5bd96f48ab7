"""The witness's Prometheus metrics, on a registry of its own (so tests can run several).

Served at ``/metrics`` in the Prometheus text format. Names::

    farmtrace_witness_requests_total{outcome}           add-checkpoint requests, by outcome
    farmtrace_witness_cosigned_size{origin}             latest cosigned tree size per log
    farmtrace_witness_cosigned_timestamp_seconds{origin} time of that cosignature
    farmtrace_witness_evidence_total{kept}              evidence requests ("true": stored,
                                                        "false": not, the directory being full)

Outcomes: ``cosigned`` (200); ``malformed``, ``too_large``, ``bad_old_size``
(400/413); ``bad_signature`` (403); ``unknown_log`` (404); ``conflict`` (409,
stale old size); ``bad_empty_root`` (422, size 0 without the empty tree's
root); ``fork`` (422, same size, another root); ``bad_proof`` (422);
``storage_error`` (500).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["CONTENT_TYPE", "OUTCOMES", "WitnessMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = (
    "cosigned",
    "malformed",
    "too_large",
    "bad_old_size",
    "bad_signature",
    "unknown_log",
    "conflict",
    "bad_empty_root",
    "fork",
    "bad_proof",
    "storage_error",
)


class WitnessMetrics:
    """Every metric the witness exports, registered on :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "farmtrace_witness_requests",
            "add-checkpoint requests, by outcome",
            ["outcome"],
            registry=r,
        )
        for outcome in OUTCOMES:  # export zeros, so that alerts can rate() from the start
            self.requests.labels(outcome)
        self.cosigned_size = Gauge(
            "farmtrace_witness_cosigned_size", "Latest cosigned tree size", ["origin"], registry=r
        )
        self.cosigned_at = Gauge(
            "farmtrace_witness_cosigned_timestamp_seconds",
            "Time of the latest cosignature",
            ["origin"],
            registry=r,
        )
        self.evidence = Counter(
            "farmtrace_witness_evidence",
            "Log-signed checkpoints refused as a fork, with a bad proof or a bad empty root",
            ["kept"],
            registry=r,
        )
        for kept in ("true", "false"):
            self.evidence.labels(kept)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
