"""The witness as an object: configuration, state, clock and metrics around :func:`decide`.

The HTTP layer (:mod:`witness._app`) only moves bytes in and out of
:meth:`WitnessService.add_checkpoint`; everything the spec asks happens here.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chain.errors import MalformedWitnessMessageError, StorageError
from chain.tlog_witness import AddCheckpointRequest, origin_hash
from witness._config import WitnessConfig
from witness._core import LogState, Refusal, decide
from witness._metrics import WitnessMetrics
from witness._state import StateStore

__all__ = ["WitnessService", "status_document"]

_logger = logging.getLogger("witness")


class WitnessService:
    """One witness: cosigns checkpoints of its configured logs, keeps its state durably.

    ``clock`` returns the time in POSIX seconds (``time.time`` by default).
    Thread-safe. Call :meth:`close` to release the directory.
    """

    def __init__(
        self,
        config: WitnessConfig,
        store: StateStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = WitnessMetrics()
        self._clock = clock
        self._origins_by_hash = {origin_hash(origin): origin for origin in config.logs}
        for state in store.all().values():
            self._observe(state.origin, state.size, state.cosigned_at)

    @classmethod
    def open(cls, directory: Path, *, clock: Callable[[], float] = time.time) -> WitnessService:
        """Load the witness directory and hold its lock.

        Raises:
            StorageError: if a file is missing or corrupt, or another process
                serves the directory.
            MalformedError: if the configuration is malformed.
        """
        config = WitnessConfig.load(directory)
        return cls(config, StateStore(directory), clock=clock)

    def close(self) -> None:
        """Release the directory (idempotent)."""
        self.store.close()

    def add_checkpoint(self, body: bytes) -> str:
        """Handle an ``add-checkpoint`` request body; return the cosignature line.

        The new state is persisted before this returns.

        Raises:
            Refusal: with the HTTP status to answer (400 for a malformed body,
                500 if the state cannot be written, else as :func:`decide`).
        """
        try:
            request = AddCheckpointRequest.from_bytes(body)
        except MalformedWitnessMessageError as exc:
            self.metrics.requests.labels("malformed").inc()
            raise Refusal(f"malformed request: {exc}", status=400, reason="malformed") from exc
        try:
            with self.store.locked(request.checkpoint.origin) as latest:
                result = decide(
                    request, self.config.logs, latest, self.config.key, int(self._clock())
                )
                self.store.save(result.state)
        except Refusal as refusal:
            self.metrics.requests.labels(refusal.reason).inc()
            if refusal.evidence:
                self._keep_evidence(request, body, refusal)
            raise
        except StorageError as exc:
            self.metrics.requests.labels("storage_error").inc()
            _logger.error("cannot persist a cosigned checkpoint: %s", exc)
            raise Refusal(
                f"the witness cannot store its state: {exc}", status=500, reason="storage_error"
            ) from exc
        self.metrics.requests.labels("cosigned").inc()
        state = result.state
        self._observe(state.origin, state.size, state.cosigned_at)
        _logger.debug("cosigned %s at size %d", state.origin, state.size)
        return result.line

    def latest_note(self, origin: str) -> str | None:
        """The latest cosigned checkpoint of ``origin`` as a note with our cosignature, or None."""
        state = self.store.get(origin)
        return None if state is None else state.note

    def origin_of(self, hex_hash: str) -> str | None:
        """The followed log whose origin's lowercase hex SHA-256 is ``hex_hash``, or None."""
        return self._origins_by_hash.get(hex_hash)

    def status(self) -> dict[str, Any]:
        """The witness's status document (see :func:`status_document`)."""
        return status_document(self.config, self.store.all())

    def _observe(self, origin: str, size: int, cosigned_at: int) -> None:
        self.metrics.cosigned_size.labels(origin).set(size)
        self.metrics.cosigned_at.labels(origin).set(cosigned_at)

    def _keep_evidence(self, request: AddCheckpointRequest, body: bytes, refusal: Refusal) -> None:
        path = self.store.keep_evidence(body)
        self.metrics.evidence.labels("true" if path is not None else "false").inc()
        checkpoint = request.checkpoint
        latest = self.store.get(checkpoint.origin)
        _logger.warning(
            "possible log misbehaviour: %s: a log-signed checkpoint of size %d root %s, "
            "old size %d, while this witness cosigned size %d root %s (%s); %s",
            checkpoint.origin,
            checkpoint.size,
            base64.b64encode(checkpoint.root_hash).decode(),
            request.old_size,
            0 if latest is None else latest.size,
            "-" if latest is None else base64.b64encode(latest.root).decode(),
            refusal,
            f"request kept as {path}" if path is not None else "evidence directory full",
        )


def status_document(config: WitnessConfig, states: Mapping[str, LogState]) -> dict[str, Any]:
    """``{"name", "vkey", "logs": [{"origin", "size", "root", "cosigned_at"}]}``.

    Every configured log is listed, by origin; one never cosigned has size 0
    and a null root and time. ``root`` is standard base64.
    """
    logs = []
    for origin in sorted(config.logs):
        state = states.get(origin)
        logs.append(
            {
                "origin": origin,
                "size": 0 if state is None else state.size,
                "root": None if state is None else base64.b64encode(state.root).decode(),
                "cosigned_at": None if state is None else state.cosigned_at,
            }
        )
    return {"name": config.name, "vkey": config.vkey, "logs": logs}
