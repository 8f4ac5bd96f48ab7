"""The witness directory: its cosigner key and the logs it witnesses.

Layout::

    witness.key      the cosigner's signer key (C2SP type 0x04), mode 0600
    witness.json     {"name": ..., "vkey": ..., "logs": {"<origin>": ["<log vkey>", ...]}}
    witness.lock     held (fcntl) by the one process serving the directory
    state/           the latest cosigned checkpoint of each log (see witness._state)
    evidence/        refused log-signed checkpoints that may prove a log lied

Only ``witness.key`` is secret. ``witness.json`` is edited by ``farmtrace
witness init`` and ``add-log``; the server reads it once, at start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import note
from chain.checkpoint import generate_cosigner_key
from chain.errors import MalformedError, MalformedNoteError, StorageError

__all__ = ["CONFIG_FILE", "KEY_FILE", "WitnessConfig", "add_log", "init_witness_dir"]

KEY_FILE = "witness.key"
CONFIG_FILE = "witness.json"


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """A witness's identity and trusted logs, as read from its directory.

    ``logs`` maps each origin to the log verifier keys (type 0x01) trusted
    for it; a checkpoint needs a valid signature by one of them.
    """

    directory: Path
    key: note.SignerKey
    logs: Mapping[str, tuple[note.VerifierKey, ...]]

    @property
    def name(self) -> str:
        """The witness's name (its key's name), e.g. ``coop.example/witness``."""
        return self.key.name

    @property
    def vkey(self) -> str:
        """The witness's C2SP verifier key string, for verifiers' ``witnesses.json``."""
        return self.key.verifier_key().to_text()

    @classmethod
    def load(cls, directory: Path) -> WitnessConfig:
        """Read ``witness.key`` and ``witness.json`` from ``directory``.

        Raises:
            StorageError: if a file is missing or unreadable.
            MalformedError: if the key is not a type 0x04 signer key, the
                JSON is not the expected shape, a log key is not a type 0x01
                verifier key, or ``vkey`` does not match the key file.
        """
        key = _read_key(directory / KEY_FILE)
        doc = _read_json(directory / CONFIG_FILE)
        try:
            raw_logs: Any = doc["logs"]
            logs = {
                str(origin): tuple(_log_key(str(origin), k) for k in vkeys)
                for origin, vkeys in raw_logs.items()
            }
            declared = doc["vkey"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedError(f"{directory / CONFIG_FILE}: expected 'vkey' and 'logs'") from exc
        if declared != key.verifier_key().to_text():
            raise MalformedError(
                f"{directory / CONFIG_FILE}: vkey {declared!r} is not the key in {KEY_FILE}"
            )
        return cls(directory, key, logs)


def init_witness_dir(
    directory: Path, name: str, logs: Iterable[tuple[str, str]] = (), *, seed: bytes | None = None
) -> WitnessConfig:
    """Create a witness directory with a new cosigner key named ``name``.

    ``logs`` are ``(origin, log verifier key)`` pairs to trust from the start.

    Raises:
        StorageError: if ``directory`` already holds a witness key or cannot be written.
        MalformedError: if ``name`` or a log key is invalid.
    """
    try:
        skey, vkey = generate_cosigner_key(name, seed=seed)
    except MalformedNoteError as exc:
        raise MalformedError(f"witness name {name!r}: {exc}") from exc
    trusted: dict[str, list[str]] = {}
    for origin, log_key in logs:
        _add(trusted, origin, log_key)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise StorageError(f"{directory / KEY_FILE} exists: the directory has a witness") from exc
    except OSError as exc:
        raise StorageError(f"cannot create {directory / KEY_FILE}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(skey + "\n")
        out.flush()
        os.fsync(out.fileno())
    _write_json(directory / CONFIG_FILE, {"name": name, "vkey": vkey, "logs": trusted})
    return WitnessConfig.load(directory)


def add_log(directory: Path, origin: str, log_key: str) -> bool:
    """Trust ``log_key`` for ``origin`` in the witness directory; False if it already was.

    The serving process reads the file at start: restart it to apply.

    Raises:
        StorageError: if the directory has no witness or cannot be written.
        MalformedError: if ``log_key`` is not a type 0x01 verifier key.
    """
    doc = _read_json(directory / CONFIG_FILE)
    logs = doc.get("logs")
    if not isinstance(logs, dict):
        raise MalformedError(f"{directory / CONFIG_FILE}: expected a 'logs' object")
    if log_key in logs.get(origin, []):
        _log_key(origin, log_key)
        return False
    _add(logs, origin, log_key)
    _write_json(directory / CONFIG_FILE, doc)
    return True


def _add(logs: dict[str, list[str]], origin: str, log_key: str) -> None:
    if not isinstance(origin, str) or not origin or any(c.isspace() for c in origin):
        raise MalformedError(f"log origin {origin!r}: expected a non-empty string without spaces")
    _log_key(origin, log_key)
    logs.setdefault(origin, [])
    if log_key not in logs[origin]:
        logs[origin].append(log_key)


def _log_key(origin: str, text: object) -> note.VerifierKey:
    try:
        key = note.parse_verifier_key(str(text))
    except MalformedNoteError as exc:
        raise MalformedError(f"log key for {origin!r}: {exc}") from exc
    if key.sig_type != note.ED25519:
        raise MalformedError(
            f"log key for {origin!r}: expected type 0x01 (a log's Ed25519 checkpoint key), "
            f"found 0x{key.sig_type:02x}"
        )
    return key


def _read_key(path: Path) -> note.SignerKey:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StorageError(f"cannot read the witness key {path}: {exc}") from exc
    try:
        key = note.parse_signer_key(text)
    except MalformedNoteError as exc:
        raise MalformedError(f"{path}: {exc}") from exc
    if key.sig_type != note.COSIGNATURE_V1:
        raise MalformedError(f"{path}: expected a type 0x04 (cosignature/v1) signer key")
    return key


def _read_json(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise MalformedError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise MalformedError(f"{path}: expected a JSON object")
    return doc


def _write_json(path: Path, doc: Mapping[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
