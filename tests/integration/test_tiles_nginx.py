"""The static read path: a log published as C2SP tlog-tiles, served by a real nginx.

The log's read API (the one the gateway serves) counts its requests; the
publisher (``farmtrace tiles``) copies the log into a directory; nginx serves
it; the consumer site's replica, ``farmtrace audit --url tiles+http://...``
and 50 concurrent readers then read from nginx only. Tampered tiles and
block files fail verification with typed errors.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from farm_logs import LogFactory
from followed_logs import FactorySource, grow
from nginx_static import StaticNginx
from server_thread import ServerThread
from werkzeug.serving import make_server

from chain.errors import (
    FarmtraceError,
    ProofError,
    RollbackError,
    SourceError,
    StorageError,
)
from chain.follow import Follower
from chain.store import Store
from chain.tiles import TILE_WIDTH, block_entries_path, tile_path
from consumer_web._replica import Replica
from readapi import create_app
from readapi.client import ReadApiClient, urllib_transport
from readapi.tile_client import TileClient
from tiles import Published, TilePublisher, follow
from tiles.files import TileDir

_BLOCKS = TILE_WIDTH + 20  # a full level-0 tile and a partial one


class CountingApi:
    """The read API over real HTTP, counting the requests it answers."""

    def __init__(self, factory: LogFactory) -> None:
        app = create_app(FactorySource(factory))
        self.count = 0
        self._lock = threading.Lock()

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._lock:
                self.count += 1
            return app(environ, start_response)  # type: ignore[no-any-return]

        self._serving = ServerThread(make_server("127.0.0.1", 0, counted, threaded=True))
        self.url = f"http://127.0.0.1:{self._serving.port}"

    def stop(self) -> None:
        self._serving.stop()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogFactory]:
    factory = LogFactory(tmp_path_factory.mktemp("farm") / "log")
    grow(factory, _BLOCKS - 1, per_block=2)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def api(farm: LogFactory) -> Iterator[CountingApi]:
    served = CountingApi(farm)
    yield served
    served.stop()


@dataclass(frozen=True)
class Tiles:
    root: Path
    trust: Path  # the pinned trust root, as a file
    size: int  # the published checkpoint's


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, farm: LogFactory, api: CountingApi
) -> Tiles:
    """The farm's log published in two rounds (the second completes a partial tile)."""
    scratch = tmp_path_factory.mktemp("published")
    root, trust = scratch / "tiles", scratch / "trust.json"
    trust.write_text(farm.trust.to_json())
    size = farm.store.size
    publisher = TilePublisher(root, farm.trust, ReadApiClient(api.url))
    first = publisher.publish_once()
    assert (first.old_size, first.size) == (0, size)
    assert (root / tile_path(0, 0)).exists()
    assert (root / tile_path(0, 1, size - TILE_WIDTH)).exists()
    grow(farm, 3, per_block=2)
    result = _farmtrace("tiles", "--url", api.url, "--trust", trust, "--dir", root)
    assert result.returncode == 0, result.stderr
    assert f"published {size + 3} blocks (3 new" in result.stdout
    return Tiles(root, trust, size + 3)


def _farmtrace(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, published: Tiles) -> Iterator[StaticNginx]:
    server = StaticNginx(published.root, tmp_path_factory.mktemp("nginx")).start()
    yield server
    server.stop()


def test_the_replica_syncs_from_nginx_and_the_gateway_serves_nothing(
    tmp_path: Path, farm: LogFactory, api: CountingApi, nginx: StaticNginx, published: Tiles
) -> None:
    before, size = api.count, published.size
    replica = Replica(tmp_path / "site", [f"tiles+{nginx.url}"], trust=farm.trust)
    try:
        status = replica.sync_once()
        assert status.sources[0].last_result == "ok", status.sources[0]
        assert replica.store.size == size
        assert replica.store.root() == farm.store.root(size)
        assert replica.store.entry_count == farm.store.block(size - 1).next_index
        assert replica.store.latest_checkpoint() == (size, farm.store.checkpoint(size))
    finally:
        replica.close()
    with ThreadPoolExecutor(50) as pool:  # 50 readers at once, each its own client
        list(pool.map(_read_some, [nginx.url] * 50, [farm] * 50, range(50)))
    assert api.count == before, "the gateway was asked while readers read tiles"
    assert nginx.requests > 50


def _read_some(url: str, farm: LogFactory, n: int) -> None:
    client = TileClient(url)
    client.checkpoint()
    height = (n * 37) % (100 + n)
    assert client.block(height).entries == farm.store.block_entries(height)
    assert client.inclusion(height, 100 + n) == farm.store.inclusion_proof(height, 100 + n)


def test_farmtrace_audit_passes_on_the_tiles_url(
    api: CountingApi, nginx: StaticNginx, published: Tiles
) -> None:
    before = api.count
    result = _farmtrace("audit", "--url", f"tiles+{nginx.url}", "--trust", published.trust)
    assert result.returncode == 0, result.stdout + result.stderr
    assert api.count == before


def test_proofs_from_tiles_equal_the_read_apis(
    api: CountingApi, nginx: StaticNginx, published: Tiles
) -> None:
    tiles, dynamic = TileClient(nginx.url), ReadApiClient(api.url)
    size = published.size
    tiles.checkpoint()
    for first in (1, 5, TILE_WIDTH, size - 1):
        assert tiles.consistency(first, size) == dynamic.consistency(first, size)
    # Size 200 was never published: its hashes are read from the published tiles.
    assert not (nginx.root / tile_path(0, 0, 200)).exists()
    assert tiles.consistency(5, 200) == dynamic.consistency(5, 200)
    assert tiles.inclusion(150, 200) == dynamic.inclusion(150, 200)
    for height in (0, TILE_WIDTH - 1, TILE_WIDTH, size - 1):
        assert tiles.block(height) == dynamic.block(height)
        assert tiles.inclusion(height, size) == dynamic.inclusion(height, size)
    with pytest.raises(SourceError) as caught:
        tiles.block(size)
    assert caught.value.reason == "not_published"
    with pytest.raises(SourceError) as caught:
        tiles.subject_events("bird:1")
    assert caught.value.reason == "unsupported"


@pytest.mark.parametrize("victim", ["hash tile", "block file"])
def test_a_tampered_tile_fails_verification(
    tmp_path: Path, farm: LogFactory, published: Tiles, victim: str
) -> None:
    root = tmp_path / "tiles"
    shutil.copytree(published.root, root)
    path = root / (tile_path(0, 0) if victim == "hash tile" else block_entries_path(7))
    data = bytearray(path.read_bytes())
    data[40] ^= 1  # a hash of the tile's second leaf; a byte of block 7's first entry
    path.write_bytes(bytes(data))
    server = StaticNginx(root, tmp_path / "nginx").start()
    try:
        result = _farmtrace("audit", "--url", f"tiles+{server.url}", "--trust", published.trust)
        assert result.returncode == 1, result.stdout + result.stderr
        with Store.open(tmp_path / "copy", origin=farm.trust.origin) as store:
            follower = Follower(store, farm.trust)
            client = TileClient(server.url)
            checkpoint = follower.verify_checkpoint(client.checkpoint())
            follower.check_consistency(checkpoint, [])
            with pytest.raises(ProofError):
                for height in range(checkpoint.size):
                    block = client.block(height)
                    path_ = client.inclusion(height, checkpoint.size)
                    follower.accept_block(block.header_raw, block.entries, path_, checkpoint)
    finally:
        server.stop()


def test_a_published_immutable_file_is_never_rewritten(tmp_path: Path) -> None:
    files = TileDir(tmp_path)
    assert files.write("tile/0/000", b"a" * 32, immutable=True)
    assert not files.write("tile/0/000", b"a" * 32, immutable=True)  # the same bytes: no-op
    with pytest.raises(StorageError) as caught:
        files.write("tile/0/000", b"b" * 32, immutable=True)
    assert caught.value.reason == "tile_rewrite"
    assert files.read("tile/0/000") == b"a" * 32
    assert sorted(p.name for p in (tmp_path / "tile/0").iterdir()) == ["000"]  # no temporary left


class Rewriting:
    """The real HTTP transport, with some answers replaced."""

    def __init__(self, replace: Callable[[str, bytes], bytes]) -> None:
        self.replace = replace

    def __call__(self, method: str, url: str, timeout: float) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = urllib_transport(method, url, timeout)
        return status, headers, self.replace(url, body)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_source_that_rolls_back_or_serves_a_bad_block_publishes_nothing(
    tmp_path: Path, farm: LogFactory, api: CountingApi, published: Tiles
) -> None:
    published_root = tmp_path / "tiles"
    shutil.copytree(published.root, published_root)
    before = _snapshot(published_root)
    older = farm.store.checkpoint(TILE_WIDTH - 1).encode()
    rollback = Rewriting(lambda url, body: older if url.endswith("/checkpoint") else body)
    with pytest.raises(RollbackError):
        TilePublisher(
            published_root, farm.trust, ReadApiClient(api.url, transport=rollback)
        ).publish_once()
    grow(farm, 2, per_block=2)
    size = farm.store.size
    bad_block = Rewriting(
        lambda url, body: (
            body.replace(b'"entries":["', b'"entries":["A')
            if url.endswith(f"/blocks/{size - 1}")
            else body
        )
    )
    with pytest.raises(ProofError):
        TilePublisher(
            published_root, farm.trust, ReadApiClient(api.url, transport=bad_block)
        ).publish_once()
    after = _snapshot(published_root)
    assert {k: v for k, v in after.items() if not k.startswith("block/")} == {
        k: v for k, v in before.items() if not k.startswith("block/")
    }
    result = TilePublisher(published_root, farm.trust, ReadApiClient(api.url)).publish_once()
    assert result.size == size


@pytest.mark.parametrize("cut", [1, 32])
def test_a_truncated_tile_is_a_malformed_response(
    nginx: StaticNginx, published: Tiles, cut: int
) -> None:
    truncate = Rewriting(lambda url, body: body[:-cut] if "/tile/" in url else body)
    client = TileClient(nginx.url, transport=truncate)
    client.checkpoint()
    with pytest.raises(SourceError) as caught:
        client.inclusion(3, published.size)
    assert caught.value.reason == "malformed_response"
    with pytest.raises(SourceError) as caught:
        client.block(3)
    assert caught.value.reason == "malformed_response"


def test_follow_publishes_each_round_and_survives_a_source_outage(
    tmp_path: Path, farm: LogFactory
) -> None:
    served = CountingApi(farm)
    publisher = TilePublisher(tmp_path / "tiles", farm.trust, ReadApiClient(served.url))
    rounds: list[Published | FarmtraceError] = []
    seen = threading.Condition()

    def on_round(result: Published | FarmtraceError) -> None:
        with seen:
            rounds.append(result)
            seen.notify_all()

    stop = threading.Event()
    thread = threading.Thread(
        target=follow, args=(publisher, stop), kwargs={"interval_s": 0.05, "on_round": on_round}
    )
    thread.start()
    try:
        size = farm.store.size
        with seen:
            assert seen.wait_for(lambda: any(_size(r) == size for r in rounds), timeout=60)
        served.stop()  # the source goes away: rounds fail, the thread goes on
        with seen:
            assert seen.wait_for(lambda: isinstance(rounds[-1], SourceError), timeout=60)
        grow(farm, 2)
        served = CountingApi(farm)  # back, on another port
        publisher.client = ReadApiClient(served.url)
        with seen:
            assert seen.wait_for(lambda: _size(rounds[-1]) == size + 2, timeout=60)
    finally:
        stop.set()
        thread.join()
        served.stop()
    checkpoint = (tmp_path / "tiles" / "checkpoint").read_text()
    assert checkpoint == farm.store.checkpoint(size + 2)


def _size(result: Published | FarmtraceError) -> int | None:
    return result.size if isinstance(result, Published) else None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://x"], "expected http://HOST"),
        (["--url", "http://127.0.0.1:9", "--follow", "0"], "must be positive"),
        (["--url", "http://127.0.0.1:9", "--trust", "missing.json"], "missing.json"),
        (["--url", "http://127.0.0.1:9"], "not published"),
    ],
)
def test_farmtrace_tiles_refuses_bad_usage(
    tmp_path: Path,
    published: Tiles,
    run_cli: Callable[..., tuple[int, str, str]],
    args: list[str],
    message: str,
) -> None:
    base = {"--trust": str(published.trust), "--dir": str(tmp_path / "tiles")}
    given = dict(zip(args[::2], args[1::2], strict=True))
    code, _, err = run_cli("tiles", *[x for pair in ({**base, **given}).items() for x in pair])
    assert code == 2
    assert message in err
