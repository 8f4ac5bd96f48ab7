"""The site's own Prometheus metrics, on a registry of its own.

Names::

    site_requests_total{page,status}      answered requests, by page (endpoint) and status
    site_not_found_total{reason}          404s by reason: bad_link, unknown_pack, unknown_bird,
                                          unknown_batch, no_route
    site_story_seconds                    time to build a bird's story (cache misses only)
    site_cache_subjects, site_cache_readings   what the lifecycle cache holds
    site_cache_skipped_entries            entries the cache could not decode
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumer_web._series import SubjectCache

__all__ = ["NOT_FOUND_REASONS", "SiteMetrics"]

NOT_FOUND_REASONS = ("bad_link", "unknown_pack", "unknown_bird", "unknown_batch", "no_route")


class SiteMetrics:
    """Every metric the site exports (besides its replica's), registered on :attr:`registry`."""

    def __init__(self, cache: SubjectCache) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "site_requests", "Answered requests, by page and status", ["page", "status"], registry=r
        )
        self.not_found = Counter(
            "site_not_found", "Pages not found, by reason", ["reason"], registry=r
        )
        for reason in NOT_FOUND_REASONS:
            self.not_found.labels(reason)
        self.story_seconds = Histogram(
            "site_story_seconds",
            "Time to build a bird's story on a cache miss",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        Gauge("site_cache_subjects", "Subjects in the lifecycle cache", registry=r).set_function(
            lambda: len(cache)
        )
        Gauge("site_cache_readings", "Readings in the lifecycle cache", registry=r).set_function(
            lambda: cache.readings
        )
        Gauge(
            "site_cache_skipped_entries", "Entries the cache could not decode", registry=r
        ).set_function(lambda: cache.skipped)
