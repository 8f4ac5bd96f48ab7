"""Tracing across logs offline: local copies of several pinned logs, references checked locally.

``farmtrace trace --pins`` is this, wired to a command line::

    traced = trace_local_copies(Path("pins.json"), [farm_dir, plant_dir], "lot:...")

Each directory is a gateway's data directory (its store in ``log/``), a
consumer site's (its replica in ``replica/``) or a store itself; it is
matched to the pins file by the origin its store holds. A reference is
checked with :func:`chain.crosslog.check_reference` against the pins and the
evidence the other log's local copy holds (:func:`readapi.crosslog.local_evidence`):
no network. A reference to a pinned log with no local copy given is
``ref_unavailable``, as is one to a copy that has not reached the reference's
size, unless one of the given logs kept a cosigned note of that size (the
note a gateway keeps when it checks a reference): then the copy shows less
than the log's witnesses saw, ``ref_rolled_back``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from chain.crosslog import (
    CrossLogReferenceError,
    LogReference,
    Referrer,
    check_head_covers,
    check_reference,
    pinned_log_of,
)
from chain.errors import MalformedError
from chain.store import Store
from chain.trace import TraceIndex
from chain.trace_across import AcrossResult, LogCopy, trace_across
from readapi.crosslog import Pins, ReferenceUnavailableError, load_pins, local_evidence

__all__ = ["TracedAcross", "store_path", "trace_local_copies"]


@dataclass(frozen=True)
class TracedAcross:
    """A trace across logs, the pinned parties' names by origin, and the seconds it took.

    ``seconds`` counts the trace and its reference checks, not the opening and
    indexing of the stores (``index_seconds``: the trace indexes, and each
    store's index of blocks, which a site keeps loaded).
    """

    result: AcrossResult
    names: dict[str, str]
    seconds: float
    index_seconds: float


def store_path(directory: Path) -> Path:
    """The store in ``directory``: its ``log/`` (gateway), ``replica/`` (site), or itself."""
    for sub in ("log", "replica"):
        if (directory / sub / "CURRENT").is_file():
            return directory / sub
    return directory


def trace_local_copies(
    pins_file: Path,
    directories: Sequence[Path],
    start: str,
    *,
    log: str | None = None,
    window: tuple[int, int] | None = None,
    feed: bool = True,
) -> TracedAcross:
    """Trace ``start`` across the logs in ``directories`` (:func:`chain.trace_across.trace_across`).

    ``log`` names the log of a ``bird:``/``barn:`` start by origin or pins
    slug (default: the first directory's); a ``pack:``/``lot:`` start is traced
    in every log that names it. Every entry each store holds is read.

    Raises:
        StorageError: the pins file or a store cannot be read (LevelDB admits one
            process at a time: stop the gateway, or trace a copy).
        MalformedError: a malformed pins file; a store of a log the pins file does
            not pin, or two copies of one log; ``log`` names no given log; or a bad start.
    """
    pins = load_pins(pins_file)
    with ExitStack() as stack:
        began = time.perf_counter()
        logs: dict[str, LogCopy] = {}
        for directory in directories:
            store = stack.enter_context(Store.open(store_path(directory)))
            if pins.party(store.origin) is None:
                raise MalformedError(
                    f"{directory} holds log {store.origin}, not pinned in {pins_file}"
                )
            if store.origin in logs:
                raise MalformedError(f"{directory}: a second copy of log {store.origin}")
            index = TraceIndex(store)
            index.advance(store.entry_count)
            logs[store.origin] = (store, index)
        indexed = time.perf_counter()
        origin = None
        if start.startswith(("bird:", "barn:")) and logs:
            origin = _origin_of(log, pins, logs) if log is not None else next(iter(logs))
        checker = _LocalChecker(pins, logs)
        result = trace_across(
            logs, start, ref_status=checker, origin=origin, window=window, feed=feed
        )
        names = {party.origin: party.name for party in pins.parties}
        return TracedAcross(result, names, time.perf_counter() - indexed, indexed - began)


def _origin_of(log: str, pins: Pins, logs: dict[str, LogCopy]) -> str:
    party = pins.party(log) or pins.by_slug(log)
    if party is None or party.origin not in logs:
        given = ", ".join(sorted(logs)) or "none"
        raise MalformedError(f"--log {log}: expected the origin or slug of a given log ({given})")
    return party.origin


class _LocalChecker:
    """A reference's status against the pins and the other log's local copy."""

    def __init__(self, pins: Pins, logs: dict[str, LogCopy]) -> None:
        self.pins, self.logs = pins, logs
        self.pinned = pins.pinned()

    def __call__(self, ref: LogReference, referrer: Referrer) -> str | None:
        """None if ``ref`` holds, else the reason. Raises StorageError: a store failed."""
        copy = self.logs.get(ref.log)
        try:
            pinned_log_of(ref, self.pinned)
            if copy is None:
                return ReferenceUnavailableError.reason  # pinned, but no local copy given
            store = copy[0]
            if store.size < ref.size and self._cosigned_at(ref):
                return "ref_rolled_back"
            check_reference(ref, local_evidence(ref, store), self.pinned, referrer)
        except (CrossLogReferenceError, ReferenceUnavailableError) as exc:
            return exc.reason
        return None

    def _cosigned_at(self, ref: LogReference) -> bool:
        """Whether a given log kept a note of ``ref.log``'s tree ``ref.size`` that holds up.

        A copy of that log smaller than ``ref.size`` is only behind, unless
        some log kept (when it checked a reference) a note of that size with
        ``ref.root``, signed by the pinned key and cosigned by the pinned
        quorum: then the log's witnesses saw the larger tree, and the copy given
        as that log shows less: it rolled back (or the copy is stale).
        """
        for store, _index in self.logs.values():
            note = store.ref_checkpoint(ref.log, ref.size)
            if note is None:
                continue
            try:
                checkpoint, _cosigners = check_head_covers(ref, note, self.pinned)
            except CrossLogReferenceError:
                continue
            if checkpoint.size == ref.size and checkpoint.root_hash.hex() == ref.root:
                return True
        return False
