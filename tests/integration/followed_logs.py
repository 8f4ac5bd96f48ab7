"""Logs for the follower and replica tests: honest ones, forks, crafted bad blocks, HTTP serving."""

from __future__ import annotations

import contextlib
import copy
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm_logs import START_MS, LogFactory
from server_thread import ServerThread
from werkzeug.serving import make_server

from chain import merkle
from chain.block import BlockHeader, build_header
from chain.checkpoint import Checkpoint, sign_checkpoint
from chain.entries import parse_entry
from chain.errors import FarmtraceError
from chain.follow import Follower
from chain.log import LogWriter, load_registry_tree
from chain.store import Store
from gateway.datadir import DataDir
from gateway.init import read_log_signer
from readapi import LogSource, create_app


def grow(factory: LogFactory, blocks: int, *, per_block: int = 3, dev: str = "d1") -> None:
    """Append ``blocks`` blocks of readings by ``dev`` (registered if new), each checkpointed."""
    if dev not in factory.devices:
        factory.register(dev)
        blocks -= 1
    for _ in range(blocks):
        factory.commit([factory.reading(dev) for _ in range(per_block)])


def fork(factory: LogFactory, root: Path) -> LogFactory:
    """A copy of ``factory``'s log (same log key, same history so far) that can diverge."""
    factory.store.close()
    shutil.copytree(factory.data_dir.root, root)
    factory.store = Store.open(factory.data_dir.log)
    factory.writer = LogWriter(factory.store, read_log_signer(factory.data_dir))
    twin = copy.copy(factory)
    twin.data_dir = DataDir(root)
    twin.store = Store.open(twin.data_dir.log)
    twin.writer = LogWriter(twin.store, read_log_signer(twin.data_dir))
    twin.devices = dict(factory.devices)
    return twin


def follow(follower: Follower, source: Store) -> None:
    """One honest round of following ``source`` straight from its store (no HTTP)."""
    latest = source.latest_checkpoint()
    assert latest is not None
    size, signed = latest
    checkpoint = follower.verify_checkpoint(signed)
    ours = follower.store.size
    proof = source.consistency_proof(ours, size) if 0 < ours < size else []
    follower.check_consistency(checkpoint, proof)
    for height in range(ours, size):
        follower.accept_block(
            source.block_raw(height),
            source.block_entries(height),
            source.inclusion_proof(height, size),
            checkpoint,
        )
    follower.commit_checkpoint(signed, checkpoint)


@dataclass
class Crafted:
    """Blocks a dishonest log operator (holding the log key) appended after an honest log."""

    note: str
    checkpoint: Checkpoint
    blocks: list[tuple[bytes, list[bytes], list[bytes]]]  # (header, entries, inclusion path)
    leaves: list[bytes]

    def consistency(self, first: int) -> list[bytes]:
        """Consistency proof from size ``first`` to the crafted checkpoint."""
        return (
            [] if first in (0, len(self.leaves)) else merkle.consistency_proof(self.leaves, first)
        )


def craft(
    factory: LogFactory,
    blocks: Sequence[Sequence[bytes]],
    *,
    tweak: Callable[[int, BlockHeader], BlockHeader] = lambda _i, h: h,
) -> Crafted:
    """Sign a checkpoint over ``factory``'s blocks plus ``blocks`` (entry bytes), not stored.

    ``tweak(i, header)`` may replace the i-th new header (e.g. to break its link).
    """
    store = factory.store
    leaves = [store.block_raw(h) for h in range(store.size)]
    prev = store.head()
    headers = []
    for i, entries in enumerate(blocks):
        header = tweak(
            i, build_header(log=store.origin, prev=prev, entries=entries, closed_at=START_MS)
        )
        headers.append(header)
        leaves.append(header.raw)
        prev = header
    size = len(leaves)
    registry = load_registry_tree(store)  # the registry line an honest log would sign
    for header, entries in zip(headers, blocks, strict=True):
        with contextlib.suppress(FarmtraceError, ValueError):  # the follower refuses it first
            registry.add_entries([parse_entry(e) for e in entries], header.first_index)
    line = registry.commitment().to_line()
    checkpoint = Checkpoint(store.origin, size, merkle.root_hash(leaves), (line,))
    note = sign_checkpoint(checkpoint, read_log_signer(factory.data_dir))
    first = store.size
    return Crafted(
        note,
        checkpoint,
        [
            (h.raw, list(entries), merkle.inclusion_proof(leaves, first + i))
            for i, (h, entries) in enumerate(zip(headers, blocks, strict=True))
        ],
        leaves,
    )


@dataclass
class FactorySource:
    """The read API's view of a factory's log (its store may be reopened by :func:`fork`)."""

    factory: LogFactory
    witnesses: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        return self.factory.store.origin

    @property
    def verifier_key(self) -> str:
        return self.factory.trust.log_key

    @property
    def store(self) -> Store:
        return self.factory.store


@dataclass
class HttpLog:
    """A log served by the read API over real HTTP on 127.0.0.1 (start/stop on one port)."""

    info: LogSource
    port: int = 0
    _serving: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpLog:
        app = create_app(self.info)
        self._serving = ServerThread(make_server("127.0.0.1", self.port, app, threaded=True))
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None


def serve(factory: LogFactory) -> HttpLog:
    """Serve ``factory``'s log; stop it when done."""
    return HttpLog(FactorySource(factory)).start()
