"""The generated TLS listener: a client needs a certificate from the farm's CA and a password."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mqtt_broker import Broker, Probe, free_port

from gateway.broker_config import TlsFiles

SecuredBroker = Callable[..., Broker]


def _issue(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey]
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a broker certificate for 127.0.0.1 and a client certificate for dev-a."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "farm1 CA")])
    ca = (
        _issue("farm1 CA", ca_key, (ca_name, ca_key))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(tmp_path / "ca", ca_key, ca)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        _issue("127.0.0.1", server_key, (ca_name, ca_key))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(tmp_path / "server", server_key, server)
    client_key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "client", client_key, _issue("dev-a", client_key, (ca_name, ca_key)).sign(
        ca_key, hashes.SHA256()
    ))  # fmt: skip
    return tmp_path


def test_tls_listener_needs_a_client_certificate_and_a_password(
    secured_broker: SecuredBroker, pki: Path
) -> None:
    broker = secured_broker(
        devices=("dev-a",),
        tls=TlsFiles(pki / "ca.pem", pki / "server.pem", pki / "server.key"),
        tls_port=free_port(),
        tls_bind="127.0.0.1",
    )
    tls_port = broker.settings.tls_port  # another one if that was taken meanwhile
    with_cert = Probe(broker, port=tls_port)
    with_cert.client.tls_set(
        ca_certs=str(pki / "ca.pem"),
        certfile=str(pki / "client.pem"),
        keyfile=str(pki / "client.key"),
    )
    assert not with_cert.connect("dev-a", broker.password("dev-a")).is_failure
    with_cert.close()

    wrong_password = Probe(broker, port=tls_port)
    wrong_password.client.tls_set(
        ca_certs=str(pki / "ca.pem"),
        certfile=str(pki / "client.pem"),
        keyfile=str(pki / "client.key"),
    )
    assert wrong_password.connect("dev-a", "wrong").is_failure

    assert not answers_mqtt_over_tls(tls_port, pki, "dev-a", broker.password("dev-a"))


def test_without_require_certificate_the_password_alone_is_enough(
    secured_broker: SecuredBroker, pki: Path
) -> None:
    broker = secured_broker(
        devices=("dev-a",),
        tls=TlsFiles(pki / "ca.pem", pki / "server.pem", pki / "server.key"),
        tls_port=free_port(),
        tls_bind="127.0.0.1",
        require_certificate=False,
    )
    port = broker.settings.tls_port
    assert answers_mqtt_over_tls(port, pki, "dev-a", broker.password("dev-a"))


def answers_mqtt_over_tls(port: int, pki: Path, user: str, password: str) -> bool:
    """Whether an MQTT 3.1.1 login over TLS *without* a client certificate gets a CONNACK."""
    fields = b"".join(
        len(f).to_bytes(2, "big") + f for f in (b"", user.encode(), password.encode())
    )
    body = b"\x00\x04MQTT\x04\xc2\x00\x3c" + fields  # level 4, user+password+clean, keepalive
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(bytes([0x10, len(body)]) + body)
            return tls.recv(4).startswith(b"\x20")
    except (ssl.SSLError, ConnectionError):
        return False
