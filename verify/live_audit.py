"""A live audit: copy a running log through its read API, verify everything, ask its witnesses.

Usage::

    client = ReadApiClient("https://farm.example")
    report = live_audit(client, trust, policy=policy, state_path=Path("farm.state"))
    print(report.to_text())
    raise SystemExit(0 if report.ok else 1)

Order of work:

1. The log's ``/checkpoint``: signed by the pinned log key (else nothing
   more can be trusted: the audit stops there), then cosigned by a quorum of
   the policy's witnesses.
2. Every block, into a temporary store, through a
   :class:`~chain.follow.Follower` (inclusion in that checkpoint, hash links,
   entries roots, signatures, authority), then the offline audit
   (:func:`~chain.audit.audit_store`) of the copy: lifecycle replay, sequence
   gaps, every index and count.
3. The previous run's checkpoint (``state_path``), then each witness's latest
   cosigned checkpoint, against the log's history
   (:class:`~verify._history.HistoryProbe`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from chain.audit import AuditReport, Finding, audit_store
from chain.checkpoint import Checkpoint, open_checkpoint
from chain.errors import (
    FarmtraceError,
    ForkError,
    MalformedNoteError,
    QuorumError,
    RegistryCommitmentError,
    SourceError,
    StorageError,
)
from chain.follow import Follower
from chain.store import Store
from chain.trust import TrustRoot
from chain.witness_policy import WitnessPolicy
from readapi.client import ReadApiClient, Transport, urllib_transport
from verify._history import HistoryProbe
from verify._pull import pull_log
from verify.audit_state import SavedCheckpoint, read_state, write_state
from verify.report import LiveAuditReport, StateCheck
from verify.witness_check import cross_check

__all__ = ["NO_POLICY_WARNING", "Progress", "live_audit", "no_progress"]

NO_POLICY_WARNING = (
    "no witness policy given (--witnesses): the checkpoint is trusted on the log's "
    "signature alone, so a history the log's owner rewrote and re-signed could pass"
)


class Progress(Protocol):
    """Opens a progress bar: ``with progress(what, total, unit) as advance: advance(n)``."""

    def __call__(
        self, what: str, total: int | None, unit: str
    ) -> AbstractContextManager[Callable[[int], None]]:
        """A context whose value advances the bar by ``n``."""
        ...


@contextmanager
def no_progress(what: str, total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
    """A :class:`Progress` that shows nothing."""
    yield lambda n: None


def live_audit(
    client: ReadApiClient,
    trust: TrustRoot,
    *,
    policy: WitnessPolicy | None = None,
    state_path: Path | None = None,
    jobs: int | None = None,
    witness_transport: Transport = urllib_transport,
    progress: Progress = no_progress,
    on_audited: Callable[[Store], None] | None = None,
) -> LiveAuditReport:
    """Audit the log ``client`` reads against ``trust``, its witnesses and the saved state.

    ``policy`` None means no witness policy (reported as a warning).
    ``jobs`` is :func:`~chain.audit.audit_store`'s. Witnesses are asked
    through ``witness_transport`` with the client's timeout. ``on_audited``,
    if given, is called with the verified copy once it is audited, before
    the copy is deleted (e.g. to collect its cross-log references); it is
    not called when the log's checkpoint is not signed by the pinned key.

    Raises:
        SourceError: the log could not be read (no verdict).
        StorageError: the state file cannot be read or is another log's,
            or the temporary copy failed.
    """
    started = time.monotonic()
    saved = None if state_path is None else read_state(state_path, trust.log_key)
    note = client.checkpoint()
    report = LiveAuditReport(
        client.base_url,
        AuditReport(origin=trust.origin),
        policy=None if policy is None else policy.describe(),
    )
    try:
        checkpoint = open_checkpoint(note, trust.log_key)
    except FarmtraceError as exc:
        report.fail(exc.reason, f"the log's checkpoint: {exc}; nothing it serves can be trusted")
        report.seconds = time.monotonic() - started
        return report
    report.served_size, report.served_root = checkpoint.size, checkpoint.root_hash.hex()
    vouched = _check_cosignatures(report, policy, note)
    with (
        tempfile.TemporaryDirectory(prefix="farmtrace-audit-") as scratch,
        Store.open(Path(scratch) / "log", origin=trust.origin, sync=False) as store,
        ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="audit-verify") as pool,
    ):
        follower = Follower(store, trust, executor=pool)
        report.absorb(_copy_and_audit(client, follower, note, checkpoint, jobs, progress))
        if on_audited is not None:
            on_audited(store)
        report.pull_seconds = time.monotonic() - started - report.audit.seconds
        probe = HistoryProbe(store, client, checkpoint)
        if policy is not None:
            _cross_check(report, policy, trust, probe, witness_transport, client.timeout)
            vouched = vouched and not any(check.failed for check in report.witnesses)
        if state_path is not None:
            report.state = _check_state(report, state_path, saved, note, probe, vouched)
    report.seconds = time.monotonic() - started
    return report


def _check_cosignatures(report: LiveAuditReport, policy: WitnessPolicy | None, note: str) -> bool:
    """Whether the served checkpoint is cosigned as the policy asks (True without a policy)."""
    if policy is None:
        report.warn("no_witness_policy", NO_POLICY_WARNING)
        return True
    try:
        report.cosigners = policy.check(note)
    except QuorumError as exc:
        report.cosigners = policy.cosigners(note)
        report.fail(exc.reason, f"the served {exc}")
    except FarmtraceError as exc:
        report.fail(exc.reason, f"the served checkpoint's cosignatures: {exc}")
    else:
        return True
    return False


def _copy_and_audit(
    client: ReadApiClient,
    follower: Follower,
    note: str,
    checkpoint: Checkpoint,
    jobs: int | None,
    progress: Progress,
) -> AuditReport:
    store, trust = follower.store, follower.trust
    try:
        follower.check_consistency(checkpoint, [])
    except FarmtraceError as exc:  # only a size-0 checkpoint with a non-empty root
        return AuditReport(origin=trust.origin, failures=[Finding(exc.reason, str(exc))])
    with progress("copying", checkpoint.size, " blocks") as advance:
        stopped = pull_log(client, follower, checkpoint, on_block=lambda n: advance(1))
    if stopped is not None:
        tail = checkpoint.size - store.size - 1
        return AuditReport(
            origin=trust.origin,
            blocks=store.size,
            entries=store.entry_count,
            checkpoint_size=checkpoint.size,
            checkpoint_root=checkpoint.root_hash.hex(),
            failures=[stopped],
            warnings=[
                Finding(
                    "unchecked_tail",
                    f"the copy stopped at block {store.size:,} of {checkpoint.size:,}: "
                    f"{tail:,} blocks after it were not checked, nor was the copy audited",
                )
            ],
        )
    try:
        follower.commit_checkpoint(note, checkpoint)
        refused = None
    except (RegistryCommitmentError, MalformedNoteError) as exc:  # a false registry line
        refused = Finding(exc.reason, f"the log's checkpoint of size {checkpoint.size}: {exc}")
    with progress("auditing", store.entry_count, " entries") as advance:
        audited = audit_store(store, trust, jobs=jobs, progress=advance)
    if refused is not None:
        audited.failures.insert(0, refused)
    return audited


def _check_state(
    report: LiveAuditReport,
    path: Path,
    saved: SavedCheckpoint | None,
    note: str,
    probe: HistoryProbe,
    vouched: bool,
) -> StateCheck:
    """Compare with the saved checkpoint; save the served one if it is vouched for and consistent.

    ``vouched``: the served checkpoint has its witness quorum and no witness
    contradicts it. Another is not saved: a log waiting for its witnesses
    may later serve an older, witnessed checkpoint, which is no rollback;
    and one on a forked branch must not become the reference.
    """
    served = probe.served
    if saved is None:
        outcome, message = "first_run", "no checkpoint saved yet"
    else:
        outcome, message = _compare_state(saved.checkpoint, probe)
        if outcome in ("rollback", "fork"):
            report.fail(outcome, f"state: {message}")
        elif outcome == "unchecked":
            report.warn("state_unchecked", message)
    updated = False
    if outcome in ("first_run", "consistent") and not vouched:
        message += "; the served checkpoint was not saved: its witnesses do not vouch for it"
    elif outcome in ("first_run", "consistent"):
        try:
            write_state(path, note)
        except StorageError as exc:
            report.fail(exc.reason, f"state: {exc}")
        else:
            updated = True
            message += f"; saved size {served.size:,}"
    return StateCheck(
        str(path),
        outcome,
        message,
        None if saved is None else saved.checkpoint.size,
        None if saved is None else saved.checkpoint.root_hash.hex(),
        updated,
    )


def _compare_state(previous: Checkpoint, probe: HistoryProbe) -> tuple[str, str]:
    """The outcome of the saved checkpoint against the log, and a message saying why."""
    served = probe.served
    said = f"size {previous.size:,} (root {previous.root_hash.hex()}) verified by a previous run"
    if previous.size > served.size:
        return "rollback", (
            f"the log now serves size {served.size:,}, smaller than the {said}: "
            "the log was rolled back"
        )
    try:
        how = probe.check(previous.size, previous.root_hash)
    except ForkError as exc:
        return "fork", f"{said}; {exc}: the log's history was forked"
    except SourceError as exc:
        return "unchecked", f"{said}; the log could not be asked: {exc}"
    return "consistent", f"{said}: {how}"


def _cross_check(
    report: LiveAuditReport,
    policy: WitnessPolicy,
    trust: TrustRoot,
    probe: HistoryProbe,
    transport: Transport,
    timeout: float,
) -> None:
    checks = cross_check(policy, trust.origin, trust.log_key, probe, transport, timeout)
    report.witnesses = checks
    for check in checks:
        if check.failed:
            report.fail(check.outcome, check.message)
        elif check.outcome == "unchecked":
            report.warn("witness_unchecked", f"{check.name}: {check.message}")
    asked = sum(1 for c in checks if c.url is not None)
    checked = sum(1 for c in checks if c.checked)
    if checked >= policy.quorum:
        return
    if asked:
        report.fail(
            "witness_crosscheck",
            f"only {checked} of the {asked} witnesses with a url could be cross-checked, "
            f"fewer than the quorum of {policy.quorum}: a rollback or fork of the log "
            "cannot be ruled out",
        )
    else:
        report.warn(
            "witness_crosscheck",
            "no witness in the policy has a url, so none was cross-checked: a rollback to "
            "an older checkpoint they cosigned could pass",
        )
