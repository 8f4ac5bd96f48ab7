"""Rendering the Mosquitto config, password file and ACL (pure; the real broker runs them in
tests/integration/test_broker_*.py)."""

from __future__ import annotations

import base64
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.broker_config import (
    BrokerSettings,
    TlsFiles,
    hash_password,
    new_password,
    render_acl,
    render_config,
    render_password_file,
    verify_password,
    write_broker_files,
)

# Written by mosquitto_passwd 2.0.11 (`mosquitto_passwd -b -c FILE alice secret`).
MOSQUITTO_PASSWD_LINE = (
    "alice:$7$101$XOLj9wJyzOWelDE9$bEMeDxYYgVrKq81NRJPVteks2zWP10WAcDJ0LjX5vKPKpEm"
    "MEAbLAEcN9RX3tqgrb+btNlRG+dMUiwo6YK/WPA=="
)
STATE = Path("/var/lib/mosquitto")
USERS = {"gateway": "gw-pw", "dev-a": "a-pw"}


def settings(**overrides: object) -> BrokerSettings:
    base = BrokerSettings(farm="farm1", state_dir=STATE, users=USERS)
    return replace(base, **overrides)  # type: ignore[arg-type]


def options(config: str) -> list[tuple[str, str]]:
    """(option, value) pairs of a mosquitto.conf, comments dropped."""
    lines = [line for line in config.splitlines() if line and not line.startswith("#")]
    return [(line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in lines]


def test_our_hash_of_mosquitto_passwds_salt_is_its_line_exactly() -> None:
    user, encoded = MOSQUITTO_PASSWD_LINE.split(":", 1)
    assert user == "alice"
    salt = base64.b64decode(encoded.split("$")[3])
    assert len(salt) == 12
    assert hash_password("secret", salt=salt, iterations=101) == encoded
    assert verify_password(encoded, "secret")
    assert not verify_password(encoded, "Secret")


def test_hashes_have_mosquittos_shape_and_fresh_salts() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second
    for encoded in (first, second):
        empty, tag, iterations, salt, digest = encoded.split("$")
        assert (empty, tag, iterations) == ("", "7", "101")
        assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
        assert verify_password(encoded, "pw")
    assert verify_password(hash_password("pw", iterations=1000), "pw")


@pytest.mark.parametrize(
    "encoded", ["", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$101$not base64!$AAAA", "$7$101$AAAA"]
)
def test_verify_rejects_what_is_not_a_pbkdf2_hash(encoded: str) -> None:
    with pytest.raises(ValueError, match=r"\$7\$"):
        verify_password(encoded, "pw")


def test_new_passwords_are_long_random_and_url_safe() -> None:
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == 43 and p.replace("-", "").replace("_", "").isalnum() for p in passwords)


def test_password_file_has_one_verifiable_line_per_user_sorted() -> None:
    lines = render_password_file(USERS).splitlines()
    assert [line.split(":")[0] for line in lines] == ["dev-a", "gateway"]
    for line in lines:
        user, encoded = line.split(":", 1)
        assert verify_password(encoded, USERS[user])


def test_acl_confines_devices_to_their_own_topics_and_the_gateway_to_its_role() -> None:
    acl = [line for line in render_acl(settings()).splitlines() if line[:1] not in ("#", "")]
    assert acl == [
        "user gateway",
        "topic read farmtrace/farm1/+/entry",
        "topic read farmtrace/farm1/+/status",
        "topic write farmtrace/farm1/+/receipt",
        "topic read $SYS/broker/#",
        "pattern write farmtrace/farm1/%u/entry",
        "pattern write farmtrace/farm1/%u/status",
        "pattern read farmtrace/farm1/%u/receipt",
    ]
    assert "user ops-gw" in render_acl(settings(gateway_user="ops-gw", users={"ops-gw": "x"}))


def test_config_with_users_sets_what_design_md_requires() -> None:
    conf = options(render_config(settings(max_inflight_messages=500), Path("/etc/ft")))
    as_dict = dict(conf)
    assert conf[0] == ("per_listener_settings", "false")  # before any listener
    # A listener option: the client id is the username, on this listener.
    assert conf[-2:] == [("listener", "1883 127.0.0.1"), ("use_username_as_clientid", "true")]
    assert as_dict["set_tcp_nodelay"] == "true"
    assert as_dict["max_packet_size"] == "8192"
    assert as_dict["max_queued_messages"] == "200000"
    assert as_dict["max_queued_bytes"] == str(64 * 1024 * 1024)
    assert as_dict["max_inflight_messages"] == "500"
    assert as_dict["persistence"] == "true"
    assert as_dict["persistence_location"] == "/var/lib/mosquitto/"
    assert as_dict["persistent_client_expiration"] == "14d"
    assert as_dict["allow_anonymous"] == "false"
    assert as_dict["password_file"] == "/etc/ft/passwd"
    assert as_dict["acl_file"] == "/etc/ft/acl"
    assert "user" not in as_dict and "cafile" not in as_dict


def test_config_without_users_is_anonymous_loopback_only() -> None:
    conf = dict(options(render_config(settings(users={}), Path("/etc/ft"))))
    assert conf["allow_anonymous"] == "true"
    assert "password_file" not in conf and "acl_file" not in conf
    assert "use_username_as_clientid" not in conf  # it would refuse clients without a name
    with pytest.raises(ValueError, match="loopback"):
        settings(users={}, bind="0.0.0.0")
    assert settings(users={}, bind="::1").bind == "::1"


def test_tls_adds_a_second_listener_requiring_client_certificates() -> None:
    tls = TlsFiles(Path("/etc/ft/ca.pem"), Path("/etc/ft/broker.pem"), Path("/etc/ft/broker.key"))
    conf = options(render_config(settings(tls=tls, bind="0.0.0.0", run_as="mqtt"), Path("/x")))
    tail = conf[conf.index(("listener", "1883 0.0.0.0")) + 1 :]
    assert tail == [
        ("use_username_as_clientid", "true"),
        ("listener", "8883"),
        ("cafile", "/etc/ft/ca.pem"),
        ("certfile", "/etc/ft/broker.pem"),
        ("keyfile", "/etc/ft/broker.key"),
        ("require_certificate", "true"),
        ("use_identity_as_username", "false"),
        ("use_username_as_clientid", "true"),
    ]
    assert ("user", "mqtt") in conf


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"farm": "farm/1"}, "farm"),
        ({"users": {"dev-a": "x"}}, "gateway user"),
        ({"users": {"gateway": "x", "dev+a": "y"}}, "MQTT username"),
        ({"users": {"gateway": ""}}, "non-empty password"),
        ({"port": 0}, "port"),
        ({"tls_port": 70000}, "tls_port"),
        ({"max_inflight_messages": 0}, "max_inflight_messages"),
        ({"max_packet_size": 0}, "max_packet_size"),
        ({"max_packet_size": 4096}, "max_packet_size"),  # an entry alone, without its topic
        ({"max_queued_messages": 0}, "max_queued_messages"),
        ({"max_queued_bytes": 0}, "max_queued_bytes"),
        ({"max_queued_bytes": 8191}, "max_queued_bytes"),
        ({"autosave_interval": 0}, "autosave_interval"),
        ({"state_dir": Path("state")}, "absolute"),
        ({"state_dir": Path("/var/lib/x\nacl_file /tmp/evil")}, "line breaks"),
        ({"persistent_client_expiration": "14d\nallow_anonymous true"}, "line breaks"),
        ({"run_as": "root # x"}, "line breaks"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**overrides)


def test_settings_users_cannot_change_after_construction() -> None:
    users = dict(USERS)
    made = settings(users=users)
    users["intruder"] = "x"
    assert "intruder" not in made.users
    with pytest.raises(TypeError):
        made.users["intruder"] = "x"  # type: ignore[index]


def test_write_broker_files_keeps_secrets_private(tmp_path: Path) -> None:
    made = settings(state_dir=tmp_path / "state")
    files = write_broker_files(made, tmp_path / "conf")
    assert files.password_file is not None and files.acl_file is not None
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600
    assert files.config.read_text() == render_config(made, tmp_path / "conf")
    assert (tmp_path / "state").is_dir()
    assert sorted(p.name for p in (tmp_path / "conf").iterdir()) == [
        "acl",
        "mosquitto.conf",
        "passwd",
    ]
    anonymous = write_broker_files(replace(made, users={}), tmp_path / "anon")
    assert anonymous.password_file is None and anonymous.acl_file is None
