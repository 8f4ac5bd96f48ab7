"""What a live audit found: the offline audit's report plus the witness and state sections.

Every failure and warning of the live checks (witness quorum, cross-checks,
state) is also a :class:`~chain.audit.Finding` of the audit report, so that
``ok``, the RESULT line and the JSON ``failures`` cover everything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from chain.audit import AuditReport, Finding
from verify.witness_check import WitnessCheck, utc

__all__ = ["LiveAuditReport", "StateCheck"]


@dataclass(frozen=True, slots=True)
class StateCheck:
    """The served checkpoint against the one a previous run verified (``--state``).

    ``outcome`` is ``"first_run"`` (no state yet), ``"consistent"``,
    ``"rollback"`` or ``"fork"`` (failures) or ``"unchecked"`` (the log
    could not be asked); ``updated`` says whether the file now holds the
    served checkpoint.
    """

    path: str
    outcome: str
    message: str
    previous_size: int | None = None
    previous_root: str | None = None
    updated: bool = False


@dataclass(slots=True)
class LiveAuditReport:
    """A live audit of the log at ``url``: ``ok`` when nothing failed."""

    url: str
    audit: AuditReport
    served_size: int | None = None
    served_root: str | None = None
    policy: str | None = None
    cosigners: dict[str, int] = field(default_factory=dict)
    witnesses: list[WitnessCheck] = field(default_factory=list)
    state: StateCheck | None = None
    pull_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed (warnings do not fail an audit)."""
        return self.audit.ok

    @property
    def exit_code(self) -> int:
        """The command line's exit status: 0 ok, 1 a check failed, 2 the copy was unreadable."""
        return self.audit.exit_code

    def fail(self, reason: str, message: str) -> None:
        """Record a failure of the live checks."""
        self.audit.failures.append(Finding(reason, message))

    def warn(self, reason: str, message: str) -> None:
        """Record a warning of the live checks."""
        self.audit.warnings.append(Finding(reason, message))

    def absorb(self, audit: AuditReport) -> None:
        """Make ``audit`` the report's audit, the live checks' findings first."""
        audit.failures[:0] = self.audit.failures
        audit.warnings[:0] = self.audit.warnings
        self.audit = audit

    def to_json(self) -> str:
        """The audit's JSON report with a ``live`` member (stable member names)."""
        data = json.loads(self.audit.to_json())
        data["live"] = {
            "url": self.url,
            "served_checkpoint": (
                None
                if self.served_size is None
                else {"size": self.served_size, "root": self.served_root}
            ),
            "witness_policy": self.policy,
            "cosigners": dict(sorted(self.cosigners.items())),
            "witnesses": [asdict(check) for check in self.witnesses],
            "state": None if self.state is None else asdict(self.state),
            "pull_seconds": self.pull_seconds,
            "seconds": self.seconds,
        }
        return json.dumps(data, indent=2, sort_keys=True)

    def to_text(self, *, max_listed: int = 50) -> str:
        """The live section, then the audit's report (which ends with the RESULT)."""
        lines = [f"farmtrace live audit of {self.url}"]
        if self.served_size is None:
            lines.append("  served checkpoint  none verified")
        else:
            lines.append(
                f"  served checkpoint  size {self.served_size:,}, root {self.served_root}, "
                "signed by the pinned log key"
            )
        lines.extend(self._policy_lines())
        if self.state is not None:
            lines.append(f"  state {self.state.path}: {self.state.outcome}: {self.state.message}")
        lines.append(
            f"  took {self.seconds:,.1f} s: {self.pull_seconds:,.1f} s to copy and verify "
            f"the blocks, {self.audit.seconds:,.1f} s to audit the copy"
        )
        return "\n".join(lines) + "\n" + self.audit.to_text(max_listed=max_listed)

    def _policy_lines(self) -> list[str]:
        if self.policy is None:
            return ["  witness policy  none given (--witnesses): nothing but the log vouches"]
        lines = [f"  witness policy  {self.policy}"]
        if self.served_size is not None:
            vouch = ", ".join(f"{name} at {utc(t)}" for name, t in sorted(self.cosigners.items()))
            lines.append(f"    served checkpoint cosigned by: {vouch or 'no trusted witness'}")
        if self.witnesses:
            lines.append("  witness cross-checks (the latest checkpoint each witness cosigned):")
        for check in self.witnesses:
            label = check.outcome.upper() if check.failed else check.outcome
            lines.append(f"    {check.name}: {label}: {check.message}")
        return lines
