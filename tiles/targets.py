"""The store an output URL names: ``s3://BUCKET/PREFIX`` a bucket, anything else a directory."""

from __future__ import annotations

from pathlib import Path

from tiles.files import TileDir
from tiles.s3 import S3Bucket
from tiles.s3_config import S3_SCHEME, S3Location, S3Options
from tiles.store import TileStore

__all__ = ["open_store"]


def open_store(to: str, s3: S3Options | None = None) -> TileStore:
    """The store ``to`` names; ``s3`` says how to reach a bucket (ignored for a directory).

    Close an :class:`~tiles.s3.S3Bucket` when done.

    Raises:
        MalformedError: a bad ``s3://`` URL or credentials file.
        StorageError: boto3 is missing (reason ``s3_unavailable``).
    """
    if to.startswith(S3_SCHEME):
        return S3Bucket(S3Location.parse(to), s3)
    return TileDir(Path(to))
