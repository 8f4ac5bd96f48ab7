"""Publishing a log as C2SP tlog-tiles static files, for any web server or CDN to serve.

:class:`TilePublisher` follows a log through its read API (the gateway's or a
replica's), checks what it is given against the pinned trust root, and writes
the checkpoint, hash tiles, entry bundles and ``block/<N>`` files
(:mod:`chain.tiles`) into a directory: immutable files once, atomically,
the checkpoint last::

    publisher = TilePublisher(Path("/srv/tiles"), trust, ReadApiClient("http://gateway:8080"))
    result = publisher.publish_once()

Readers use :class:`readapi.tile_client.TileClient` (a ``tiles+https://``
source URL). ``tiles`` imports only :mod:`chain` and :mod:`readapi`.
"""

from __future__ import annotations

from tiles.publisher import Published, TilePublisher, follow

__all__ = ["Published", "TilePublisher", "follow"]
