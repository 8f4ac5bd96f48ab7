"""An operator's event checked against the log, then signed and sent: ``farmtrace event``'s job.

:func:`~signer.log_checks.check_event` first (nothing is signed if the log
says no), then :func:`~signer.operator_events.record_event`; when no receipt
comes, the gateway's rejection counters before and after say why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chain.errors import FarmtraceError, MalformedError, SourceError
from chain.keyfile import SignerKey
from signer.event_text import describe_draft
from signer.http_submit import SubmitUrl
from signer.log_checks import LogReader, check_event, rejection_counts, rejections_text
from signer.mqtt_url import MqttUrl
from signer.operator_events import EventDraft, Recorded, record_event
from signer.transport import operator_identity

__all__ = ["LogUnavailableError", "UnconfirmedEventError", "sign_checked_event"]


class LogUnavailableError(FarmtraceError):
    """The log could not be asked whether the event may be signed; nothing was signed.

    ``__cause__`` is the SourceError or MalformedError of the read API.
    """


class UnconfirmedEventError(TimeoutError):
    """The event was signed and sent, but no receipt came; the message says what was rejected."""


def sign_checked_event(
    draft: EventDraft,
    key: SignerKey,
    state_dir: Path,
    url: MqttUrl | SubmitUrl,
    farm: str,
    *,
    log: LogReader | None,
    metrics_url: str,
    timeout: float,
    say: Callable[[str], None],
) -> Recorded:
    """Check ``draft`` against ``log`` (``None``: unchecked), sign it as ``key``, await a receipt.

    ``metrics_url`` is the gateway whose rejection counters explain a missing
    receipt. ``say`` gets a line for people before signing.

    Raises:
        AuthorizationError, UnknownSignerError, LifecycleError: the log says
            ``key`` may not sign this now (nothing signed).
        LogUnavailableError: the log could not be asked (nothing signed).
        UnconfirmedEventError: no receipt in time (the seq is used, or no
            connection to the broker: nothing signed).
        PermissionError: the broker refused the connection or the entry.
        OSError, FarmtraceError: ``state_dir`` cannot be used (nothing signed).
    """
    if log is not None:
        try:
            check_event(draft, log, key.id, key.public_key)
        except (SourceError, MalformedError) as exc:
            raise LogUnavailableError(str(exc), reason="log_unavailable") from exc
    before = rejection_counts(metrics_url)  # to tell, if no receipt comes, what it rejected
    with operator_identity(state_dir, key) as identity:
        say(f"signing {describe_draft(draft)} as {key.id}")
        try:
            return record_event(identity, draft, url, farm, timeout=timeout)
        except TimeoutError as exc:  # NoReceiptError: the seq is used
            why = rejections_text(before, rejection_counts(metrics_url))
            raise UnconfirmedEventError(f"{exc}. {why}") from exc
