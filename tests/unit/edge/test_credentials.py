"""MQTT passwords from files or systemd credentials, never from process arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer.credentials import broker_url_text, mqtt_url_with_secret, read_secret
from signer.mqtt_url import parse_mqtt_url


def _secret(tmp_path: Path, text: bytes, name: str = "pw") -> Path:
    path = tmp_path / name
    path.write_bytes(text)
    return path


def test_the_password_comes_from_its_file(tmp_path: Path) -> None:
    path = _secret(tmp_path, b"s3cr:et@/x\n")
    url = mqtt_url_with_secret("mqtt://gateway@broker.farm:8883", path, environ={})
    assert (url.username, url.password, url.host, url.port) == (
        "gateway",
        "s3cr:et@/x",
        "broker.farm",
        8883,
    )
    assert "s3cr" not in str(url) and "s3cr" not in repr(url)
    assert parse_mqtt_url(broker_url_text(url)) == url  # round trip through the desk's config


def test_systemd_credentials_are_used_when_no_file_is_given(tmp_path: Path) -> None:
    _secret(tmp_path, b"from-systemd", name="mqtt-password")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    url = mqtt_url_with_secret("mqtt://gateway@127.0.0.1", None, environ=environ)
    assert url.password == "from-systemd"
    empty = tmp_path / "empty"
    empty.mkdir()
    url = mqtt_url_with_secret(
        "mqtt://gateway@127.0.0.1", None, {"CREDENTIALS_DIRECTORY": str(empty)}
    )
    assert url.password is None


@pytest.mark.parametrize(
    ("url", "content", "message"),
    [
        ("mqtt://gateway:pw@h", b"other\n", "holds a password, and"),
        ("mqtt://h", b"pw\n", "needs a user name"),
        ("mqtt://gateway@h", b"", "expected one line"),
        ("mqtt://gateway@h", b"\n", "expected one line"),
        ("mqtt://gateway@h", b"a\nb\n", "expected one line holding the password, found 2"),
        ("mqtt://gateway@h", b"\xff\xfe", "expected UTF-8"),
        ("mqtt://gateway@h", b"x" * 5000, "at most 4096 bytes"),
    ],
)
def test_bad_secrets_are_clear_errors(
    tmp_path: Path, url: str, content: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        mqtt_url_with_secret(url, _secret(tmp_path, content), environ={})


def test_a_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"MQTT password: .*No such file"):
        mqtt_url_with_secret("mqtt://gateway@h", tmp_path / "absent", environ={})


def test_read_secret_keeps_inner_spaces_and_drops_crlf(tmp_path: Path) -> None:
    assert read_secret(_secret(tmp_path, b" a b \r\n")) == " a b "
