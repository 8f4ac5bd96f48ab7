"""An offline audit: a log's LevelDB store (a gateway's data directory, or a copy), verified whole.

::

    report = audit_log_dir(Path("gw/log"), load_trust_root(Path("pinned-trust.json")))
    print(report.to_text())

LevelDB admits one process at a time: stop the gateway, or audit a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chain.audit import AuditReport, audit_store
from chain.errors import FarmtraceError, StorageError
from chain.store import Store
from chain.trust import TrustRoot
from verify.live_audit import Progress, no_progress

__all__ = ["audit_log_dir"]


def audit_log_dir(
    log_dir: Path,
    trust: TrustRoot,
    *,
    jobs: int | None = None,
    progress: Progress = no_progress,
    on_audited: Callable[[Store], None] | None = None,
) -> AuditReport:
    """Audit the store in ``log_dir`` against ``trust`` (see :func:`chain.audit.audit_store`).

    ``progress("", entries, " entries")`` advances by the entries checked.
    Whatever fails inside the log is a finding of the report. The store is
    opened paranoid (:meth:`~chain.store.Store.open`); when it cannot be
    opened (missing, in use, corrupt) or read to the end, the report is
    incomplete (``exit_code`` 2) and its last failure says why.
    ``on_audited``, if given, is called with the open store after the audit
    (e.g. to collect its cross-log references); not when it could not be opened.
    """
    try:
        store = Store.open(log_dir, paranoid=True)
    except StorageError as exc:
        return AuditReport.unreadable(trust.origin, exc)
    try:
        total: int | None = store.entry_count
    except FarmtraceError:
        total = None  # the audit reports the corrupt count
    with store:
        with progress("", total, " entries") as advance:
            report = audit_store(store, trust, jobs=jobs, progress=advance)
        if on_audited is not None:
            on_audited(store)
        return report
