"""Helpers for gateway tests against a real broker: signers, a publisher, a gateway process.

The test devices here are deliberately plain (a key, a seq counter, paho):
they exercise the gateway's contract, not the firmware's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from chain.entries import device_payload, reading_payload, sign_entry
from chain.keyfile import SignerKey
from chain.store import Store
from chain.wire import Receipt, entry_topic, parse_receipt, receipt_topic
from gateway.datadir import DataDir
from gateway.init import init_data_dir
from signer._paho_io import release_sockets

FARM = "testfarm"
ORIGIN = "farm.test/log"
ROOT = Path(__file__).resolve().parents[2]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Signer:
    """A key and its next seq: signs readings or (for an admin) device registrations."""

    key: SignerKey
    seq: int = 0

    @property
    def id(self) -> str:
        return self.key.id

    def reading(self, value: float = 21.5, ts: int | None = None, seq: int | None = None) -> bytes:
        if seq is None:
            self.seq += 1
            seq = self.seq
        payload = reading_payload(
            self.id, seq, now_ms() if ts is None else ts, "temperature", "barn:b1", value, "Cel"
        )
        return sign_entry(payload, self.id, self.key.seed)

    def register(self, device: SignerKey, ts: int | None = None) -> bytes:
        self.seq += 1
        payload = device_payload(
            "register",
            device.id,
            self.seq,
            (now_ms() - 3_600_000) if ts is None else ts,
            pubkey=device.public_key,
            kinds=["temperature"],
            subjects=["barn:b1"],
        )
        return sign_entry(payload, self.id, self.key.seed)


def new_data_dir(root: Path) -> tuple[DataDir, Signer]:
    """A fresh gateway data directory and its genesis admin (seq 1 used by genesis)."""
    data_dir = DataDir(root)
    admin = SignerKey.generate("admin")
    init_data_dir(data_dir, ORIGIN, [admin], now_ms() - 7_200_000)
    return data_dir, Signer(admin, seq=1)


class Publisher:
    """One MQTT connection publishing QoS 1 as ``client_id`` and watching receipts."""

    def __init__(self, port: int, client_id: str, username: str | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self.client.username_pw_set(username)
        self.client.max_inflight_messages_set(200)
        self.receipts: dict[str, Receipt] = {}
        self._cond = threading.Condition()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        receipt = parse_receipt(bytes(message.payload))
        with self._cond:
            self.receipts[receipt.dev] = receipt
            self._cond.notify_all()

    def watch(self, device: str) -> None:
        self.client.subscribe(receipt_topic(FARM, device), 1)

    def publish(self, device: str, raws: Iterable[bytes], topic_device: str | None = None) -> None:
        infos = [
            self.client.publish(entry_topic(FARM, topic_device or device), raw, qos=1)
            for raw in raws
        ]
        for info in infos:
            info.wait_for_publish(10)

    def wait_receipt(self, device: str, covers: Callable[[Receipt], bool], timeout: float = 20):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                receipt = self.receipts.get(device)
                if receipt is not None and covers(receipt):
                    return receipt
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no receipt for {device} in time; last: {receipt}")
                self._cond.wait(left)

    def register(self, admin: Signer, keys: Iterable[SignerKey]) -> None:
        """Publish the admin's registrations of ``keys`` and wait until they are committed.

        MQTT orders messages only per topic: a device's first reading could
        otherwise overtake its registration and be rejected as unknown.
        """
        self.watch(admin.id)
        self.publish(admin.id, [admin.register(key) for key in keys])
        self.wait_receipt(admin.id, lambda r, seq=admin.seq: r.seq >= seq)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        release_sockets(self.client)


@dataclass
class GatewayProcess:
    """``farmtrace gateway run`` as a child process (so that tests can kill -9 it)."""

    data_dir: DataDir
    broker_url: str
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> None:
        self.log = self.data_dir.root / "gateway.log"
        started_before = self.log.read_bytes().count(b"gateway running") if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "farmtrace",
                    "gateway",
                    "run",
                    "--data-dir",
                    str(self.data_dir.root),
                    "--farm",
                    FARM,
                    "--mqtt",
                    self.broker_url,
                    "--http-port",
                    "0",
                    *self.extra,
                ],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        deadline = time.monotonic() + 20
        while self.log.read_bytes().count(b"gateway running") <= started_before:  # this run's
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gateway did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        # Until its subscription is acknowledged, what devices publish is not
        # queued for it: a test that publishes at once would lose its first entry.
        while metric(self.scrape(), "farmtrace_mqtt_connected") < 1:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gateway did not subscribe:\n{self.log.read_text()}")
            time.sleep(0.05)

    def scrape(self) -> str:
        """Its /metrics text."""
        with urllib.request.urlopen(f"{self.http_url}/metrics", timeout=10) as response:
            return str(response.read().decode())

    @property
    def http_url(self) -> str:
        """Its HTTP server's base URL, from the last 'gateway running' line it printed."""
        assert self.log is not None
        found = re.findall(rb"gateway running: (http://\S+)/checkpoint", self.log.read_bytes())
        assert found, "the gateway has not printed its URL"
        return str(found[-1].decode())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def metric(text: str, name: str, reason: str | None = None) -> float:
    label = "" if reason is None else f'{{reason="{reason}"}}'
    match = re.search(rf"^{re.escape(name + label)} (\S+)$", text, re.M)
    return 0.0 if match is None else float(match[1])


def wait_metric(text: Callable[[], str], name: str, value: float, timeout: float = 10) -> None:
    """Wait until metric ``name`` in ``text()`` reaches ``value``."""
    deadline = time.monotonic() + timeout
    while metric(text(), name) < value:
        assert time.monotonic() < deadline, f"{name} stayed below {value}"
        time.sleep(0.02)


def committed_entries(data_dir: DataDir) -> list[bytes]:
    """Every entry in the log, in order (the gateway must be stopped)."""
    with Store.open(data_dir.log) as store:
        return [store.entry(i) for i in range(store.entry_count)]


def device_keys(count: int, prefix: str = "dev") -> list[SignerKey]:
    return [SignerKey.generate(f"{prefix}{i:03d}") for i in range(count)]
