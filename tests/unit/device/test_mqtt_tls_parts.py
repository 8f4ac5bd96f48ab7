"""``mqtts://`` URLs, their TLS files, the TLS context's settings and one-line connect failures."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest

from signer.credentials import broker_url_text
from signer.mqtt_tls import connect_failure, plain_hint, tls_context
from signer.mqtt_url import MqttUrl, parse_mqtt_url, with_tls_files

TLS = MqttUrl("gw.farm", 8883, "b1-temp", "pw", tls=True, ca_file=Path("/etc/farm-ca.pem"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtts://gw.farm", MqttUrl("gw.farm", 8883, tls=True)),
        ("mqtts://b1-temp:pw@gw.farm:9883", MqttUrl("gw.farm", 9883, "b1-temp", "pw", tls=True)),
        ("mqtts://[::1]", MqttUrl("::1", 8883, tls=True)),
        ("mqtt://gw.farm", MqttUrl("gw.farm", 1883)),
    ],
)
def test_mqtts_urls_parse_with_port_8883_by_default(text: str, expected: MqttUrl) -> None:
    assert parse_mqtt_url(text) == expected


def test_an_mqtts_url_says_so_in_logs_and_in_its_text() -> None:
    url = parse_mqtt_url("mqtts://b1-temp:s3cret@gw.farm")
    assert str(url) == "mqtts://b1-temp:***@gw.farm:8883"
    assert broker_url_text(url) == "mqtts://b1-temp:s3cret@gw.farm:8883"
    assert parse_mqtt_url(broker_url_text(url)) == url


def test_tls_files_are_added_to_mqtts_urls_only() -> None:
    url = with_tls_files(parse_mqtt_url("mqtts://gw.farm"), "/ca.pem", "/c.pem", Path("/c.key"))
    assert (url.ca_file, url.cert_file, url.key_file) == (
        Path("/ca.pem"),
        Path("/c.pem"),
        Path("/c.key"),
    )
    assert with_tls_files(url) == url  # nothing given: nothing changed
    with pytest.raises(ValueError, match=r"ca_file given, but the URL is mqtt:// .*use mqtts://"):
        with_tls_files(parse_mqtt_url("mqtt://gw.farm"), ca_file="/ca.pem")
    with pytest.raises(ValueError, match="key file needs a certificate file"):
        with_tls_files(parse_mqtt_url("mqtts://gw.farm"), key_file="/c.key")
    with pytest.raises(ValueError, match="expected mqtts://"):
        MqttUrl("gw.farm", cert_file=Path("/c.pem"))


def test_the_tls_context_checks_the_host_name_and_needs_tls_1_2() -> None:
    context = tls_context(MqttUrl("gw.farm", tls=True))  # the system's trust store
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_unusable_tls_files_are_refused_naming_them(tmp_path: Path) -> None:
    missing = tmp_path / "none.pem"
    with pytest.raises(ValueError, match=f"{re.escape(str(missing))}.*cannot use them"):
        tls_context(MqttUrl("gw.farm", tls=True, ca_file=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"garbage\.pem"):
        tls_context(MqttUrl("gw.farm", tls=True, ca_file=garbage))
    with pytest.raises(ValueError, match="expected mqtts://"):
        tls_context(MqttUrl("gw.farm"))


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    exc.verify_code, exc.verify_message = code, message
    return exc


@pytest.mark.parametrize(
    ("exc", "url", "cause"),
    [
        (_verify_error(20, "unable to get local issuer certificate"), TLS, "(unknown CA)"),
        (_verify_error(19, "self-signed certificate in chain"), TLS, "CA file /etc/farm-ca.pem"),
        (_verify_error(62, "Hostname mismatch"), TLS, "does not name 'gw.farm' (wrong host"),
        (_verify_error(64, "IP address mismatch"), TLS, "(wrong host name)"),
        (_verify_error(10, "certificate has expired"), TLS, "out of date"),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), TLS, "plain MQTT port"),
        (ConnectionResetError(104, "Connection reset by peer"), TLS, "plain MQTT port"),
        (ConnectionRefusedError(111, "Connection refused"), TLS, "Connection refused"),
    ],
)
def test_a_failed_connect_is_one_line_naming_the_cause(
    exc: OSError, url: MqttUrl, cause: str
) -> None:
    text = connect_failure(exc, url)
    assert cause in text and "\n" not in text and "pw" not in text


def test_the_system_trust_store_is_named_without_a_ca_file() -> None:
    url = MqttUrl("gw.farm", tls=True)
    text = connect_failure(_verify_error(20, "unable to get local issuer certificate"), url)
    assert "the system's trust store" in text


def test_a_plain_url_gets_a_hint_about_tls_ports() -> None:
    assert "use mqtts://" in plain_hint(MqttUrl("gw.farm", 8883))
    assert plain_hint(TLS) == ""
