"""TLS for the gateway's own MQTT client, when the broker is on another machine (``mqtts://``).

The broker's certificate is checked against ``ca_file`` (None: the system's
trust store) and must name the broker's host; TLS 1.2 or later. A client
certificate is optional (``cert_file``, ``key_file``), for a broker whose
TLS listener requires one (docs/broker.md, "TLS").
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["client_context", "connect_error_text"]


def client_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A TLS client context that checks the broker's certificate and host name.

    Raises:
        ValueError: a file cannot be read or holds no usable PEM, or a key
            file without a certificate file.
    """
    if key_file is not None and cert_file is None:
        raise ValueError("MQTT TLS: a client key file needs a certificate file")
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), None if key_file is None else str(key_file))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        files = ", ".join(str(f) for f in (ca_file, cert_file, key_file) if f is not None)
        raise ValueError(f"MQTT TLS files ({files}): cannot use them: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def connect_error_text(exc: OSError) -> str:
    """One line for a failed connect, naming a TLS cause where there is one."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate was refused: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or exc
        return f"TLS handshake failed ({reason}): is it the broker's TLS listener?"
    return str(exc)
