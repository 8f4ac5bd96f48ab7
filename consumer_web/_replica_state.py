"""What a replica reports and remembers: per-source status, conflicts, and their JSON file.

``<site>/replica-state.json`` keeps what the store cannot: when each source
last answered, its last error, when a source last confirmed our head, and the
evidence of every conflict (both signed checkpoints), so that a restarted
site still shows them. It is replaced atomically (write, fsync, rename,
fsync the directory): a crash leaves the old file or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chain.errors import StorageError

__all__ = [
    "MAX_CONFLICTS",
    "Conflict",
    "ReplicaStatus",
    "SourceStatus",
    "StateFile",
    "WitnessWait",
    "load_state",
    "save_state",
]

MAX_CONFLICTS = 100
"""Conflicts kept in the state file; beyond that the oldest are dropped (logged and counted)."""

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Conflict:
    """A source presented a history we refuse, with the evidence.

    ``ours`` is our latest accepted checkpoint note when it happened (None
    before the first), ``theirs`` the source's note exactly as received.
    ``reason``: ``fork`` (signed by the log key, inconsistent with ours),
    ``rollback`` (the source now serves an older checkpoint than it served us before),
    ``wrong_log`` (another origin, or not signed by our log key) or
    ``bad_signature`` (the log key's signature on it does not verify) or
    ``registry_commitment`` (signed by the log key, but its registry line is
    missing or not the registrations its blocks hold: docs/registry-commitment.md).
    ``message`` says what differs, for people; ``time_ms`` when it was seen.
    """

    source: str
    ours: str | None
    theirs: str
    reason: str
    message: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one source answered lately.

    ``last_result`` is the outcome of the last attempt: ``ok`` (it confirmed
    or extended our head), ``behind`` (consistent, but older than our head),
    ``witness_quorum`` (consistent and newer, but not yet cosigned by enough
    of the site's witnesses: nothing new was taken), ``unreachable``,
    ``error`` (an HTTP error or a malformed answer), ``invalid`` (data that
    fails verification), ``conflict``, or None before the first attempt.
    ``last_success_ms`` is when it last gave a checkpoint we could verify and
    agree with (``ok``, ``behind`` or ``witness_quorum``); ``last_error`` and
    ``last_error_ms`` describe its latest failure, kept after it recovers.
    ``tree_size`` is the size of its last verified checkpoint.
    """

    url: str
    last_result: str | None = None
    last_attempt_ms: int | None = None
    last_success_ms: int | None = None
    last_error: str | None = None
    last_error_ms: int | None = None
    tree_size: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the last attempt gave a checkpoint that agrees with ours."""
        return self.last_result in ("ok", "behind", "witness_quorum")


@dataclass(frozen=True, slots=True)
class WitnessWait:
    """A source has a newer checkpoint that too few of the site's witnesses cosigned yet.

    ``source`` served a checkpoint of ``size`` blocks, signed by the log key
    and consistent with ours, but cosigned only by ``cosigners`` (names)
    where the site's policy asks for ``required``; it was first seen
    waiting at ``since_ms``. Not a conflict: witnesses may simply be slow
    or down. The replica keeps its older checkpoint meanwhile.
    """

    source: str
    size: int
    required: int
    cosigners: tuple[str, ...]
    since_ms: int


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """The replica as pages show it.

    ``tree_size`` is the size of our latest accepted checkpoint (0 before the
    first) and ``checkpoint_note`` that note as stored; ``as_of_ms`` is the
    last time a source confirmed that head (the same checkpoint, or a bigger
    consistent one we then caught up with), None if none ever did.
    ``conflicts`` are oldest first. ``waiting_for_witnesses`` is the biggest
    checkpoint a source offers beyond ours that lacks the witness quorum
    (None when there is none); it is not persisted, the next round finds it
    again.
    """

    tree_size: int
    checkpoint_note: str | None
    as_of_ms: int | None
    sources: tuple[SourceStatus, ...]
    conflicts: tuple[Conflict, ...]
    waiting_for_witnesses: WitnessWait | None = None


@dataclass
class StateFile:
    """The mutable content of ``replica-state.json`` (owned by one replica, under its lock)."""

    as_of_ms: int | None = None
    sources: dict[str, SourceStatus] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


def load_state(path: Path) -> StateFile:
    """Read the state file; a missing file is an empty state.

    Raises:
        StorageError: the file exists but cannot be read or is not a state
            file of this version (it is never half-written, so it was damaged
            or edited by hand: move it away to start afresh, losing its evidence).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StateFile()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    try:
        obj = json.loads(text)
        if obj.get("version") != _VERSION:
            raise ValueError(f"version {obj.get('version')!r}, expected {_VERSION}")
        as_of = obj["as_of_ms"]
        if as_of is not None and type(as_of) is not int:
            raise ValueError("as_of_ms is not an integer")
        sources = {s["url"]: SourceStatus(**s) for s in obj["sources"]}
        conflicts = [Conflict(**c) for c in obj["conflicts"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(f"{path} is not a replica state file: {exc}") from exc
    return StateFile(as_of, sources, conflicts)


def save_state(path: Path, state: StateFile) -> None:
    """Replace the state file atomically and durably.

    Raises:
        StorageError: the file could not be written (the old one is intact).
    """
    body: dict[str, Any] = {
        "version": _VERSION,
        "as_of_ms": state.as_of_ms,
        "sources": [asdict(s) for s in state.sources.values()],
        "conflicts": [asdict(c) for c in state.conflicts],
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(body, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
