"""MQTT over TLS for the signer's clients (``mqtts://``): the TLS context, and why a connect failed.

:func:`tls_context` is the TLS setting of an ``mqtts://`` URL (for paho's
``tls_set_context``, :func:`signer.mqtt_link.new_client`):
TLS 1.2 or later, the broker's certificate checked against the URL's CA file
(or the system's trust store) and required to name the URL's host. paho
does the handshake inside ``connect()``, so a TLS failure is an
:class:`OSError` (:class:`ssl.SSLError`) from it; :func:`connect_failure`
turns that into one line naming the cause, for a log or an error message.
paho leaves the socket of a failed handshake open (until it is collected,
with a ResourceWarning): :meth:`TlsContext.close_failed` closes it.
"""

from __future__ import annotations

import ssl
from typing import Any

from signer.mqtt_url import MqttUrl

__all__ = ["TlsContext", "connect_failure", "plain_hint", "tls_context"]

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that mean "not signed by a CA we trust"
# (7, a signature failure: a trusted CA of the same name did not sign it).
_UNTRUSTED = {2, 7, 18, 19, 20, 21, 27}
_EXPIRED = {9, 10}  # not yet valid, expired
_HOSTNAME_MISMATCH = {62}  # X509_V_ERR_HOSTNAME_MISMATCH
_IP_MISMATCH = {64}  # X509_V_ERR_IP_ADDRESS_MISMATCH


class TlsContext(ssl.SSLContext):
    """An :class:`ssl.SSLContext` that remembers the socket it wrapped last.

    Set :attr:`last_socket` to None before a connect; if the connect fails,
    :meth:`close_failed` closes the socket paho left open.
    """

    last_socket: ssl.SSLSocket | None = None

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """As :meth:`ssl.SSLContext.wrap_socket`, remembering the socket."""
        sock = super().wrap_socket(*args, **kwargs)
        self.last_socket = sock
        return sock

    def close_failed(self) -> None:
        """Close the socket wrapped since :attr:`last_socket` was reset (if any)."""
        sock, self.last_socket = self.last_socket, None
        if sock is not None:
            sock.close()


def tls_context(url: MqttUrl) -> TlsContext:
    """A client context for ``url`` (which must be ``mqtts://``): TLS >= 1.2, host name checked.

    Raises:
        ValueError: ``url`` is not ``mqtts://``, or its CA, certificate or key
            file cannot be read or holds no usable PEM.
    """
    if not url.tls:
        raise ValueError(f"MQTT URL {url}: expected mqtts:// for a TLS context")
    context = TlsContext(ssl.PROTOCOL_TLS_CLIENT)  # what create_default_context makes
    try:
        if url.ca_file is None:
            context.load_default_certs()
        else:
            context.load_verify_locations(cafile=str(url.ca_file))
        if url.cert_file is not None:
            keyfile = None if url.key_file is None else str(url.key_file)
            context.load_cert_chain(str(url.cert_file), keyfile)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        files = ", ".join(str(f) for f in (url.ca_file, url.cert_file, url.key_file) if f)
        raise ValueError(f"MQTT TLS files ({files}): cannot use them: {_reason(exc)}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True  # create_default_context's default; stated, as it matters
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect_failure(exc: OSError, url: MqttUrl) -> str:
    """One line saying why connecting to ``url`` failed with ``exc`` (from paho's ``connect``)."""
    where = f"{url.host}:{url.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        trust = "the system's trust store" if url.ca_file is None else f"CA file {url.ca_file}"
        if code in _HOSTNAME_MISMATCH or code in _IP_MISMATCH:
            return (
                f"TLS: the broker's certificate at {where} does not name {url.host!r} "
                f"(wrong host name): {exc.verify_message}"
            )
        if code in _UNTRUSTED:
            return (
                f"TLS: the broker's certificate at {where} is not signed by a CA in {trust} "
                f"(unknown CA): {exc.verify_message}"
            )
        if code in _EXPIRED:
            return f"TLS: the broker's certificate at {where} is out of date: {exc.verify_message}"
        return f"TLS: the broker's certificate at {where} was refused: {exc.verify_message}"
    if url.tls and isinstance(exc, (ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        return (
            f"TLS handshake with {where} failed ({_reason(exc)}): is it a plain MQTT port? "
            "mqtts:// needs the broker's TLS listener (usually port 8883)"
        )
    return f"cannot connect to {url}: {_reason(exc)}"


def plain_hint(url: MqttUrl) -> str:
    """What to add when a plain ``mqtt://`` connection closed before the broker answered."""
    if url.tls:
        return ""
    return " (if that port is the broker's TLS listener, use mqtts://)"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # OpenSSL's, on an SSLError it raised
    if isinstance(exc, ssl.SSLError) and reason:
        return str(reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
