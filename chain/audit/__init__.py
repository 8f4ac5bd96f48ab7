"""Offline audit of a farmtrace log store.

Usage::

    from chain.audit import audit_store
    from chain.store import Store
    from chain.trust import TrustRoot

    with Store.open("data/log") as store:
        report = audit_store(store, TrustRoot.from_json(open("trust.json").read()))
    print(report.to_text())
    raise SystemExit(0 if report.ok else 1)
"""

from chain.audit._auditor import audit_store
from chain.audit._report import AuditReport, Finding, SignerGaps

__all__ = ["AuditReport", "Finding", "SignerGaps", "audit_store"]
