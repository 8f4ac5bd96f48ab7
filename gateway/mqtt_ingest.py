"""The gateway's MQTT side: one thread owns the paho client and the ingest pipeline.

paho is not thread-safe (notes §1), so nothing else touches the client. The
thread runs its own select loop over the client's socket, which lets it read
messages in batches and act between batches::

    read what has arrived → close due blocks
      → hand the batch to a signature worker
      → (while it checks, read the next batch) → offer each message of the
        answered batch to the Ingest, in arrival order → flush (one synced batch)
      → PUBACK those messages, in arrival order → close due blocks
      → publish retained receipts for the devices in them

Each message is admitted with the time it was read from the socket: a block
closes ``block_interval_ms`` after its oldest entry arrived, and the
receive → checkpoint histogram counts from then, however long a batch waited
for a worker.

The workers (:mod:`gateway.verify_workers`, ``MqttSettings.verify_workers``
processes, 0: none) only pre-check signatures; every decision is the
Ingest's, taken on this thread in arrival order, so the log's order and
guarantees are those of a single thread. Batches are answered in the order
they were read; at most one is read ahead per worker.

The session is persistent (MQTT 5 ``clean_start=False`` with a session
expiry): messages the gateway never acknowledged, because it crashed or was
offline, are redelivered by the broker when it comes back.

No message can stop ingest (issue 11). An unusable status message is
counted (``malformed_status``) and acknowledged like any rejected entry. An
unexpected error while handling one message is logged (rate-limited),
counted (``internal_error``), the message quarantined to the dead-letter
file and acknowledged. Only a store failure or a resource failure
(``MemoryError``) ends :meth:`MqttIngest.run`; the supervisor
(:mod:`gateway.supervisor`) then calls :meth:`MqttIngest.note_failure` and
runs it again, and a message that was in flight in two such failures is
quarantined (``poison``) when the broker redelivers it.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from chain.errors import FarmtraceError, StorageError
from chain.wire import (
    DeviceStatus,
    parse_device_status,
    parse_topic,
    receipt_topic,
    subscription,
)
from gateway.admission import Verdict
from gateway.broker_tls import client_context, connect_error_text
from gateway.dead_letter import DeadLetterFile, Strikes, fingerprint
from gateway.fleet_state import FleetState
from gateway.ingest import CommittedBlock, Ingest
from gateway.metrics import GatewayMetrics
from gateway.paho_receive import lighten_paho_receive
from gateway.reject_log import RejectLog
from gateway.verify_workers import Hints, VerifierPool, default_workers, keys_of

if TYPE_CHECKING:
    from gateway.http_submit import SubmissionHandler

__all__ = ["MqttIngest", "MqttSettings"]

_logger = logging.getLogger(__name__)
MAX_STRIKES = 2
"""Loop failures with a message in flight after which that message is quarantined."""


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and as whom the gateway connects.

    ``receive_maximum`` bounds the messages the broker sends before the
    gateway acknowledges (MQTT 5 Receive Maximum): a larger window lets one
    synced batch cover more messages. ``verify_workers``: processes that
    pre-check signatures (default: one per core beyond the first; 0: the
    ingest thread checks them). With ``tls`` the connection is TLS, the
    broker's certificate checked against ``ca_file`` (None: the system's
    trust store) and its host name; ``cert_file``/``key_file``: a client
    certificate, for a broker that requires one (:mod:`gateway.broker_tls`).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "farmtrace-gateway"
    keepalive: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 4096
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 10.0
    verify_workers: int = field(default_factory=default_workers)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if self.verify_workers < 0:
            raise ValueError(f"verify_workers: expected >= 0, found {self.verify_workers}")
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("MQTT TLS files given without TLS (mqtts://)")


_Received = tuple[int, int, mqtt.MQTTMessage]
"""A message read from the socket: (connection session, gateway clock ms when read, message)."""


class MqttIngest:
    """Runs the ingest loop until :meth:`stop`; see the module docstring.

    ``clock`` returns the time in ms (the gateway's clock, used for admission
    and block times). ``on_commit`` is called on the ingest thread after each
    block is committed and checkpointed (it must return at once: e.g. wake
    the witness pusher). ``dead_letter`` receives quarantined messages
    (None: they are only logged); :attr:`strikes` survives restarts of :meth:`run`.
    ``fleet`` is told of every entry's decision and every status (the fleet view).
    ``released`` (with an ingest whose receipt book holds receipts) returns
    how many blocks a mirror serves cosigned: receipts are published as it
    grows, not at commit (:mod:`gateway.mirror_gate`). ``submissions``: entries
    submitted over HTTP are taken on this thread too (:mod:`gateway.http_submit`).
    """

    def __init__(
        self,
        ingest: Ingest,
        farm: str,
        settings: MqttSettings,
        metrics: GatewayMetrics,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        on_commit: Callable[[CommittedBlock], None] | None = None,
        dead_letter: DeadLetterFile | None = None,
        fleet: FleetState | None = None,
        released: Callable[[], int] | None = None,
        submissions: SubmissionHandler | None = None,
    ) -> None:
        self.ingest = ingest
        self._released = released
        self.submissions = submissions
        self.fleet = fleet
        self.dead_letter = dead_letter
        self.strikes = Strikes()
        self._in_flight: bytes | None = None
        self._on_commit = on_commit
        self.farm = farm
        self.settings = settings
        self.metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._inbox: list[_Received] = []
        self._batches: dict[int, list[_Received]] = {}  # at the workers
        self._pool: VerifierPool | None = None  # while run() runs
        self._keys_dirty = True  # the workers' key snapshot must be renewed
        self._session = 0  # bumped on every disconnect: acks belong to one connection
        self._received = 0
        self._online: dict[str, bool] = {}
        self._reject_log = RejectLog(_logger)
        self._connected = False
        self._delay = settings.reconnect_min_s
        self.connected = threading.Event()
        """Set while subscribed (tests and the demo wait on it)."""
        self._tls = (
            client_context(settings.ca_file, settings.cert_file, settings.key_file)
            if settings.tls
            else None
        )
        self._client = self._make_client()

    # -- client --------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        lighten_paho_receive()
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        client.max_inflight_messages_set(1000)  # our receipts; before connecting
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = _no_delay
        if self._tls is not None:
            client.tls_set_context(self._tls)
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        return props

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            _logger.error("broker refused the connection: %s", reason)
            return
        client.subscribe(
            [(subscription(self.farm, "entry"), 1), (subscription(self.farm, "status"), 1)]
        )
        self._connected = True
        self._delay = self.settings.reconnect_min_s
        _logger.info(
            "connected to %s:%d (session present: %s)",
            self.settings.host,
            self.settings.port,
            flags.session_present,
        )

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:  # e.g. the ACL does not let this user read the farm's entries
            _logger.error("broker refused the subscription: %s", failed)
            return
        self.connected.set()  # only now is nothing published to the farm missed
        self.metrics.mqtt_connected.set(1)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self._connected and not self._stop.is_set():
            _logger.warning("lost the broker: %s", reason)
        self._connected = False
        self._session += 1
        self.connected.clear()
        self.metrics.mqtt_connected.set(0)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._received += 1
        self._inbox.append((self._session, self._clock(), message))

    # -- the loop ------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish: it commits what it holds, then disconnects."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def wait_stop(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for :meth:`stop`; return whether it was called."""
        return self._stop.wait(timeout)

    def note_failure(self, exc: BaseException) -> int:
        """Record that :meth:`run` failed with ``exc``; return the in-flight message's strikes.

        A store failure is not the message's fault: it earns no strike (0 is
        returned), nor does a failure with no message in flight.
        """
        key, self._in_flight = self._in_flight, None
        if key is None or isinstance(exc, StorageError):
            return 0
        return self.strikes.add(key)

    def run(self) -> None:
        """Connect and ingest until :meth:`stop`. Never raises for bad input or a lost broker.

        Raises:
            StorageError: the store failed; unacknowledged messages stay with
                the broker and are redelivered after a restart.
            MemoryError: handling a message exhausted memory (that message
                stays in flight for :meth:`note_failure`).
        """
        ever_connected = attempted = False
        self._inbox = []  # a failed run's messages were not acknowledged: the broker resends them
        self._batches = {}
        self._session += 1
        self._in_flight = None
        self._keys_dirty = True
        self._pool = None  # started with the first batch: subscribing does not wait for it
        if self.submissions is not None:
            self.submissions.queue.open()
        try:
            while not self._stop.is_set():
                if self._client.socket() is None:
                    if attempted:  # back off, whether the TCP connect or the CONNACK failed
                        self._back_off(self._delay)
                        self._delay = min(self._delay * 2, self.settings.reconnect_max_s)
                        self._commit_due(force=False)
                    attempted = True
                    if self._stop.is_set() or not self._try_connect(first=not ever_connected):
                        continue
                    if ever_connected:
                        self.metrics.mqtt_reconnects.inc()
                    ever_connected = True
                self._pump()
                self._commit_due(force=False)  # a due block does not wait for the next batch
                self._dispatch()
                self._sequence_ready()
                self._take_submissions()
                self._commit_due(force=False)
                self._release_receipts()
                self._update_gauges()
            self._drain()
        finally:
            self._client.disconnect()
            self.metrics.mqtt_connected.set(0)
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _start_pool(self) -> VerifierPool:
        workers = self.settings.verify_workers
        max_bytes = self.ingest.config.policy.max_entry_bytes
        try:
            return VerifierPool(workers, max_bytes)
        except OSError as exc:  # e.g. no processes left: the ingest thread checks signatures
            _logger.error("cannot start %d signature workers (%s); checking inline", workers, exc)
            return VerifierPool(0, max_bytes)

    def _try_connect(self, first: bool) -> bool:
        s = self.settings
        try:
            if first:
                self._client.connect(
                    s.host,
                    s.port,
                    keepalive=s.keepalive,
                    clean_start=False,
                    properties=self._connect_properties(),
                )
            else:
                self._client.reconnect()
        except OSError as exc:  # the TLS handshake too: ssl.SSLError is an OSError
            why = connect_error_text(exc)
            _logger.warning("cannot reach the broker at %s:%d: %s", s.host, s.port, why)
            return False
        return True

    def _pump(self) -> None:
        """Wait for network activity (or the next block deadline) and process it."""
        client = self._client
        sock = client.socket()
        if sock is None:
            return
        pool = self._pool
        due = self.ingest.ms_until_due(self._clock())
        timeout = 0.25 if due is None else min(0.25, due / 1000)
        writers = [sock] if client.want_write() else []
        room = len(self._inbox) < self.settings.receive_maximum
        readers: list[Any] = [sock] if room else []
        if self.submissions is not None:
            readers.append(self.submissions.queue.fileno())
        decrypted = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0  # unseen by select
        try:
            waitables = [] if pool is None else pool.waitables()
            wait = 0.0 if decrypted and room else timeout
            readable, writable, _ = select.select(readers + waitables, writers, [], wait)
        except (OSError, ValueError):
            readable, writable = [], []
        if decrypted and room:
            readable = [*readable, sock]
        if pool is not None:
            restarts = pool.restarts
            pool.poll()
            self.metrics.verify_worker_restarts.inc(pool.restarts - restarts)
        if sock in readable:
            # Bounded by messages held, not by calls: one loop_read may read many
            # packets, and Mosquitto 2.0.11 does not always honour Receive Maximum.
            while len(self._inbox) < self.settings.receive_maximum:
                before = self._received
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self._received == before:
                    break
        if writable or client.want_write():
            client.loop_write()
        client.loop_misc()

    def _dispatch(self) -> None:
        """Hand what was read to a free signature worker (inline: answered at once)."""
        if not self._inbox:
            return
        if self._pool is None:
            self._pool = self._start_pool()
        pool = self._pool
        if not pool.has_room():
            return
        if self._keys_dirty:
            pool.set_keys(keys_of(self.ingest.registry))
            self._keys_dirty = False
        inbox, self._inbox = self._inbox, []
        self._batches[pool.submit([bytes(m.payload) for _, _, m in inbox])] = inbox

    def _sequence_ready(self) -> None:
        if self._pool is None:
            return
        for ticket, hints in self._pool.ready():
            self._sequence(self._batches.pop(ticket), hints)

    def _back_off(self, delay: float) -> None:
        """Wait ``delay`` s (or until stopped) before reconnecting; HTTP submissions go on."""
        if self.submissions is None:
            self._stop.wait(delay)
            return
        deadline = time.monotonic() + delay
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            select.select([self.submissions.queue.fileno()], [], [], min(left, 0.1))
            self._take_submissions()
            self._commit_due(force=False)

    def _take_submissions(self, *, last: bool = False) -> None:
        """Offer, keep and answer what was submitted over HTTP (``last``: stop taking more)."""
        if self.submissions is None:
            return
        items = self.submissions.queue.take(last=last)
        if items and self.submissions.handle(self.ingest, items):
            self._keys_dirty = True  # a new key: the workers' snapshot is out of date

    def _sequence(self, inbox: list[_Received], hints: Hints) -> None:
        """Offer a batch in arrival order, make it durable, acknowledge it, send receipts.

        Each message is admitted at the time it was read from the socket, so
        that its block closes ``block_interval_ms`` after its oldest entry
        arrived (and the commit latency counts from then), however long the
        batch waited for a signature worker.

        Raises:
            StorageError, MemoryError: see :meth:`run`.
        """
        re_receipt: set[str] = set()
        for (_, received_ms, message), hint in zip(inbox, hints, strict=True):
            self._handle(message, received_ms, re_receipt, hint)
        self.ingest.flush()  # raises StorageError: nothing below is acknowledged
        for session, _, message in inbox:
            # A message read before a disconnect is redelivered in the resumed
            # session and acknowledged then, as a duplicate.
            if message.qos == 1 and session == self._session:
                self._client.ack(message.mid, message.qos)
        for device in re_receipt:
            self._publish_receipt(device)

    def _handle(
        self,
        message: mqtt.MQTTMessage,
        now_ms: int,
        re_receipt: set[str],
        hint: bytes | None = None,
    ) -> None:
        """Offer one message; whatever it holds, it is then acknowledged (see the module doc).

        ``hint``: the key a worker verified its signature under (or None).

        Raises:
            StorageError, MemoryError: see :meth:`run`.
        """
        topic = _topic_of(message)
        payload = bytes(message.payload)
        key = fingerprint(topic, payload)
        strikes = self.strikes.count(key)
        if strikes >= MAX_STRIKES:
            self.strikes.clear(key)
            error = f"the ingest loop failed {strikes} times while handling this message"
            self._quarantine(topic, payload, "poison", error, now_ms)
            return
        self._in_flight = key
        try:
            self._offer(
                topic, payload, now_ms, re_receipt, retained=bool(message.retain), hint=hint
            )
        except (StorageError, MemoryError):
            raise
        except Exception as exc:  # a bug must not stop ingest: quarantine the message instead
            _logger.debug("internal error on %s", topic[:200], exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            self._quarantine(topic, payload, "internal_error", error, now_ms)
        self._in_flight = None

    def _quarantine(self, topic: str, payload: bytes, reason: str, error: str, now_ms: int) -> None:
        self.metrics.rejected.labels(reason).inc()
        self._reject_log.log_reason(
            topic[:200],
            reason,
            f"{error[:500]}; quarantined to the dead-letter file",
            time.monotonic(),
            logging.ERROR,
        )
        if self.dead_letter is None or not self.dead_letter.add(topic, payload, error, now_ms):
            _logger.error("quarantined message on %r: %r", topic[:200], payload)

    def _offer(
        self,
        topic: str,
        payload: bytes,
        now_ms: int,
        re_receipt: set[str],
        retained: bool = False,
        hint: bytes | None = None,
    ) -> None:
        try:
            parts = parse_topic(topic)
        except FarmtraceError:
            self.metrics.rejected.labels("malformed_topic").inc()
            _logger.warning("ignored a message on unexpected topic %r", topic[:200])
            return
        if parts.kind == "status":
            self._note_status(parts.device, payload, re_receipt, now_ms, retained)
            return
        decision = self.ingest.offer(payload, parts.device, now_ms, hint)
        if self.fleet is not None:
            self.fleet.note_entry(parts.device, decision, now_ms)
        if decision.verdict is Verdict.ACCEPTED:
            self.metrics.accepted.inc()
            if decision.entry is not None and decision.entry.type in ("device", "operator"):
                self._keys_dirty = True  # a new key: the workers' snapshot is out of date
            if decision.late:
                self.metrics.late.inc()
        elif decision.verdict is Verdict.DUPLICATE:
            self.metrics.duplicate.inc()
            committed = decision.existing_index is not None and (
                decision.existing_index < self.ingest.store.entry_count
            )
            if committed:
                re_receipt.add(parts.device)
        else:
            self.metrics.rejected.labels(str(decision.reason)).inc()
            self._reject_log.log(parts.device, decision, time.monotonic())
            if str(decision.reason).startswith("ref_") and self.dead_letter is not None:
                # Kept whole: its signer may send it again once the other log answers.
                error = f"{decision.reason}: {decision.message}"
                self.dead_letter.add(topic, payload, error, now_ms)

    def _note_status(
        self, device: str, payload: bytes, re_receipt: set[str], now_ms: int, retained: bool
    ) -> None:
        status: DeviceStatus | None = None
        try:
            status = parse_device_status(payload)
        except FarmtraceError as exc:
            if payload:  # an empty retained message clears a status
                self.metrics.rejected.labels("malformed_status").inc()
                self._reject_log.log_reason(device, "malformed_status", str(exc), time.monotonic())
            self._online.pop(device, None)
        else:
            online = status.status == "online"
            self._online[device] = online
            book = self.ingest.receipts
            # A device that reports the lowest seq it holds gets a receipt reaching it.
            if online and book.note_low(device, status.low) and book.holds_committed(device):
                re_receipt.add(device)
        self.metrics.devices_online.set(sum(self._online.values()))
        if self.fleet is not None:
            malformed = status is None and bool(payload)
            self.fleet.note_status(device, status, now_ms, retained=retained, malformed=malformed)

    def _commit_due(self, *, force: bool) -> None:
        now_ms = self._clock()
        if not (force or self.ingest.block_due(now_ms)):
            return
        for block in self.ingest.close_blocks(now_ms):
            self._after_commit(block)

    def _after_commit(self, block: CommittedBlock) -> None:
        now_ms = self._clock()
        self.metrics.committed.inc(len(block.received_ms))
        for received in block.received_ms:
            self.metrics.commit_latency.observe(max(0, now_ms - received) / 1000)
        _logger.debug("block %d: %d entries", block.header.height, block.header.count)
        if not self.ingest.receipts.held:  # else once a mirror has it: _release_receipts
            for signer in sorted(block.signers):
                self._publish_receipt(signer)
        if self._on_commit is not None:
            self._on_commit(block)

    def _release_receipts(self) -> None:
        """Publish the receipts of the devices in blocks a mirror now serves cosigned."""
        book = self.ingest.receipts
        if self._released is None or not book.held:
            return
        size = min(self._released(), self.ingest.store.size)
        for signer in sorted(book.release(size)):
            self._publish_receipt(signer)

    def _publish_receipt(self, device: str) -> None:
        receipt = self.ingest.receipt(device)
        self._client.publish(receipt_topic(self.farm, device), receipt.to_json(), 1, retain=True)

    def _update_gauges(self) -> None:
        store = self.ingest.store
        self.metrics.block_height.set(store.size)
        self.metrics.log_entries.set(store.entry_count)
        self.metrics.pending.set(self.ingest.pending_count)
        if self.ingest.receipts.held:
            self.metrics.mirror_receipts_held.set(self.ingest.receipts.held_entries)
            self.metrics.mirror_released_size.set(self.ingest.receipts.released_size or 0)
        oldest = self.ingest.oldest_pending_ms()
        self.metrics.lag.set(0 if oldest is None else max(0, self._clock() - oldest) / 1000)

    def _drain(self) -> None:
        """On stop: commit what is held, acknowledge it, and send the receipts out."""
        pool = self._pool if self._pool is not None else VerifierPool(0, 0)
        deadline = time.monotonic() + 5.0
        while pool.in_flight and time.monotonic() < deadline:
            select.select(pool.waitables(), [], [], 0.05)
            pool.poll()
            self._sequence_ready()
        for ticket, hints in pool.abandon():  # a worker too slow to answer: check inline
            self._sequence(self._batches.pop(ticket), hints)
        inbox, self._inbox = self._inbox, []
        if inbox:
            self._sequence(inbox, [None] * len(inbox))
        self._take_submissions(last=True)
        self._commit_due(force=True)
        self._release_receipts()
        self._update_gauges()
        deadline = time.monotonic() + 2.0
        while self._client.want_write() and time.monotonic() < deadline:
            if self._client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
                break
        _logger.info(
            "stopped: log has %d blocks, %d entries",
            self.ingest.store.size,
            self.ingest.store.entry_count,
        )


def _topic_of(message: mqtt.MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:  # the broker should have refused it (MQTT topics are UTF-8)
        return "<topic not UTF-8>"


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Turn off Nagle: a receipt round trip otherwise stalls ~40 ms (notes §2)."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
