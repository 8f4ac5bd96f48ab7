"""Where a farmtrace gateway keeps its files inside its data directory.

<data-dir>/log/         the LevelDB store (one process at a time)
<data-dir>/trust.json   the genesis trust root auditors pin
<data-dir>/keys/        private keys, mode 0700 (log.key: the checkpoint signer)
<data-dir>/witnesses.json   optional: the witnesses to push checkpoints to, and the quorum
<data-dir>/dead-letter.jsonl    MQTT messages quarantined by ingest (bounded; .1 is the previous)
<data-dir>/admin.sock   while the gateway runs: its admin socket (backups), mode 0600
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDir"]


@dataclass(frozen=True, slots=True)
class DataDir:
    """Paths inside one data directory."""

    root: Path

    @property
    def log(self) -> Path:
        """The LevelDB store."""
        return self.root / "log"

    @property
    def trust(self) -> Path:
        """The trust root document."""
        return self.root / "trust.json"

    @property
    def witnesses(self) -> Path:
        """The witness policy (``chain.witness_policy``, with urls); optional."""
        return self.root / "witnesses.json"

    @property
    def dead_letter(self) -> Path:
        """Quarantined MQTT messages, one JSON object per line (``gateway.dead_letter``)."""
        return self.root / "dead-letter.jsonl"

    @property
    def admin_socket(self) -> Path:
        """The running gateway's admin socket (``gateway.admin_socket``)."""
        return self.root / "admin.sock"

    @property
    def keys(self) -> Path:
        """The private key directory."""
        return self.root / "keys"

    @property
    def log_key(self) -> Path:
        """The log's C2SP signed-note signer key."""
        return self.keys / "log.key"

    def signer_key(self, signer_id: str) -> Path:
        """The Ed25519 key file of a local signer (device or operator)."""
        return self.keys / f"{signer_id}.key"
