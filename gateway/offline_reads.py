"""Reading a stopped (or running) gateway's data directory offline: traces and EPCIS exports.

``farmtrace trace`` and ``farmtrace export epcis`` are these, wired to a
command line. The store is opened for the read and closed after it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.epcis import covered_entries, export_bird, export_pack
from chain.epcis.across import ExportedLog, OtherLog, export_across
from chain.errors import FarmtraceError
from chain.gs1 import DigitalLink
from chain.store import Store
from chain.trace import TraceResult, trace
from gateway.datadir import DataDir

__all__ = [
    "NoCheckpointError",
    "Traced",
    "epcis_export",
    "epcis_export_across",
    "trace_data_dir",
    "write_whole",
]


class NoCheckpointError(FarmtraceError):
    """The log has no signed checkpoint yet: nothing in it is covered, so nothing is exported."""


@dataclass(frozen=True)
class Traced:
    """A trace's result, and how long the trace took (seconds, the store's opening excluded)."""

    result: TraceResult
    seconds: float


def trace_data_dir(
    data_dir: Path, start: str, *, window: tuple[int, int] | None, feed: bool
) -> Traced:
    """Trace ``start`` (see :func:`chain.trace.trace`) through the log in ``data_dir``.

    Raises:
        FarmtraceError: the store cannot be opened or read, or ``start`` is bad.
    """
    with Store.open(DataDir(data_dir).log) as store:
        began = time.perf_counter()
        result = trace(store, start, window=window, feed=feed)
        return Traced(result, time.perf_counter() - began)


def epcis_export(
    data_dir: Path,
    subject: str | DigitalLink,
    *,
    base_url: str,
    created_ms: int,
) -> dict[str, Any]:
    """The EPCIS 2.0 document of a bird (its id) or a pack or lot (its link), as far as cosigned.

    Only entries the newest signed checkpoint covers are exported.

    Raises:
        NoCheckpointError: the log has no signed checkpoint yet.
        UnknownSubjectError: the log says nothing about the subject.
        FarmtraceError: the store cannot be opened or read.
    """
    with Store.open(DataDir(data_dir).log) as store:
        until = covered_entries(store)
        if until is None:
            raise NoCheckpointError(f"{data_dir}: the log has no signed checkpoint yet")
        if isinstance(subject, str):
            return export_bird(
                store, subject, base_url=base_url, created_ms=created_ms, until=until
            )
        return export_pack(store, subject, base_url=base_url, created_ms=created_ms, until=until)


def epcis_export_across(
    data_dirs: Sequence[Path],
    subject: str | DigitalLink,
    *,
    base_url: str,
    created_ms: int,
    slugs: Mapping[str, str] | None = None,
    others: Mapping[str, OtherLog] | None = None,
) -> dict[str, Any]:
    """One EPCIS 2.0 document of a subject across logs (:func:`chain.epcis.across.export_across`).

    Each log contributes only what its newest signed checkpoint covers.
    ``slugs`` names logs by origin (default: derived from the origin);
    ``others`` is what the pins say of referenced logs.

    Raises:
        NoCheckpointError: a log has no signed checkpoint yet.
        UnknownSubjectError: no log says anything about the subject.
        FarmtraceError: a store cannot be opened or read; a log is given twice.
    """
    with ExitStack() as stack:
        logs: list[ExportedLog] = []
        for data_dir in data_dirs:
            store = stack.enter_context(Store.open(DataDir(data_dir).log))
            until = covered_entries(store)
            if until is None:
                raise NoCheckpointError(f"{data_dir}: the log has no signed checkpoint yet")
            logs.append(ExportedLog(store, until, (slugs or {}).get(store.origin)))
        return export_across(logs, subject, base_url=base_url, created_ms=created_ms, others=others)


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename).

    Raises:
        OSError: it cannot be written (no partial file is left).
    """
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
