"""Reading a log from its C2SP tlog-tiles files, behind the read API client's interface.

A :class:`TileClient` is a :class:`~readapi.client.ReadApiClient` whose
``checkpoint``, ``block``, ``inclusion`` and ``consistency`` come from static
files (:mod:`chain.tiles`: ``checkpoint``, hash tiles, entry bundles, and
``block/<N>``), so that the site's replica and ``farmtrace audit --url`` can
follow a log from any static web server or CDN without asking the farm's
gateway anything. Proofs are computed here from hash tiles, as tlog-tiles
clients do; nothing is verified here (the caller's
:class:`~chain.follow.Follower` checks every proof against the signed
checkpoint, so a tampered tile fails there with a typed error).

A source URL that starts with ``tiles+`` (``tiles+https://cdn.example/farm``)
names a tiles prefix; :func:`open_client` returns the right client for any
source URL. Endpoints that need the gateway's indexes (by block hash, by
signer, by subject, whole proof bundles, ``/api/v1/log``) raise
:class:`~chain.errors.SourceError` with reason ``"unsupported"``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, NoReturn

from chain import merkle
from chain.errors import MalformedError, SourceError
from chain.proof_bundle import EntryProof
from chain.tiles import (
    TILE_WIDTH,
    block_entries_path,
    decode_bundle,
    decode_hash_tile,
    entries_path,
    tile_node_getter,
    tile_path,
    tile_width,
)
from readapi.client import FetchedBlock, ReadApiClient, Transport

__all__ = ["TILES_SCHEME_PREFIX", "TileClient", "open_client"]

TILES_SCHEME_PREFIX = "tiles+"
"""A source URL starting with this names a tlog-tiles prefix (``tiles+https://...``)."""

_CACHED_TILES = 2048  # hash tiles and entry bundles (8 KB a full hash tile)


def open_client(
    url: str, *, transport: Transport | None = None, timeout: float = 10
) -> ReadApiClient:
    """A :class:`TileClient` for a ``tiles+`` URL, else a :class:`ReadApiClient`."""
    if url.startswith(TILES_SCHEME_PREFIX):
        return TileClient(url[len(TILES_SCHEME_PREFIX) :], transport=transport, timeout=timeout)
    return ReadApiClient(url, transport=transport, timeout=timeout)


class TileClient(ReadApiClient):
    """The tlog-tiles files under ``base_url`` (an http(s) prefix), read as a read API.

    Blocks are read at the tree size of the latest checkpoint this client
    fetched (fetched first if none was); a block beyond it is not served
    (SourceError, reason ``"not_published"``): a static mirror may lag.
    Immutable tiles are cached (bounded); thread-safe as the transport is.
    """

    def __init__(
        self, base_url: str, *, transport: Transport | None = None, timeout: float = 10
    ) -> None:
        super().__init__(base_url, transport=transport, timeout=timeout)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[bytes]] = OrderedDict()
        self._size: int | None = None

    def __repr__(self) -> str:
        return f"TileClient({self.base_url!r})"

    # -- files -----------------------------------------------------------------

    def _cached(self, path: str) -> list[bytes] | None:
        with self._lock:
            found = self._cache.get(path)
            if found is not None:
                self._cache.move_to_end(path)
            return found

    def _remember(self, path: str, items: list[bytes]) -> list[bytes]:
        with self._lock:
            self._cache[path] = items
            while len(self._cache) > _CACHED_TILES:
                self._cache.popitem(last=False)
        return items

    def _decoded(self, path: str, width: int, bundle: bool) -> list[bytes]:
        """The ``width`` items of a tile (a partial one may be read from its full tile)."""
        found = self._cached(path)
        if found is not None:
            return found
        url = f"{self.base_url}/{path}"
        try:
            data = self._get(url)
        except SourceError as exc:
            if exc.status != 404 or width == TILE_WIDTH:
                raise
            # The spec lets a log drop a partial tile once the full one exists.
            full, _, _ = path.partition(".p/")
            url = f"{self.base_url}/{full}"
            data = self._get(url)
            try:
                items = decode_bundle(data) if bundle else decode_hash_tile(data, TILE_WIDTH)
            except MalformedError as error:
                raise _malformed(url, str(error)) from error
            if len(items) != TILE_WIDTH:
                raise _malformed(url, f"expected {TILE_WIDTH} items, found {len(items)}") from None
            return self._remember(path, items[:width])
        try:
            items = decode_bundle(data, width) if bundle else decode_hash_tile(data, width)
        except MalformedError as error:
            raise _malformed(url, str(error)) from error
        return self._remember(path, items)

    def _hashes(self, level: int, index: int, width: int) -> list[bytes]:
        # A tile's first hashes never change as it grows: read it as last published.
        published = tile_width(level, index, self._size or 0)
        if published > width:
            return self._decoded(tile_path(level, index, published), published, bundle=False)[
                :width
            ]
        return self._decoded(tile_path(level, index, width), width, bundle=False)

    def _tree_size(self) -> int:
        if self._size is None:
            self.checkpoint()
        assert self._size is not None
        return self._size

    # -- the read API ---------------------------------------------------------------

    def checkpoint(self) -> str:
        """The ``checkpoint`` file, exactly as served; its size becomes the size blocks are read at.

        The size is read without verifying the note (the caller verifies it).
        """
        url = self.base_url + "/checkpoint"
        note = super().checkpoint()
        lines = note.split("\n", 2)
        if len(lines) < 3 or not lines[1].isdigit() or len(lines[1]) > 20:
            raise _malformed(url, "not a checkpoint (no tree size on its second line)")
        self._size = int(lines[1])
        return note

    def block(self, height: int) -> FetchedBlock:
        """Block ``height``: its header from the entry bundle, its entries from ``block/<N>``."""
        size = self._tree_size()
        if type(height) is not int or height < 0:
            raise ValueError(f"height: expected a non-negative int, got {height!r}")
        if height >= size:
            raise SourceError(
                f"{self.base_url}: block {height} is beyond the published checkpoint (size {size})",
                reason="not_published",
                url=self.base_url,
            )
        index, offset = divmod(height, TILE_WIDTH)
        width = tile_width(0, index, size)
        header_raw = self._decoded(entries_path(index, width), width, bundle=True)[offset]
        url = f"{self.base_url}/{block_entries_path(height)}"
        try:
            entries = decode_bundle(self._get(url))
        except MalformedError as exc:
            raise _malformed(url, str(exc)) from exc
        return FetchedBlock(height, header_raw, entries)

    def inclusion(self, height: int, tree_size: int) -> list[bytes]:
        """Audit path of block ``height`` in the tree of ``tree_size``, from hash tiles."""
        try:
            get = tile_node_getter(self._hashes, tree_size)
            return merkle.inclusion_proof_from_nodes(get, height, tree_size)
        except ValueError as exc:
            raise ValueError(f"inclusion of {height} in {tree_size}: {exc}") from exc

    def consistency(self, first: int, second: int) -> list[bytes]:
        """Consistency proof from tree size ``first`` to ``second``, from hash tiles."""
        get = tile_node_getter(self._hashes, second)
        return merkle.consistency_proof_from_nodes(get, first, second)

    # -- what needs the gateway's indexes -------------------------------------------

    def _unsupported(self, what: str) -> NoReturn:
        raise SourceError(
            f"{self.base_url}: a tiles source cannot serve {what} (ask a read API)",
            reason="unsupported",
            url=self.base_url,
        )

    def log_info(self) -> dict[str, Any]:
        """Not in tiles: raises SourceError (``unsupported``)."""
        self._unsupported("the log's description")

    def block_by_hash(self, block_hash: str) -> FetchedBlock:
        """Not in tiles: raises SourceError (``unsupported``)."""
        self._unsupported("blocks by hash")

    def entry_proof(self, index: int, tree_size: int | None = None) -> EntryProof:
        """Not in tiles: raises SourceError (``unsupported``)."""
        self._unsupported("entry proof bundles")

    def signer(self, signer_id: str, tree_size: int | None = None) -> dict[str, Any]:
        """Not in tiles: raises SourceError (``unsupported``)."""
        self._unsupported("signers")

    def subject_events(self, subject: str) -> list[tuple[int, bytes]]:
        """Not in tiles: raises SourceError (``unsupported``)."""
        self._unsupported("subjects' events")


def _malformed(url: str, message: str) -> SourceError:
    return SourceError(
        f"{url}: malformed response: {message}", reason="malformed_response", url=url
    )
