"""Mosquitto configuration for a farm: ``mosquitto.conf``, a password file and an ACL file.

Pure text rendering (design.md §4, docs/broker.md); the only I/O is
:func:`write_broker_files`, which writes what the renderers return.

Topics follow :mod:`chain.wire`. The ACL lets every device (MQTT username =
its id, also for serial bridges and operators, who publish under their own
id) write only its own ``entry`` and ``status`` topics and read only its own
``receipt`` topic; the gateway user reads every device's ``entry`` and
``status`` and writes their ``receipt``. With users, every listener replaces
a client's id by its username (``use_username_as_clientid``), so no login can
take over, or wipe, another user's session; the broker refuses packets
above :data:`MAX_PACKET_SIZE` and bounds each client's queue.

Passwords are stored in Mosquitto's own PBKDF2 format, so no
``mosquitto_passwd`` binary is needed::

    $7$<iterations>$<base64 12-byte salt>$<base64 PBKDF2-HMAC-SHA512, 64 bytes>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from chain import wire
from chain.errors import MalformedError
from chain.jws import MAX_ENTRY_BYTES, check_id
from gateway.dynsec_file import DYNSEC_FILE, merge_dynsec

__all__ = [
    "DEFAULT_ITERATIONS",
    "LARGEST_PACKET",
    "MAX_PACKET_SIZE",
    "BrokerFiles",
    "BrokerSettings",
    "TlsFiles",
    "hash_password",
    "new_password",
    "render_acl",
    "render_config",
    "render_password_file",
    "verify_password",
    "write_broker_files",
]

DEFAULT_ITERATIONS = 101
"""``mosquitto_passwd``'s default; enough for random 256-bit passwords (:func:`new_password`)."""

_SALT_BYTES = 12  # what mosquitto_passwd writes (SALT_LEN in mosquitto 2.0)
_PBKDF2_HASH = "sha512"
_PBKDF2_TAG = "7"  # mosquitto's pw_sha512_pbkdf2

_LONGEST_ID = "x" * 64
LARGEST_PACKET = (
    1 + 4  # fixed header: type and flags, remaining length (at most 4 bytes)
    + 2 + len(wire.receipt_topic(_LONGEST_ID, _LONGEST_ID))  # the longest of our topics
    + 2 + 1  # packet id (QoS 1), MQTT 5 property length (our clients send no properties)
    + MAX_ENTRY_BYTES  # an entry; a receipt or status payload is smaller still
)  # fmt: skip
"""The largest MQTT packet a farmtrace client sends: a maximum-size entry on the longest topic."""

MAX_PACKET_SIZE = 8192
"""The broker's ``max_packet_size``: the power of two above :data:`LARGEST_PACKET`."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for the TLS listener: the CA that signs client certificates, ours, our key."""

    cafile: Path
    certfile: Path
    keyfile: Path


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """What varies between farms' brokers. Everything else in the config is policy.

    ``users`` maps an MQTT username (a device, bridge, operator or the
    gateway) to its password; when it is empty the broker allows anonymous
    clients and has no ACL, which is accepted only on a loopback ``bind``.
    When it is not empty it must hold ``gateway_user``. ``state_dir`` (where
    Mosquitto keeps ``mosquitto.db``) must be absolute. ``run_as`` is the
    ``user`` Mosquitto drops to when started as root (Mosquitto's default is
    ``mosquitto``, which must then be able to write ``state_dir``).
    With ``dynsec_plugin`` (the path of Mosquitto's dynamic security plugin,
    :func:`gateway.broker_accounts.find_dynsec_plugin`) the logins live in the
    plugin's file instead of ``passwd``/``acl``, and ``accounts_user`` (which
    ``users`` must hold) may add and delete them on the running broker.
    ``max_packet_size`` must hold :data:`LARGEST_PACKET`; the queue bounds
    (per client, docs/broker.md says why these numbers) must hold at least
    one packet of that size.

    Raises:
        ValueError: on any setting that would make a broken or unsafe config.
    """

    farm: str
    state_dir: Path
    port: int = 1883
    bind: str = "127.0.0.1"
    users: Mapping[str, str] = field(default_factory=dict)
    gateway_user: str = "gateway"
    tls: TlsFiles | None = None
    tls_port: int = 8883
    tls_bind: str | None = None
    require_certificate: bool = True
    use_identity_as_username: bool = False
    max_inflight_messages: int = 1000
    max_packet_size: int = MAX_PACKET_SIZE
    max_queued_messages: int = 200_000
    max_queued_bytes: int = 64 * 1024 * 1024
    sys_interval: int = 10
    autosave_interval: int = 60
    autosave_on_changes: bool = False
    persistent_client_expiration: str = "14d"
    run_as: str | None = None
    dynsec_plugin: str | None = None
    accounts_user: str = "broker-admin"

    def __post_init__(self) -> None:
        try:
            wire.subscription(self.farm, "entry")
            for user in (self.gateway_user, *self.users):
                check_id(user, "MQTT username")
        except MalformedError as exc:
            raise ValueError(str(exc)) from exc
        object.__setattr__(self, "users", MappingProxyType(dict(self.users)))
        if self.users and self.gateway_user not in self.users:
            raise ValueError(f"users must include the gateway user {self.gateway_user!r}")
        if self.dynsec_plugin is not None and self.accounts_user not in self.users:
            raise ValueError(f"users must include the accounts user {self.accounts_user!r}")
        if any(not password for password in self.users.values()):
            raise ValueError("every user needs a non-empty password")
        if not self.users and not _is_loopback(self.bind):
            raise ValueError(
                f"an anonymous broker (no users) may listen only on loopback, not {self.bind!r}"
            )
        for name in ("port", "tls_port"):
            if not 0 < getattr(self, name) < 65536:
                raise ValueError(f"{name} must be 1..65535, got {getattr(self, name)}")
        if not 0 < self.max_inflight_messages < 65536:
            raise ValueError("max_inflight_messages must be 1..65535 (the MQTT 5 ReceiveMaximum)")
        if not LARGEST_PACKET <= self.max_packet_size < 2**28:
            raise ValueError(
                f"max_packet_size: expected {LARGEST_PACKET}..{2**28 - 1} (a maximum-size "
                f"entry on the longest topic), found {self.max_packet_size}"
            )
        if self.max_queued_messages < 1 or self.max_queued_bytes < self.max_packet_size:
            raise ValueError(
                "max_queued_messages and max_queued_bytes: expected at least 1 and "
                f"max_packet_size, found {self.max_queued_messages} and {self.max_queued_bytes} "
                "(0, no limit, lets one client's queue take all the broker's memory)"
            )
        if self.sys_interval < 1:
            raise ValueError("sys_interval must be at least 1 (seconds between $SYS updates)")
        if self.autosave_interval < 1:
            raise ValueError("autosave_interval must be at least 1")
        if not self.state_dir.is_absolute():
            raise ValueError(f"state_dir must be an absolute path, got {self.state_dir}")
        paths = [self.state_dir, *(_tls_paths(self.tls) if self.tls else ())]
        words = [self.bind, self.tls_bind or "", self.persistent_client_expiration]
        words += [self.run_as or "", self.dynsec_plugin or ""]
        if any(_unsafe(str(v)) for v in paths) or any(_unsafe(w) or " " in w for w in words):
            raise ValueError("paths and names in the config must not contain line breaks or '#'")


def _tls_paths(tls: TlsFiles) -> tuple[Path, Path, Path]:
    return tls.cafile, tls.certfile, tls.keyfile


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unsafe(text: str) -> bool:
    return any(c in text for c in "\r\n#") or not text.isprintable()


def render_config(settings: BrokerSettings, directory: Path) -> str:
    """The ``mosquitto.conf`` text; ``directory`` is where ``passwd`` and ``acl`` live."""
    s = settings
    lines = [
        f"# Mosquitto for farmtrace farm {s.farm!r}, written by `farmtrace broker config`.",
        "# docs/broker.md explains every setting; edit the command line, not this file.",
        "",
        "# One set of users and ACLs for every listener (must come before the listeners).",
        "per_listener_settings false",
        "",
        "# Without it every publish -> receipt -> publish round trip stalls ~40 ms",
        "# (Nagle + delayed ACK; measured 11/s without, 2454/s with NODELAY on both ends).",
        "set_tcp_nodelay true",
        "",
        "# A client (e.g. a device) sending a bigger packet is disconnected (MQTT 5: reason",
        "# 0x95) before the broker buffers it. Ours are at most a 4096-byte entry plus topic",
        f"# and header ({LARGEST_PACKET} bytes).",
        f"max_packet_size {s.max_packet_size}",
        "",
        "# Per client, above what is in flight: the gateway's backlog while it is down.",
        "# Overflow is dropped (counted in $SYS/broker/publish/messages/dropped); devices",
        "# keep each entry until the gateway's receipt and send it again, so the bound",
        "# costs a resend, never data. Without it one client's queue could take all memory.",
        f"max_queued_messages {s.max_queued_messages}",
        f"max_queued_bytes {s.max_queued_bytes}",
        "# Seconds between $SYS/broker/... updates (those drop counts, clients, memory).",
        f"sys_interval {s.sys_interval}",
        "",
        "# Unacknowledged QoS 1 messages per client (MQTT 5: advertised as ReceiveMaximum);",
        "# the default 20 caps the gateway's commit batches.",
        f"max_inflight_messages {s.max_inflight_messages}",
        "",
        "# Persistent sessions (the gateway's: clean_start=False + session expiry) and queued",
        "# messages are saved to state_dir on exit (SIGTERM), on SIGUSR1 and on autosave.",
        "# A PUBACK is not durability: after kill -9 a save-on-exit broker lost 50 of 50",
        "# acknowledged messages. Devices keep entries until the gateway's receipt, so this",
        "# is a second line of defence; saving on every change rewrites the whole file each",
        "# time, so the default saves on a timer.",
        "persistence true",
        f"persistence_location {str(s.state_dir).rstrip('/')}/",
        "persistence_file mosquitto.db",
        f"autosave_interval {s.autosave_interval}",
        f"autosave_on_changes {'true' if s.autosave_on_changes else 'false'}",
        "# Forget sessions of clients gone this long (default: never, an unbounded queue).",
        f"persistent_client_expiration {s.persistent_client_expiration}",
    ]
    if s.run_as is not None:
        lines += ["", "# The account Mosquitto drops to when started as root.", f"user {s.run_as}"]
    lines += ["", "log_dest stderr", "log_type error", "log_type warning", "log_type notice", ""]
    if s.users and s.dynsec_plugin is not None:
        lines += [
            "# Every client logs in; logins and their ACLs live in the dynamic security",
            "# plugin's file, changed one at a time on the running broker (docs/broker.md).",
            "allow_anonymous false",
            f"plugin {s.dynsec_plugin}",
            f"plugin_opt_config_file {directory / DYNSEC_FILE}",
        ]
    elif s.users:
        lines += [
            "# Every client logs in; the ACL confines each device to its own topics.",
            "allow_anonymous false",
            f"password_file {directory / 'passwd'}",
            f"acl_file {directory / 'acl'}",
        ]
    else:
        lines += [
            "# No users configured: a loopback-only development broker.",
            "allow_anonymous true",
        ]
    lines += ["", f"listener {s.port} {s.bind}", *_identity_lines(s)]
    if s.tls is not None:
        bind = f" {s.tls_bind}" if s.tls_bind else ""
        lines += [
            "",
            "# TLS for devices off this host. require_certificate: clients need a certificate",
            "# signed by cafile as well as their password (or instead, with",
            "# use_identity_as_username: the certificate's CN is the username).",
            f"listener {s.tls_port}{bind}",
            f"cafile {s.tls.cafile}",
            f"certfile {s.tls.certfile}",
            f"keyfile {s.tls.keyfile}",
            f"require_certificate {'true' if s.require_certificate else 'false'}",
            f"use_identity_as_username {'true' if s.use_identity_as_username else 'false'}",
            *_identity_lines(s),
        ]
    return "\n".join(lines) + "\n"


def _identity_lines(settings: BrokerSettings) -> list[str]:
    """Per listener: the client id is the username, so a session belongs to one login."""
    if not settings.users:
        return []  # the option refuses clients without a username
    return [
        "# A client's id is replaced by its username: nobody can knock another user off,",
        "# or wipe its session, by connecting with its id.",
        "use_username_as_clientid true",
    ]


def render_acl(settings: BrokerSettings) -> str:
    """The ``acl_file`` text for ``settings.farm`` and ``settings.gateway_user``."""
    farm, gateway = settings.farm, settings.gateway_user
    prefix = f"{wire.TOPIC_ROOT}/{farm}"
    return (
        f"# farmtrace ACL for farm {farm!r}, written by `farmtrace broker config`.\n"
        "# Mosquitto denies whatever no line grants.\n"
        "\n"
        "# The gateway reads every device's entries and status and answers with receipts.\n"
        "# $SYS lets it watch $SYS/broker/publish/messages/dropped.\n"
        f"user {gateway}\n"
        f"topic read {prefix}/+/entry\n"
        f"topic read {prefix}/+/status\n"
        f"topic write {prefix}/+/receipt\n"
        "topic read $SYS/broker/#\n"
        "\n"
        "# Everyone else (devices, serial bridges, operators) logs in as its own id and may\n"
        "# publish only under it, and read only its own receipts.\n"
        f"pattern write {prefix}/%u/entry\n"
        f"pattern write {prefix}/%u/status\n"
        f"pattern read {prefix}/%u/receipt\n"
    )


def new_password() -> str:
    """A random password with 256 bits of entropy (URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(32)


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """Mosquitto's ``$7$`` PBKDF2-HMAC-SHA512 hash of ``password`` (random 12-byte salt).

    Raises:
        ValueError: ``iterations`` < 1 or an empty ``salt``.
    """
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    if not salt:
        raise ValueError("salt must not be empty")
    digest = hashlib.pbkdf2_hmac(_PBKDF2_HASH, password.encode(), salt, iterations)
    return f"${_PBKDF2_TAG}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (ours or ``mosquitto_passwd``'s).

    Raises:
        ValueError: ``encoded`` is not a ``$7$`` hash.
    """
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _PBKDF2_TAG or not parts[2].isdigit():
        raise ValueError("not a mosquitto $7$ password hash")
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError as exc:
        raise ValueError(f"not a mosquitto $7$ password hash: {exc}") from exc
    digest = hashlib.pbkdf2_hmac(_PBKDF2_HASH, password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def render_password_file(users: Mapping[str, str], *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """The ``password_file`` text: one ``username:$7$...`` line per user, sorted by name."""
    return "".join(
        f"{user}:{hash_password(users[user], iterations=iterations)}\n" for user in sorted(users)
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """Where :func:`write_broker_files` put things (``passwd``/``acl`` None without users)."""

    config: Path
    password_file: Path | None
    acl_file: Path | None


def write_broker_files(settings: BrokerSettings, directory: Path) -> BrokerFiles:
    """Write ``mosquitto.conf``, and with users ``passwd`` (mode 0600) and ``acl``.

    With ``settings.dynsec_plugin``, instead of ``passwd`` and ``acl`` it adds
    the logins that ``dynamic-security.json`` lacks (mode 0600), keeping every
    login already there: write it only while the broker is stopped, as the
    broker rewrites it on each change.
    Creates ``directory`` and ``settings.state_dir`` if missing. Files are
    replaced atomically, so a running broker reloading on SIGHUP never reads
    half a file.

    Raises:
        OSError: a file could not be written.
    """
    directory = directory.absolute()
    directory.mkdir(parents=True, exist_ok=True)
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    password_file = acl_file = None
    if settings.users and settings.dynsec_plugin is not None:
        _write_dynsec(settings, directory / DYNSEC_FILE)
    elif settings.users:
        password_file = directory / "passwd"
        _write(password_file, render_password_file(settings.users), 0o600)
        acl_file = directory / "acl"
        _write(acl_file, render_acl(settings), 0o644)
    config = directory / "mosquitto.conf"
    _write(config, render_config(settings, directory), 0o644)
    return BrokerFiles(config, password_file, acl_file)


def _write_dynsec(settings: BrokerSettings, path: Path) -> None:
    """Add the logins ``path`` lacks; never drop or change one (the broker owns the file)."""
    existing = json.loads(path.read_text()) if path.exists() else {}
    doc = merge_dynsec(
        existing,
        settings.farm,
        settings.users,
        gateway_user=settings.gateway_user,
        accounts_user=settings.accounts_user,
    )
    _write(path, json.dumps(doc, indent=1) + "\n", 0o600)


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
