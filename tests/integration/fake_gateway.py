"""A tiny stand-in for the gateway in device, bridge and serial tests.

It subscribes to every entry of one farm, "commits" each entry it can parse
(no signature check: the real gateway's job) and publishes retained
receipts (chain.wire.Receipt) at most every ``flush`` seconds per device.
One thread owns its paho client, as paho requires.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from chain.entries import parse_entry
from chain.wire import (
    MAX_RECEIPT_HASHES,
    Receipt,
    committed_ranges,
    entry_digest,
    receipt_topic,
    subscription,
)
from signer._paho_io import read_available, readable, release_sockets


class FakeGateway:
    """Receipts every entry of ``farm`` it sees, except those ``skip(dev, seq)`` says to drop."""

    def __init__(
        self,
        port: int,
        farm: str,
        *,
        flush: float = 0.02,
        skip: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.farm = farm
        self.flush = flush
        self.skip = skip
        self.committed: dict[str, set[int]] = defaultdict(set)
        self.raw: dict[tuple[str, int], bytes] = {}
        self.recent: dict[str, dict[int, str]] = defaultdict(dict)  # newest commits, by hash
        self.messages = 0
        self.duplicates = 0
        self.malformed = 0
        self.block = 0
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fake-gw-{port}", protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(1000)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: self._ready.set()
        self._client.connect("127.0.0.1", port, 30)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "fake gateway did not subscribe"

    def seqs(self, dev: str) -> set[int]:
        with self._lock:
            return set(self.committed[dev])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        client.subscribe(subscription(self.farm, "entry"), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.messages += 1
        try:
            entry = parse_entry(bytes(msg.payload))
        except Exception:
            self.malformed += 1
            return
        if self.skip is not None and self.skip(entry.kid, entry.seq):
            return
        with self._lock:
            recent = self.recent[entry.kid]
            recent.pop(entry.seq, None)
            recent[entry.seq] = entry_digest(
                entry.raw
            )  # named in the receipts, as the gateway does
            while len(recent) > MAX_RECEIPT_HASHES:
                del recent[next(iter(recent))]
            if entry.seq in self.committed[entry.kid]:
                self.duplicates += 1
                assert self.raw[entry.key] == entry.raw, "equivocation"
                self._dirty.add(entry.kid)
                return
            self.committed[entry.kid].add(entry.seq)
            self.raw[entry.key] = entry.raw
        self._dirty.add(entry.kid)

    def _run(self) -> None:
        last = time.monotonic()
        client = self._client
        while not self._stop.is_set():
            sock = client.socket()
            if sock is None:
                break
            if readable(sock, self.flush):
                read_available(client)
            if client.want_write():
                client.loop_write()
            client.loop_misc()
            if time.monotonic() - last >= self.flush and self._dirty:
                last = time.monotonic()
                self.block += 1
                for dev in sorted(self._dirty):
                    self._client.publish(
                        receipt_topic(self.farm, dev), self._receipt(dev).to_json(), 1, True
                    )
                self._dirty.clear()
        self._client.disconnect()
        self._client.loop(timeout=0.1)
        release_sockets(self._client)

    def _receipt(self, dev: str) -> Receipt:
        with self._lock:
            seqs = sorted(self.committed[dev])
            hashes = tuple(sorted(self.recent[dev].items()))
        runs = committed_ranges(seqs)
        top = runs[0][1] if runs and runs[0][0] == 1 else 0
        above = [run for run in runs if run[0] > top + 1][:32]
        return Receipt(dev, top, self.block if top else None, tuple(above), hashes)
