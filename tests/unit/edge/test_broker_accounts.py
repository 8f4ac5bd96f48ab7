"""The dynamic security plugin's file: every login kept, each device confined to its own topics."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from gateway.broker_config import BrokerSettings, render_config, write_broker_files
from gateway.dynsec_file import (
    ACCOUNTS_ROLE,
    DYNSEC_FILE,
    GATEWAY_ROLE,
    SIGNER_ROLE,
    merge_dynsec,
    render_dynsec,
)

USERS = {"gateway": "g-pw", "broker-admin": "a-pw", "b1-temp": "t-pw"}


def _render(users: dict[str, str] = USERS) -> dict[str, object]:
    return render_dynsec("farm1", users, gateway_user="gateway", accounts_user="broker-admin")


def _clients(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    clients = doc["clients"]
    assert isinstance(clients, list)
    return {c["username"]: c for c in clients}


def _acls(doc: dict[str, object], role: str) -> set[tuple[str, str]]:
    roles = doc["roles"]
    assert isinstance(roles, list)
    (found,) = [r for r in roles if r["rolename"] == role]
    return {(a["acltype"], a["topic"]) for a in found["acls"]}


def test_each_login_has_its_role_and_a_hash_of_its_password() -> None:
    doc = _render()
    clients = _clients(doc)
    assert clients["gateway"]["roles"] == [{"rolename": GATEWAY_ROLE}]
    assert clients["broker-admin"]["roles"] == [{"rolename": ACCOUNTS_ROLE}]
    assert clients["b1-temp"]["roles"] == [{"rolename": SIGNER_ROLE + "b1-temp"}]
    device = clients["b1-temp"]
    salt = base64.b64decode(str(device["salt"]))
    digest = hashlib.pbkdf2_hmac("sha512", b"t-pw", salt, int(str(device["iterations"])))
    assert base64.b64decode(str(device["password"])) == digest
    assert "t-pw" not in json.dumps(doc)


def test_a_device_may_publish_only_its_own_topics_and_nothing_is_granted_by_default() -> None:
    doc = _render()
    assert _acls(doc, SIGNER_ROLE + "b1-temp") == {
        ("publishClientSend", "farmtrace/farm1/b1-temp/entry"),
        ("publishClientSend", "farmtrace/farm1/b1-temp/status"),
        ("publishClientReceive", "farmtrace/farm1/b1-temp/receipt"),
        ("subscribePattern", "farmtrace/farm1/b1-temp/receipt"),
    }
    assert ("publishClientSend", "farmtrace/farm1/+/receipt") in _acls(doc, GATEWAY_ROLE)
    assert not any(doc["defaultACLAccess"][k] for k in ("publishClientSend", "subscribe"))  # type: ignore[index]


def test_merging_keeps_every_existing_login_exactly_and_adds_only_missing_ones() -> None:
    live = _render()
    live_clients = live["clients"]
    assert isinstance(live_clients, list)
    live_clients.append({"username": "added-live", "password": "x", "salt": "y", "roles": []})
    merged = merge_dynsec(
        live,
        "farm1",
        {"gateway": "new", "broker-admin": "new", "b2-hum": "h-pw"},
        gateway_user="gateway",
        accounts_user="broker-admin",
    )
    clients = _clients(merged)
    assert set(clients) == {"gateway", "broker-admin", "b1-temp", "added-live", "b2-hum"}
    for name, before in _clients(live).items():
        assert clients[name] == before  # passwords not reset by a rerun
    assert _acls(merged, SIGNER_ROLE + "b2-hum")


@pytest.mark.parametrize(
    ("existing", "message"),
    [({"clients": [{"no": "name"}]}, "username"), ({}, "users must include")],
)
def test_merging_refuses_what_is_not_a_plugin_file_or_lacks_the_gateway(
    existing: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        merge_dynsec(
            existing, "farm1", {"x": "y"}, gateway_user="gateway", accounts_user="broker-admin"
        )


def _settings(tmp_path: Path, users: dict[str, str]) -> BrokerSettings:
    return BrokerSettings(
        farm="farm1",
        state_dir=tmp_path / "state",
        users=users,
        dynsec_plugin="/usr/lib/x/mosquitto_dynamic_security.so",
    )


def test_config_loads_the_plugin_instead_of_password_and_acl_files(tmp_path: Path) -> None:
    text = render_config(_settings(tmp_path, USERS), tmp_path)
    assert "plugin /usr/lib/x/mosquitto_dynamic_security.so\n" in text
    assert f"plugin_opt_config_file {tmp_path / DYNSEC_FILE}\n" in text
    assert "password_file" not in text and "acl_file" not in text
    assert "use_username_as_clientid true" in text


def test_writing_again_with_fewer_users_drops_no_login(tmp_path: Path) -> None:
    files = write_broker_files(_settings(tmp_path, USERS), tmp_path)
    assert files.password_file is None and not (tmp_path / "passwd").exists()
    path = tmp_path / DYNSEC_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    first = json.loads(path.read_text())
    write_broker_files(_settings(tmp_path, {"gateway": "g", "broker-admin": "a"}), tmp_path)
    assert _clients(json.loads(path.read_text())) == _clients(first)


def test_settings_refuse_a_plugin_without_its_accounts_user(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accounts user"):
        _settings(tmp_path, {"gateway": "g"})
