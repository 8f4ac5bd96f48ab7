"""The desk's operator: its key, its roles in the log, and the one path that records an event.

A desk signs as one operator (the organisation that runs it), with the key
``DESK_DIR/operator.key`` and the seq state ``DESK_DIR/state/``. Its roles
come from ``ROLES`` in the configuration, or else from its registrations
in the log, read through the read API at ``CHECK_URL`` (``GET
/api/v1/signers/<id>`` and those entries) and replayed as ``farmtrace
event`` does (:func:`~signer.operator_events.operator_grant`). Submissions
are serialised: one operator has one seq stream, and two contradicting
events sent at once must not both pass the pre-check.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chain.errors import AuthorizationError, MalformedError, SourceError, VerificationError
from chain.keyfile import SignerKey
from readapi import ReadApiClient
from signer.http_submit import SubmitUrl
from signer.mqtt_url import MqttUrl
from signer.operator_events import (
    EventDraft,
    Recorded,
    operator_grant,
    precheck,
    record_event,
)
from signer.transport import operator_identity

__all__ = ["Operator", "RoleLookup", "Submitted"]

_ROLE_CACHE_S = 30.0


@dataclass(frozen=True, slots=True)
class RoleLookup:
    """The operator's roles as last found; ``problem`` says why they are empty, if they are."""

    roles: frozenset[str]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the result page shows of one recorded event."""

    event: str
    subjects: tuple[str, ...]
    seq: int
    block: int | None
    user: str
    refs: tuple[Mapping[str, object], ...] = ()
    """What the result page shows of each reference to another log (desk/_refs.py)."""


class Operator:
    """Signs and submits events as the desk's operator (see the module docstring).

    ``mqtt`` is the broker login it sends through, or a gateway taking
    entries over HTTP (an operator-only log; ``farm`` unused).
    """

    def __init__(
        self,
        key: SignerKey,
        state_dir: Path,
        check_url: str,
        mqtt: MqttUrl | SubmitUrl,
        farm: str,
        *,
        roles: frozenset[str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.key, self.state_dir, self.check_url = key, state_dir, check_url
        self.mqtt, self.farm, self.timeout = mqtt, farm, timeout
        self._fixed_roles = roles
        self._cached: tuple[float, RoleLookup] | None = None
        self._submit_lock = threading.Lock()
        self._done: OrderedDict[str, Submitted] = OrderedDict()
        self._done_lock = threading.Lock()

    @property
    def id(self) -> str:
        """The operator id (the JWS ``kid`` of what the desk signs)."""
        return self.key.id

    def roles(self) -> RoleLookup:
        """The operator's roles (cached for a while when read from the log)."""
        if self._fixed_roles is not None:
            return RoleLookup(self._fixed_roles)
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _ROLE_CACHE_S:
            return self._cached[1]
        lookup = self._lookup_roles()
        if lookup.problem is None:
            self._cached = (now, lookup)
        return lookup

    def _lookup_roles(self) -> RoleLookup:
        client = ReadApiClient(self.check_url, timeout=10)
        now = time.time_ns() // 1_000_000
        try:
            grants = client.signer(self.id)["grants"]
            grant = operator_grant(
                self.id, grants, lambda i: client.entry_proof(i).entry, now, self.key.public_key
            )
        except SourceError as exc:
            if exc.status == 404:
                return RoleLookup(frozenset(), f"{self.id} is not registered in the log yet")
            return RoleLookup(frozenset(), f"cannot read {self.id}'s registration: {exc}")
        except (VerificationError, MalformedError) as exc:
            return RoleLookup(frozenset(), f"{self.id} may not sign now: {exc}")
        return RoleLookup(grant.roles)

    def submitted(self, form_id: str, user: str) -> Submitted | None:
        """The result of the form ``form_id`` if ``user`` already recorded it (a second click).

        Raises:
            AuthorizationError: another user recorded it: its result is theirs alone.
        """
        with self._done_lock:
            found = self._done.get(form_id)
        if found is not None and found.user != user:
            raise AuthorizationError(f"form {form_id}: expected one of {user}'s, found another's")
        return found

    def submit(
        self,
        draft: EventDraft,
        form_id: str,
        user: str,
        refs: tuple[Mapping[str, object], ...] = (),
    ) -> Submitted:
        """Pre-check, sign, publish and wait for the receipt of ``draft`` (one at a time).

        ``refs`` is what the result shows of the draft's references.

        Raises:
            AuthorizationError, LifecycleError, SourceError, MalformedEntryError:
                refused by :func:`~signer.operator_events.precheck`, or
                ``form_id`` was recorded by another user; no seq used.
            StorageError: the operator's state is locked by another program, or
                cannot be written.
            NoReceiptError, PermissionError: as for
                :func:`~signer.operator_events.record_event` (seq used).
        """
        with self._submit_lock:
            earlier = self.submitted(form_id, user)
            if earlier is not None:
                return earlier
            lookup = self.roles()
            if lookup.problem is not None:
                raise AuthorizationError(lookup.problem)
            history = ReadApiClient(self.check_url, timeout=10).subject_events
            precheck(draft, self.id, history, roles=lookup.roles)
            with operator_identity(self.state_dir, self.key) as identity:
                recorded: Recorded = record_event(
                    identity, draft, self.mqtt, self.farm, timeout=self.timeout
                )
            result = Submitted(
                draft.event, draft.subjects, recorded.seq, recorded.block, user, refs
            )
            with self._done_lock:
                self._done[form_id] = result
                while len(self._done) > 1000:
                    self._done.popitem(last=False)
            return result
