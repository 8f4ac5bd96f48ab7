"""A running gateway: store, ingest thread and HTTP server, started and stopped together.

A farm's gateway (``GatewayConfig.farm``) ingests its devices' and operators'
entries over MQTT (:mod:`gateway.mqtt_ingest`), and with ``http_submit`` also
over HTTP. Without a farm it runs an operator-only log: no MQTT at all,
entries arrive by ``POST /api/v1/submit`` (:mod:`gateway.submit_loop`,
:mod:`gateway.http_submit`), through the same admission and pipeline.

:meth:`Gateway.stop` (the CLI calls it on SIGTERM and Ctrl-C) lets the ingest
thread commit the open block, acknowledge it and publish its receipts before
the store closes; a restart after any stop, or a ``kill -9``, recovers from
the store alone.

With ``<data-dir>/witnesses.json``, a :class:`~gateway.witnessing.WitnessPusher`
runs too: each committed block's checkpoint wakes it, it collects the witnesses'
cosignatures into the store, and ``/checkpoint`` serves the newest checkpoint
enough of them cosigned.

With mirrors (``GatewayConfig.mirrors``), a :class:`~gateway.mirror_gate.MirrorGate`
polls them: witnesses are shown only blocks a mirror holds, and receipts
cover only blocks a mirror serves under a quorum-cosigned checkpoint, so
that losing this disk loses nothing (docs/backup-and-recovery.md).

The ingest thread runs under an :class:`~gateway.supervisor.IngestSupervisor`:
if the loop fails (the store, or memory), it is restarted with backoff
instead of ending the process; messages it cannot handle are quarantined
to ``<data-dir>/dead-letter.jsonl``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from flask import Flask

from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from gateway.admin_socket import AdminSocket
from gateway.datadir import DataDir
from gateway.dead_letter import DeadLetterFile
from gateway.fleet_state import FleetSettings, FleetState
from gateway.fleet_view import FleetViewBuilder
from gateway.http_app import create_app
from gateway.http_submit import SubmissionHandler, SubmissionQueue, create_submit_api
from gateway.ingest import CommittedBlock, Ingest, IngestConfig
from gateway.init import read_log_signer
from gateway.metrics import GatewayMetrics
from gateway.mirror_gate import MirrorGate, MirrorSettings
from gateway.mqtt_ingest import MqttIngest, MqttSettings
from gateway.ref_check import RefCheck
from gateway.submit_loop import SubmitIngest
from gateway.supervisor import IngestLoop, IngestSupervisor
from gateway.witnessing import WitnessingConfig, WitnessPusher, load_witness_policy
from readapi.crosslog import Pins
from readapi.wsgi_server import ServerSettings, WsgiServer

__all__ = ["Gateway", "GatewayConfig"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything a gateway needs to run. ``http_port`` 0 picks a free port.

    ``farm`` None: an operator-only log (no MQTT; HTTP submissions only).
    ``http_submit``: a farm's gateway takes HTTP submissions too.
    """

    data_dir: DataDir
    farm: str | None
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    witnessing: WitnessingConfig = field(default_factory=WitnessingConfig)
    http_server: ServerSettings = field(default_factory=ServerSettings)
    fleet: FleetSettings = field(default_factory=FleetSettings)
    mirrors: MirrorSettings = field(default_factory=MirrorSettings)
    """With mirrors, receipts and witness submissions wait for them (gateway.mirror_gate);
    ``ingest.hold_receipts`` must then be set."""
    http_submit: bool = False
    pins: Pins | None = None
    """The other logs events may reference, each pinned (``--pins``; gateway.ref_check).
    None: an event with references is refused ``ref_unknown_log``."""

    def __post_init__(self) -> None:
        if self.mirrors.enabled != self.ingest.hold_receipts:
            raise ValueError("receipts are held exactly when mirrors are configured")


class Gateway:
    """Owns a data directory while running. Use :meth:`start`/:meth:`stop`, or ``with``.

    Raises (from :meth:`start`):
        StorageError: the store cannot be opened (e.g. another gateway holds it).
        OSError: the data directory's files are unreadable, or the HTTP port is taken.
        FarmtraceError: the trust root, log key or stored registrations are invalid.
    """

    def __init__(
        self,
        config: GatewayConfig,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.config = config
        self._clock = clock
        self.metrics = GatewayMetrics()
        self.store: Store | None = None
        self.mqtt: MqttIngest | None = None
        """The MQTT ingest loop (None in an operator-only log)."""
        self.submit_loop: SubmitIngest | None = None
        """The operator-only log's ingest loop (None with a farm)."""
        self.submissions: SubmissionQueue | None = None
        """HTTP submissions waiting for the ingest thread (None when not taken)."""
        self.witnesses: WitnessPusher | None = None
        """Pushes checkpoints to the witnesses (None without witnesses.json)."""
        self.mirror: MirrorGate | None = None
        """Polls the mirrors receipts and submissions wait for (None without mirrors)."""
        self._http: WsgiServer | None = None
        self._threads: list[threading.Thread] = []
        self.supervisor: IngestSupervisor | None = None
        """Restarts the ingest loop after a failure (its ``failures`` count them)."""
        self.error: BaseException | None = None
        """Set if the ingest thread died (the supervisor itself failed)."""
        self.fleet = FleetState(clock(), config.fleet)
        """What the gateway heard from each device (served at /api/v1/fleet)."""
        self._fleet_view: FleetViewBuilder | None = None
        self.admin: AdminSocket | None = None
        """Serves backups of the store on ``<data-dir>/admin.sock`` (gateway.admin_socket)."""

    @property
    def http_port(self) -> int:
        """The port the HTTP server listens on."""
        assert self._http is not None, "gateway not started"
        return self._http.port

    def start(self) -> None:
        """Open the store, recover, and start the ingest and HTTP threads."""
        data_dir = self.config.data_dir
        trust = TrustRoot.from_json(data_dir.trust.read_text())
        signer_key = read_log_signer(data_dir)
        policy = load_witness_policy(data_dir.witnesses)
        store = self.store = Store.open(data_dir.log)
        try:
            mirror = None
            if self.config.mirrors.enabled:
                mirror = self.mirror = MirrorGate(
                    store,
                    self.config.mirrors,
                    trust.log_key,
                    policy or WitnessPolicy(0),
                    self.metrics,
                    on_held=self._mirror_grew,
                )
            if policy is not None and policy.witnesses:
                self.witnesses = WitnessPusher(
                    store,
                    policy,
                    self.metrics,
                    self.config.witnessing,
                    ceiling=None if mirror is None else (lambda: mirror.held_size),
                )

            refs = RefCheck(self.config.pins, store)

            def reopen() -> Ingest:
                return Ingest.open(
                    store, trust, signer_key, self.config.ingest, self._clock(), refs=refs
                )

            released = None if mirror is None else (lambda: mirror.released_size)
            dead_letter = DeadLetterFile(data_dir.dead_letter)
            handler = None
            if self.config.farm is None or self.config.http_submit:
                self.submissions = SubmissionQueue()
                handler = SubmissionHandler(
                    self.submissions, self.metrics, dead_letter=dead_letter, released=released
                )
            loop: IngestLoop
            if self.config.farm is None:
                assert self.submissions is not None and handler is not None
                loop = self.submit_loop = SubmitIngest(
                    reopen(),
                    self.submissions,
                    handler,
                    self.metrics,
                    clock=self._clock,
                    on_commit=self._committed,
                    released=released,
                )
            else:
                loop = self.mqtt = MqttIngest(
                    reopen(),
                    self.config.farm,
                    self.config.mqtt,
                    self.metrics,
                    clock=self._clock,
                    on_commit=self._committed,
                    dead_letter=dead_letter,
                    fleet=self.fleet,
                    released=released,
                    submissions=handler,
                )
            self._fleet_view = FleetViewBuilder(store, trust, self.fleet, self._clock)
            self.supervisor = IngestSupervisor(loop, reopen, self.metrics)
            app: Flask = create_app(
                store,
                trust,
                self.metrics,
                witnesses=() if policy is None else policy.verifier_keys,
                published=self.published_checkpoint,
                fleet=self._fleet_view,
            )
            if self.submissions is not None:
                app.register_blueprint(
                    create_submit_api(
                        self.submissions,
                        store,
                        self.metrics,
                        max_entry_bytes=self.config.ingest.policy.max_entry_bytes,
                        released=released,
                        clock=self._clock,
                    )
                )
            self._http = WsgiServer(
                app, self.config.http_host, self.config.http_port, self.config.http_server
            )
            admin = AdminSocket(store, data_dir)
            admin.start()
            self.admin = admin
        except BaseException:
            if self._http is not None:  # the admin socket failed: free the port
                self._http.close()
                self._http = None
            self.witnesses = None
            self.mirror = None
            if self.submissions is not None:
                self.submissions.close()
                self.submissions = None
            store.close()
            self.store = None
            raise
        self.metrics.published_size.set_function(self._published_size)
        m = self.metrics
        for gauge, flag in (
            (m.devices_registered, "registered"),
            (m.devices_silent, "silent"),
            (m.devices_offline, "offline"),
            (m.devices_backlog_growing, "backlog_growing"),
        ):
            gauge.set_function(functools.partial(self._fleet_count, flag))
        self._threads = [
            threading.Thread(target=self._run_ingest, name="ingest", daemon=True),
            threading.Thread(target=self._http.run, name="http", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if self.mirror is not None:
            self.mirror.start()
            _logger.info(
                "receipts and witness submissions wait for a mirror: %s",
                ", ".join(self.config.mirrors.urls),
            )
        if self.witnesses is not None:
            self.witnesses.start()
            _logger.info(
                "witnesses: %s (%s)",
                ", ".join(w.name for w in self.witnesses.policy.witnesses),
                self.witnesses.policy.describe(),
            )
        fed_by = (
            "an operator-only log (HTTP submissions, no MQTT)"
            if self.config.farm is None
            else f"farm {self.config.farm!r}"
            + (" (and HTTP submissions)" if self.submissions is not None else "")
        )
        _logger.info(
            "gateway for %s: log %s, HTTP on http://%s:%d",
            fed_by,
            trust.origin,
            self.config.http_host,
            self.http_port,
        )

    def published_checkpoint(self) -> tuple[int, str] | None:
        """``(size, signed note)`` of the checkpoint ``/checkpoint`` serves, or None.

        Without witnesses, the latest; with them, see
        :meth:`WitnessPusher.published_checkpoint`.
        """
        assert self.store is not None, "gateway not running"
        if self.witnesses is not None:
            return self.witnesses.published_checkpoint()
        return self.store.latest_checkpoint()

    def _committed(self, _block: CommittedBlock) -> None:
        if self.mirror is not None:
            self.mirror.notify()
        if self.witnesses is not None:
            self.witnesses.notify()  # a new checkpoint to push; ingest does not wait

    def _mirror_grew(self) -> None:
        if self.witnesses is not None:
            self.witnesses.notify()  # a mirror holds more: the witnesses may see it

    def _fleet_count(self, flag: str) -> float:
        if self.store is None or self._fleet_view is None:
            return 0.0
        return float(getattr(self._fleet_view.flag_counts(), flag))

    def _published_size(self) -> float:
        if self.store is None:
            return 0.0
        published = self.published_checkpoint()
        return 0.0 if published is None else float(published[0])

    def _run_ingest(self) -> None:
        assert self.supervisor is not None
        try:
            self.supervisor.run()
        except BaseException as exc:  # not a loop failure (those restart): keep the reason
            _logger.exception("ingest stopped")
            self.error = exc

    @property
    def running(self) -> bool:
        """Whether the ingest thread is alive."""
        return bool(self._threads) and self._threads[0].is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Commit the open block, publish its receipts, stop the threads, close the store."""
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.submit_loop is not None:
            self.submit_loop.stop()
        if self._threads:
            self._threads[0].join(timeout)
        if self._http is not None:
            self._http.stop()
            if len(self._threads) > 1:
                self._threads[1].join(timeout)
        if self.witnesses is not None:
            self.witnesses.stop()
        if self.mirror is not None:
            self.mirror.stop()
        if self.submissions is not None:  # the HTTP threads are done with it
            self.submissions.close()
            self.submissions = None
        if self.admin is not None:
            self.admin.stop()
            self.admin = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
