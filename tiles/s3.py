"""Publishing tiles straight into an S3-compatible bucket (AWS S3, MinIO, Ceph, Garage).

Each file is one object under the location's prefix, with the
``Content-Type`` and ``Cache-Control`` nginx would give it
(:func:`tiles.store.serving`), so a CDN or the bucket's own HTTP endpoint
serves it as docs/tiles.md describes. An immutable object is written only
if it is absent: it is read first (the same bytes: nothing to do; other
bytes: refused, a fork or a corrupted bucket), then put with
``If-None-Match: *`` so that a writer racing us cannot be overwritten
either (stores without conditional writes fall back to the check alone).
botocore retries each request on 5xx answers, throttling and timeouts, with
exponential backoff; what still fails is a one-line :class:`StorageError`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chain.errors import StorageError
from tiles.s3_config import S3Location, S3Options, make_client
from tiles.store import TileStore, serving

__all__ = ["S3Bucket"]

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Bucket(TileStore):
    """The objects under ``location`` in an S3-compatible bucket.

    ``client`` (a boto3 S3 client) is made from ``options`` unless given;
    :meth:`close` closes it. The credentials need ``s3:GetObject``,
    ``s3:PutObject`` and ``s3:ListBucket`` (without the last, S3 answers a
    missing object with 403, which reads as an authorization failure).

    Raises (every method):
        StorageError: reasons ``tile_rewrite`` (an immutable object holds
            other bytes), ``tile_read`` (a missing object), ``s3_auth`` (the
            credentials are missing or refused), ``s3_no_bucket``,
            ``s3_unreachable`` (no answer after the retries), ``s3_error``
            (any other refusal, 5xx after the retries included).
    """

    def __init__(
        self, location: S3Location, options: S3Options | None = None, *, client: Any = None
    ) -> None:
        super().__init__()
        self.location = location
        self.client = client if client is not None else make_client(options or S3Options())
        self.conditional_writes = True  # until the store says it cannot

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def name(self, path: str) -> str:
        """``s3://BUCKET/PREFIX/PATH``."""
        return self.location.url(path)

    def write(self, path: str, data: bytes, *, immutable: bool) -> bool:
        """Put ``data`` at ``path``; return False if an immutable object already holds it.

        Raises:
            StorageError: ``tile_rewrite`` if ``immutable`` and the object
                holds other bytes (it is left as it was); see the class.
        """
        if not immutable:
            self._put(path, data, if_absent=False)
            return True
        held = self._get(path)
        if held is None:
            try:
                self._put(path, data, if_absent=self.conditional_writes)
                return True
            except _Refused as refused:
                if refused.code == "NotImplemented":
                    self.conditional_writes = False
                    self._put(path, data, if_absent=False)
                    return True
                held = self._get(path)  # 412 or 409: another writer got there first
                if held is None:
                    raise _storage_error(self.name(path), "write", refused.error) from None
        if held != data:
            raise self._refuse_rewrite(path)
        return False

    def read(self, path: str) -> bytes:
        """The object's bytes (StorageError ``tile_read`` if it is missing)."""
        found = self._get(path)
        if found is None:
            raise StorageError(f"{self.name(path)}: no such object", reason="tile_read")
        return found

    def exists(self, path: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self.location.key(path))
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise _storage_error(self.name(path), "check", exc) from None
        except BotoCoreError as exc:
            raise _storage_error(self.name(path), "check", exc) from None
        return True

    def _get(self, path: str) -> bytes | None:
        """The object's bytes, or None if it is missing."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(
                Bucket=self.location.bucket, Key=self.location.key(path)
            )
            with contextlib.closing(answer["Body"]) as body:
                return bytes(body.read())
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise _storage_error(self.name(path), "read", exc) from None
        except BotoCoreError as exc:
            raise _storage_error(self.name(path), "read", exc) from None

    def _put(self, path: str, data: bytes, *, if_absent: bool) -> None:
        """Put the object; raises _Refused for 412, 409 and NotImplemented if ``if_absent``."""
        from botocore.exceptions import BotoCoreError, ClientError

        how = serving(path)
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(path),
                Body=data,
                ContentType=how.content_type,
                CacheControl=how.cache_control,
                **extra,
            )
        except ClientError as exc:
            code = _code(exc)
            if if_absent and (code == "NotImplemented" or _status(exc) in (409, 412)):
                raise _Refused(code, exc) from None
            raise _storage_error(self.name(path), "write", exc) from None
        except BotoCoreError as exc:
            raise _storage_error(self.name(path), "write", exc) from None


class _Refused(Exception):
    """A conditional put not done: the object exists (412), is being written (409),
    or the store has no conditional writes (NotImplemented)."""

    def __init__(self, code: str, error: Exception) -> None:
        super().__init__(code)
        self.code = code
        self.error = error


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _storage_error(where: str, doing: str, exc: Exception) -> StorageError:
    """``exc`` (a botocore error) as one line: what failed, and what to check."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return StorageError(
            f"{where}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or pass --s3-credentials FILE)",
            reason="s3_auth",
        )
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return StorageError(f"{where}: cannot {doing}: unreachable: {exc}", reason="s3_unreachable")
    if not isinstance(exc, ClientError):
        return StorageError(f"{where}: cannot {doing}: {exc}", reason="s3_error")
    code, status = _code(exc), _status(exc)
    message = exc.response.get("Error", {}).get("Message") or code
    if code in _AUTH_CODES or status in (401, 403):
        return StorageError(
            f"{where}: cannot {doing}: the store refused our credentials ({code}: {message}); "
            "check the keys, and that they may get, put and list the bucket",
            reason="s3_auth",
        )
    if code == "NoSuchBucket":
        return StorageError(f"{where}: no such bucket", reason="s3_no_bucket")
    return StorageError(
        f"{where}: cannot {doing}: HTTP {status} {code}: {message}", reason="s3_error"
    )
