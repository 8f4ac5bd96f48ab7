"""Publishing a log as C2SP tlog-tiles static files, for any web server or CDN to serve.

:class:`TilePublisher` follows a log through its read API (the gateway's or a
replica's), checks what it is given against the pinned trust root, and writes
the checkpoint, hash tiles, entry bundles and ``block/<N>`` files
(:mod:`chain.tiles`) into a :class:`~tiles.store.TileStore`: a directory
(:mod:`tiles.files`) or an S3-compatible bucket (:mod:`tiles.s3`, needs the
``s3`` extra: boto3), immutable files once, the checkpoint last::

    publisher = TilePublisher(Path("/srv/tiles"), trust, ReadApiClient("http://gateway:8080"))
    result = publisher.publish_once()
    bucket = open_store("s3://tiles/farm", S3Options(endpoint_url="http://minio:9000"))
    TilePublisher(bucket, trust, ReadApiClient("http://gateway:8080")).publish_once()

Readers use :class:`readapi.tile_client.TileClient` (a ``tiles+https://``
source URL). ``tiles`` imports only :mod:`chain` and :mod:`readapi`.
"""

from __future__ import annotations

from tiles.publisher import Published, TilePublisher, follow
from tiles.s3_config import S3Options
from tiles.store import TileStore
from tiles.targets import open_store

__all__ = ["Published", "S3Options", "TilePublisher", "TileStore", "follow", "open_store"]
