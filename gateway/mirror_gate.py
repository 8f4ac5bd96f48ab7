"""Receipts and witness submissions wait for a mirror: a lost gateway disk loses nothing.

A device deletes what a receipt covers, and witnesses remember what they
cosigned; if either gets ahead of every copy off the gateway's disk, losing
that disk loses readings, or leaves a log no copy can continue
(docs/backup-and-recovery.md). A gateway run with mirrors (``--mirror URL``,
the consumer site in a deployment) therefore:

* submits a checkpoint of size N to the witnesses only once a mirror holds
  our first N blocks (:attr:`MirrorGate.held_size`; the site copies them
  ahead of the cosigned checkpoint with ``--stage-uncosigned``);
* lets a device's receipt cover a block only once a mirror serves a
  checkpoint covering it that the witness quorum cosigned
  (:attr:`MirrorGate.released_size`; the ingest thread releases receipts,
  :meth:`gateway.receipts.ReceiptBook.release`).

A :class:`MirrorGate` thread polls every mirror, every ``poll_s`` while
blocks wait and every ``idle_s`` otherwise (:meth:`MirrorGate.notify`
wakes it after a commit). Both sizes only grow, and start at 0 after a
restart, so the gateway never receipts or submits beyond what a mirror was
seen to hold. A mirror that is down or serves junk is counted
(``farmtrace_mirror_errors_total{mirror,reason}``) and logged once until it
is back; receipts and submissions wait meanwhile (the devices keep their
entries: that is their job). A mirror serving another history
(``reason="fork"``) is logged as an ERROR each minute and never released on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chain.errors import FarmtraceError, SourceError
from chain.store import Store
from chain.witness_policy import WitnessPolicy
from gateway.metrics import GatewayMetrics
from gateway.mirror_check import MirrorView, check_cosigned, probe_held
from readapi import ReadApiClient

__all__ = ["MIRROR_ERRORS", "MirrorGate", "MirrorSettings", "mirror_urls"]

_logger = logging.getLogger(__name__)
_REPEAT_ERROR_S = 60.0

MIRROR_ERRORS = (
    "unreachable",
    "http_error",
    "malformed_response",
    "malformed_note",
    "unknown_signer",
    "bad_signature",
    "witness_quorum",
    "fork",
    "rollback",
    "internal_error",
)
"""The reasons ``farmtrace_mirror_errors_total`` counts (exported from the start)."""


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    """The mirrors receipts and witness submissions wait for (none: they wait for nothing).

    ``poll_s``: how often each mirror is asked while blocks wait for it;
    ``idle_s``: otherwise; ``timeout_s`` bounds each request.
    """

    urls: tuple[str, ...] = ()
    poll_s: float = 0.5
    idle_s: float = 5.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if min(self.poll_s, self.idle_s, self.timeout_s) <= 0:
            raise ValueError("mirror poll intervals and timeout must be positive")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"mirror URL must be http:// or https://, found {url!r}")

    @property
    def enabled(self) -> bool:
        """Whether receipts and submissions wait for a mirror."""
        return bool(self.urls)


class MirrorGate:
    """Polls the mirrors of ``settings`` on a thread; see the module docstring.

    ``log_key`` is the log's verifier key and ``policy`` the gateway's witness
    policy (a mirror's checkpoint must carry its quorum). ``on_held`` is
    called (on the gate's thread; it must return at once) when
    :attr:`held_size` grew, e.g. to wake the witness pusher. Use
    :meth:`start`, :meth:`notify` after a commit, and :meth:`stop` before
    closing the store.

    Raises (constructor):
        ValueError: ``settings`` names no mirror.
    """

    def __init__(
        self,
        store: Store,
        settings: MirrorSettings,
        log_key: str,
        policy: WitnessPolicy,
        metrics: GatewayMetrics,
        on_held: Callable[[], None] | None = None,
    ) -> None:
        if not settings.enabled:
            raise ValueError("a mirror gate needs at least one mirror")
        self.store = store
        self.settings = settings
        self._log_key = log_key
        self._policy = policy
        self._metrics = metrics
        self._on_held = on_held
        self._clients = {
            url: ReadApiClient(url, timeout=settings.timeout_s) for url in settings.urls
        }
        self._views = {url: MirrorView(url, 0, 0) for url in settings.urls}
        self._lock = threading.Lock()
        self._released = 0
        self._held = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._trouble: dict[str, tuple[str, float]] = {}
        self._thread = threading.Thread(target=self._run, name="mirror-gate", daemon=True)
        for url in settings.urls:
            metrics.mirror_size.labels(url).set(0)
            metrics.mirror_held.labels(url).set(0)
            for reason in MIRROR_ERRORS:
                metrics.mirror_errors.labels(url, reason)

    @property
    def released_size(self) -> int:
        """Blocks a mirror serves under a quorum-cosigned checkpoint: receipts may cover them."""
        with self._lock:
            return self._released

    @property
    def held_size(self) -> int:
        """Blocks a mirror holds (ours, verified there): the witnesses may be shown them."""
        with self._lock:
            return self._held

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def notify(self) -> None:
        """A block was committed: poll soon (cheap; any thread)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (a request in flight ends within ``timeout_s``)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def poll_once(self) -> None:
        """Ask every mirror once and update the sizes; never raises."""
        for url in self.settings.urls:
            if self._stop.is_set():
                return
            self._poll(url)
        views = self._views.values()
        with self._lock:
            before = self._held
            self._released = max(self._released, *(v.cosigned for v in views))
            self._held = max(self._held, self._released, *(v.held for v in views))
            grew = self._held > before
        if grew and self._on_held is not None:
            self._on_held()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.poll_once()
            try:
                waiting = self.store.size > self.released_size
            except Exception:  # the store failing: keep polling at the waiting pace
                _logger.debug("mirror gate: cannot read the store's size", exc_info=True)
                waiting = True
            self._wake.wait(self.settings.poll_s if waiting else self.settings.idle_s)

    def _poll(self, url: str) -> None:
        old = self._views[url]
        client = self._clients[url]
        try:
            cosigned = max(self._cosigned(client), old.cosigned)
            latest = self.store.latest_checkpoint()
            target = 0 if latest is None else latest[0]
            held = probe_held(client, self.store, max(cosigned, old.held), target)
        except FarmtraceError as exc:
            known = exc.reason in MIRROR_ERRORS
            reason = exc.reason if known else "malformed_response"
            if not (known or isinstance(exc, SourceError)):
                reason = "internal_error"
            self._note_trouble(url, reason, str(exc))
            return
        except Exception as exc:  # a bug must not stop the gate: count and go on
            _logger.debug("mirror %s: internal error", url, exc_info=True)
            self._note_trouble(url, "internal_error", f"{type(exc).__name__}: {exc}")
            return
        self._views[url] = MirrorView(url, cosigned, held)
        self._metrics.mirror_size.labels(url).set(cosigned)
        self._metrics.mirror_held.labels(url).set(held)
        if url in self._trouble:
            del self._trouble[url]
            _logger.info("mirror %s is back: it holds %d blocks, %d cosigned", url, held, cosigned)

    def _cosigned(self, client: ReadApiClient) -> int:
        """The size of the mirror's verified cosigned checkpoint (0: it has none yet)."""
        try:
            signed = client.checkpoint()
        except SourceError as exc:
            if exc.status == 404:  # a new mirror: it may hold blocks ahead all the same
                return 0
            raise
        return check_cosigned(signed, self.store, self._log_key, self._policy)

    def _note_trouble(self, url: str, reason: str, message: str) -> None:
        self._metrics.mirror_errors.labels(url, reason).inc()
        now = time.monotonic()
        last = self._trouble.get(url)
        repeat = reason == "fork" and last is not None and now - last[1] >= _REPEAT_ERROR_S
        if last is None or last[0] != reason or repeat:
            self._trouble[url] = (reason, now)
            level = logging.ERROR if reason in ("fork", "rollback") else logging.WARNING
            _logger.log(
                level,
                "mirror %s: %s: %s; receipts and witness submissions wait for a mirror "
                "(logged once until it is back)",
                url,
                reason,
                message,
            )


def mirror_urls(urls: Sequence[str]) -> tuple[str, ...]:
    """``urls`` without trailing slashes or repeats, in order."""
    return tuple(dict.fromkeys(url.rstrip("/") for url in urls))
