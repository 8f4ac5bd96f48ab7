"""provisioning.broker_logins: passwords from a credentials file, URLs completed with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.broker_logins import broker_admin, fill_password, read_passwords, with_password
from signer.mqtt_url import parse_mqtt_url


def test_passwords_are_read_flat_or_under_passwords(tmp_path: Path) -> None:
    flat, nested = tmp_path / "flat.json", tmp_path / "nested.json"
    flat.write_text(json.dumps({"admin": "pw1"}))
    nested.write_text(json.dumps({"passwords": {"admin": "pw2"}, "farm": "farm1"}))
    assert read_passwords(flat) == {"admin": "pw1"}
    assert read_passwords(nested) == {"admin": "pw2"}
    assert read_passwords(None) == {}


@pytest.mark.parametrize("doc", [[], {"passwords": ["admin"]}, {"admin": 5}])
def test_a_malformed_credentials_file_is_refused_by_name(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"credentials\.json: expected a JSON object"):
        read_passwords(path)


def test_a_url_without_password_takes_its_users_password() -> None:
    url = parse_mqtt_url("mqtt://admin@gw.local:1884")
    assert fill_password(url, {"admin": "pw"}).password == "pw"
    assert fill_password(url, {"other": "pw"}) == url
    given = parse_mqtt_url("mqtt://admin:mine@gw.local")
    assert fill_password(given, {"admin": "pw"}).password == "mine"


def test_a_login_needs_a_user_and_a_password() -> None:
    with pytest.raises(ValueError, match=r"--mqtt: expected mqtt://USER:PASSWORD"):
        with_password(parse_mqtt_url("mqtt://admin@gw.local"), {}, "--mqtt")
    with pytest.raises(ValueError, match=r"--broker-admin: expected"):
        broker_admin(parse_mqtt_url("mqtt://gw.local"), {"admin": "pw"})
    admin = broker_admin(parse_mqtt_url("mqtt://admin@gw.local:1884"), {"admin": "pw"})
    assert (admin.host, admin.port, admin.user, admin.password) == (
        "gw.local",
        1884,
        "admin",
        "pw",
    )
