"""Publishing tiles straight into an S3-compatible bucket: moto's S3 server over real HTTP.

The publisher (``farmtrace tiles --to s3://...``, and :class:`tiles.s3.S3Bucket`
under it) writes the log into a bucket through boto3; the site's replica
then follows the bucket's plain HTTP URL (``tiles+http://HOST/BUCKET/PREFIX``)
and verifies every block. A bucket that already holds another tile, a store
that answers 503 or has no conditional writes, and refused or missing
credentials are each met as a user would meet them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from farm_logs import LogFactory
from followed_logs import HttpLog, grow, serve
from moto_s3 import REGION, MotoS3, credentials_file

from chain.errors import StorageError
from chain.tiles import TILE_WIDTH, block_entries_path, tile_path
from consumer_web._replica import Replica
from readapi.client import ReadApiClient
from tiles import S3Options, TilePublisher, open_store
from tiles.s3 import S3Bucket

BUCKET = "tiles"
_GARBAGE = b"\xee" * 32 * TILE_WIDTH  # a full hash tile's length, other bytes
_PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PublicTiles",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return credentials_file(tmp_path_factory.mktemp("s3") / "credentials.ini")


@pytest.fixture(scope="module")
def admin(s3: MotoS3) -> Iterator[Any]:
    """The bucket's owner, for setting the scene and looking at it."""
    client = boto3.client(
        "s3",
        endpoint_url=s3.url,
        region_name=REGION,
        aws_access_key_id="AKIAADMIN",
        aws_secret_access_key="admin",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(_PUBLIC_READ))  # docs/tiles.md's
    yield client
    client.close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogFactory]:
    factory = LogFactory(tmp_path_factory.mktemp("farm") / "log")
    grow(factory, TILE_WIDTH - 10, per_block=1)  # a partial level-0 tile
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def api(farm: LogFactory) -> Iterator[HttpLog]:
    served = serve(farm)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory, farm: LogFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "trust.json"
    path.write_text(farm.trust.to_json())
    return path


def _bucket(s3: MotoS3, creds: Path, prefix: str, **options: Any) -> S3Bucket:
    store = open_store(
        f"s3://{BUCKET}/{prefix}",
        S3Options(endpoint_url=s3.url, region=REGION, credentials_file=creds, **options),
    )
    assert isinstance(store, S3Bucket)
    return store


def _keys(admin: Any, prefix: str) -> set[str]:
    pages = admin.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _object(admin: Any, key: str) -> bytes:
    answer = admin.get_object(Bucket=BUCKET, Key=key)
    with answer["Body"] as body:
        return bytes(body.read())


def _with_a_full_tile(farm: LogFactory) -> None:
    if farm.store.size <= TILE_WIDTH:
        grow(farm, TILE_WIDTH + 1 - farm.store.size, per_block=1)


def _farmtrace(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farmtrace", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_replica_syncs_from_the_bucket_and_republishing_only_adds_objects(
    tmp_path: Path,
    s3: MotoS3,
    admin: Any,
    creds: Path,
    farm: LogFactory,
    api: HttpLog,
    trust: Path,
) -> None:
    with _bucket(s3, creds, "farm") as bucket:
        first = TilePublisher(bucket, farm.trust, ReadApiClient(api.url)).publish_once()
    assert (first.old_size, first.size) == (0, farm.store.size) and first.size < TILE_WIDTH
    # Served with the headers nginx gives (tests/nginx_static.py): readers' GETs are unsigned.
    with urllib.request.urlopen(f"{s3.url}/{BUCKET}/farm/checkpoint") as answer:
        assert answer.headers["Cache-Control"] == "no-cache"
        assert answer.headers["Content-Type"].startswith("text/plain")
        assert answer.read().decode() == farm.store.checkpoint(first.size)
    for path in (tile_path(0, 0, first.size), block_entries_path(3)):
        with urllib.request.urlopen(f"{s3.url}/{BUCKET}/farm/{path}") as answer:
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert answer.headers["Content-Type"] == "application/octet-stream"
    before, mark = _keys(admin, "farm"), len(s3.requests)

    grow(farm, 30, per_block=1)  # completes the tile
    s3.failed, s3.fail_next = 0, 3  # 503s, retried
    result = _farmtrace(
        "tiles", "--url", api.url, "--trust", trust, "--to", f"s3://{BUCKET}/farm",
        "--s3-endpoint", s3.url, "--s3-region", REGION, "--s3-credentials", creds,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    size = farm.store.size
    assert f"published {size} blocks (30 new" in result.stdout
    assert s3.failed == 3
    puts = s3.puts(mark)
    checkpoint = f"/{BUCKET}/farm/checkpoint"
    assert puts[-1] == checkpoint and puts.count(checkpoint) == 1, "the checkpoint goes last"
    assert not {p.removeprefix(f"/{BUCKET}/") for p in puts[:-1]} & before, "a rewrite"
    after = _keys(admin, "farm")
    assert before < after and f"farm/{tile_path(0, 0)}" in after

    replica = Replica(tmp_path / "site", [f"tiles+{s3.url}/{BUCKET}/farm"], trust=farm.trust)
    try:
        status = replica.sync_once()
        assert status.sources[0].last_result == "ok", status.sources[0]
        assert replica.store.size == size
        assert replica.store.root() == farm.store.root(size)
        assert replica.store.latest_checkpoint() == (size, farm.store.checkpoint(size))
    finally:
        replica.close()


@pytest.mark.parametrize("when", ["already there", "written while we checked", "no If-None-Match"])
def test_a_bucket_holding_another_tile_is_refused(
    s3: MotoS3, admin: Any, creds: Path, farm: LogFactory, api: HttpLog, when: str
) -> None:
    _with_a_full_tile(farm)
    prefix = {"already there": "forked", "written while we checked": "raced"}.get(when, "plain")
    key = f"{prefix}/{tile_path(0, 0)}"
    admin.put_object(Bucket=BUCKET, Key=key, Body=_GARBAGE)
    if when == "written while we checked":  # so only If-None-Match: * stops the overwrite
        s3.hidden.add(f"/{BUCKET}/{key}")
    s3.conditional_writes = when != "no If-None-Match"  # the store answers it with 501
    mark = len(s3.requests)
    try:
        with _bucket(s3, creds, prefix) as bucket:
            with pytest.raises(StorageError) as caught:
                TilePublisher(bucket, farm.trust, ReadApiClient(api.url)).publish_once()
            assert caught.value.reason == "tile_rewrite"
            assert bucket.refused["tile_rewrite"] == 1
            assert bucket.conditional_writes == (when != "no If-None-Match")
    finally:
        s3.conditional_writes = True
    assert "refusing to replace it" in str(caught.value)
    assert _object(admin, key) == _GARBAGE
    written = _keys(admin, prefix)
    assert f"{prefix}/checkpoint" not in written
    assert f"{prefix}/tile/entries/000" in written  # the full tile written before this one
    tried = s3.puts(mark).count(f"/{BUCKET}/{key}")
    assert tried == (1 if when == "written while we checked" else 0)


def test_5xx_answers_after_the_retries_are_one_line(
    s3: MotoS3, creds: Path, farm: LogFactory, api: HttpLog
) -> None:
    s3.failed, s3.fail_next = 0, 1000
    try:
        with (
            _bucket(s3, creds, "flaky", attempts=3) as bucket,
            pytest.raises(StorageError) as caught,
        ):
            TilePublisher(bucket, farm.trust, ReadApiClient(api.url)).publish_once()
    finally:
        s3.fail_next = 0
    assert s3.failed == 3
    assert caught.value.reason == "s3_error"
    assert "503" in str(caught.value) and "\n" not in str(caught.value)


def test_refused_or_missing_credentials_are_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3: MotoS3,
    trust: Path,
    api: HttpLog,
    run_cli: Callable[..., tuple[int, str, str]],
) -> None:
    args = ["tiles", "--url", api.url, "--trust", trust, "--to", f"s3://{BUCKET}/denied"]
    args += ["--s3-endpoint", s3.url, "--s3-region", REGION]
    wrong = credentials_file(tmp_path / "wrong.ini", key_id="AKIAWRONG", secret="nope")
    with s3.require_auth():
        code, _, err = run_cli(*args, "--s3-credentials", wrong)
    assert code == 2, err
    assert _one_line(err).endswith("check the keys, and that they may get, put and list the bucket")
    assert "the store refused our credentials" in err

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_cli(*args)
    assert code == 2, err
    assert "no S3 credentials" in _one_line(err)


def _one_line(err: str) -> str:
    """The command's one error line (other lines are the test servers' logs)."""
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("farmtrace tiles:")]
    assert len(ours) == 1, err
    return ours[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "s3://"], "expected a bucket name"),
        (["--to", "s3://tiles/a//b"], "without empty"),
        (["--to", "s3://tiles", "--s3-credentials", "missing.ini"], "missing.ini"),
        (["--to", "s3://tiles", "--s3-endpoint", "minio:9000"], "--s3-endpoint"),
        (["--dir", "out", "--s3-endpoint", "http://minio:9000"], "need --to s3://"),
    ],
)
def test_farmtrace_tiles_refuses_bad_bucket_usage(
    trust: Path, run_cli: Callable[..., tuple[int, str, str]], args: list[str], message: str
) -> None:
    code, _, err = run_cli("tiles", "--url", "http://127.0.0.1:9", "--trust", trust, *args)
    assert code == 2
    assert message in err
