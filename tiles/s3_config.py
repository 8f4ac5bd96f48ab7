"""Where in a bucket to publish, and how to reach it: ``s3://`` URLs, options, credentials.

The credentials come from the standard places (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``~/.aws/credentials``, an
instance role) or, with :attr:`S3Options.credentials_file`, from a file in
the same INI format; never from arguments (anyone can read them with ``ps``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.errors import MalformedError, StorageError

__all__ = ["S3_SCHEME", "S3Location", "S3Options", "make_client"]

S3_SCHEME = "s3://"
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")


@dataclass(frozen=True, slots=True)
class S3Location:
    """A prefix in a bucket: ``s3://BUCKET/PREFIX`` (``prefix`` without outer slashes)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """The location ``url`` names.

        Raises:
            MalformedError: not ``s3://BUCKET[/PREFIX]``, a bad bucket name, or
                an empty, ``.`` or ``..`` segment in the prefix.
        """
        if not url.startswith(S3_SCHEME):
            raise MalformedError(f"{url!r}: expected s3://BUCKET[/PREFIX]")
        bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise MalformedError(
                f"{url!r}: expected a bucket name of letters, digits, '.', '-' and '_', "
                f"found {bucket!r}"
            )
        prefix = prefix.strip("/")
        if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
            raise MalformedError(f"{url!r}: expected a prefix without empty, . or .. segments")
        return cls(bucket, prefix)

    def key(self, path: str) -> str:
        """The object key of the file at ``path``."""
        return f"{self.prefix}/{path}" if self.prefix else path

    def url(self, path: str = "") -> str:
        """``s3://BUCKET/PREFIX/PATH``, for messages."""
        return f"{S3_SCHEME}{self.bucket}/{self.key(path)}".rstrip("/")


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach the bucket.

    ``endpoint_url`` names a non-AWS store (MinIO, Ceph, Garage; path-style
    addressing is used then); ``region`` defaults to the standard
    configuration's, else ``us-east-1``; ``credentials_file`` (INI, as
    ``~/.aws/credentials``; its ``profile`` section) replaces the standard
    places. Each request is tried up to ``attempts`` times (5xx, throttling,
    timeouts, broken connections), with exponential backoff and jitter;
    ``timeout_s`` bounds connecting and each read.
    """

    endpoint_url: str | None = None
    region: str | None = None
    credentials_file: Path | None = None
    profile: str = "default"
    attempts: int = 5
    timeout_s: float = 30.0


def _file_credentials(path: Path, profile: str) -> dict[str, str]:
    """The keys in section ``profile`` of the INI credentials file ``path``.

    Raises:
        MalformedError: the file cannot be read or parsed, or the section has
            no ``aws_access_key_id`` and ``aws_secret_access_key``.
    """
    from botocore.configloader import raw_config_parse
    from botocore.exceptions import ConfigNotFound, ConfigParseError

    try:
        sections = raw_config_parse(str(path), parse_subsections=False)
    except ConfigNotFound:
        raise MalformedError(f"{path}: no such credentials file") from None
    except (ConfigParseError, OSError) as exc:
        raise MalformedError(f"{path}: not an INI credentials file ({exc})") from None
    section = sections.get(profile, {})
    missing = [k for k in ("aws_access_key_id", "aws_secret_access_key") if not section.get(k)]
    if missing:
        raise MalformedError(f"{path}: expected [{profile}] with {' and '.join(missing)}")
    found = {
        "aws_access_key_id": str(section["aws_access_key_id"]),
        "aws_secret_access_key": str(section["aws_secret_access_key"]),
    }
    if section.get("aws_session_token"):
        found["aws_session_token"] = str(section["aws_session_token"])
    return found


def make_client(options: S3Options) -> Any:
    """A boto3 S3 client as ``options`` say (close it when done).

    Raises:
        MalformedError: the credentials file is unusable.
        StorageError: boto3 is not installed (reason ``s3_unavailable``).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise StorageError(
            "publishing to s3:// needs boto3: pip install 'farmtrace[s3]'",
            reason="s3_unavailable",
        ) from None
    keys = (
        {}
        if options.credentials_file is None
        else _file_credentials(options.credentials_file, options.profile)
    )
    session = boto3.Session(**keys)
    config = Config(
        region_name=options.region or session.region_name or "us-east-1",
        retries={"total_max_attempts": options.attempts, "mode": "standard"},
        connect_timeout=options.timeout_s,
        read_timeout=options.timeout_s,
        max_pool_connections=16,  # the publisher writes from several threads
        s3={"addressing_style": "path"} if options.endpoint_url else {},
        # Other stores than AWS's may refuse the newer default checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra="farmtrace-tiles",
    )
    return session.client("s3", endpoint_url=options.endpoint_url, config=config)
