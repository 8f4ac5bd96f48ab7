"""The gateway's admin socket, in process over a real Unix socket and a real store."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm_logs import LogFactory
from followed_logs import grow

from chain.errors import SourceError
from chain.store import Store
from gateway.admin_socket import AdminSocket, back_up, request_backup


@pytest.fixture
def served(tmp_path: Path) -> Iterator[LogFactory]:
    factory = LogFactory(tmp_path / "gw")
    grow(factory, 3)
    admin = AdminSocket(factory.store, factory.data_dir)
    assert admin.start()
    yield factory
    admin.stop()
    assert not factory.data_dir.admin_socket.exists()
    factory.close()


def _ask(path: Path, line: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(line)
        with conn.makefile("rb") as answers:
            answer = json.loads(answers.readline())
    assert isinstance(answer, dict)
    return answer


def test_the_socket_backs_up_the_open_store_and_only_its_user_may_ask(
    served: LogFactory, tmp_path: Path
) -> None:
    sock = served.data_dir.admin_socket
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    manifest = request_backup(served.data_dir, tmp_path / "b", include_keys=False)
    assert (manifest.blocks, manifest.checkpoint_size) == (4, 4)
    with Store.open(tmp_path / "b" / "log") as copy:
        assert copy.root() == served.store.root()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json\n", "admin request: expected JSON"),
        (b'{"op": "restore", "out": "/x"}\n', "expected op 'backup'"),
        (b'{"op": "backup", "out": "relative"}\n', "absolute 'out' path"),
        (b'{"op": "backup", "out": "/x", "include_keys": 1}\n', "true or false"),
    ],
)
def test_a_bad_request_gets_a_clear_refusal(served: LogFactory, line: bytes, error: str) -> None:
    answer = _ask(served.data_dir.admin_socket, line)
    assert answer["ok"] is False and error in str(answer["error"])


def test_an_existing_target_is_refused_and_left_alone(served: LogFactory, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(SourceError, match="already exists"):
        request_backup(served.data_dir, tmp_path / "b", include_keys=False)
    assert list((tmp_path / "b").iterdir()) == []


def test_a_stale_socket_file_means_a_stopped_gateway(tmp_path: Path) -> None:
    factory = LogFactory(tmp_path / "gw")
    factory.close()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(factory.data_dir.admin_socket))  # left by a crashed gateway
    stale.close()
    manifest = back_up(factory.data_dir, tmp_path / "b", include_keys=True, now_ms=5)
    assert manifest.keys_included and (tmp_path / "b" / "keys" / "log.key").exists()
