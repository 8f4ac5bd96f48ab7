"""Who may sign what, and from when: registrations replayed from the log.

Every signer's authority descends from the genesis administrators of the
:class:`~chain.trust.TrustRoot` through ``operator`` and ``device`` entries in
the log. A registration takes effect at its ``ts`` for entries that come after
it in the log; a revocation ends it at its ``ts`` (so a reading buffered
offline before the revocation, and logged after it, still counts). A later
registration of the same id rotates its key from its own ``ts`` on.

Rules (issue 5 refines the event table):

- ``reading``: signed by a registered device, with ``dev`` equal to the signer,
  of a ``kind`` its registration's ``kinds`` lists and about a ``subject`` its
  ``subjects`` allow (:func:`check_reading_allowed`, reasons
  ``kind_not_registered`` and ``subject_not_registered``). A registered
  subject is exact (``barn:b1``) or every subject of its kind (``bird:*``: a
  weighing platform weighs any bird). A registration without ``kinds`` or
  without ``subjects`` (as made before design.md v2 enforced them) allows
  no kind or no subject: re-register the device, same key, to name them.
- ``event``: signed by an operator holding a role in :data:`EVENT_ROLES`.
- ``device`` registration/revocation: signed by an ``admin`` or ``farm`` operator.
- ``operator`` registration/revocation: signed by an ``admin``; a self-signed
  registration is accepted only from a genesis administrator, for its own key.
- An id is either a device or an operator, never both.

This module is pure: callers replay entries in log order with :meth:`Registry.apply`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from chain._encoding import b64url_decode
from chain.entries import Entry
from chain.errors import AuthorizationError, UnknownSignerError
from chain.trust import TrustRoot

__all__ = [
    "DEVICE_REGISTRAR_ROLES",
    "EVENT_ROLES",
    "OPERATOR_REGISTRAR_ROLES",
    "Grant",
    "Registry",
    "check_reading_allowed",
]

DEVICE_REGISTRAR_ROLES = frozenset({"admin", "farm"})
OPERATOR_REGISTRAR_ROLES = frozenset({"admin"})
EVENT_ROLES: Mapping[str, frozenset[str]] = {
    "hatched": frozenset({"hatchery", "farm"}),
    "placed": frozenset({"farm"}),
    "moved": frozenset({"farm"}),
    "died": frozenset({"farm", "vet"}),
    "vaccinated": frozenset({"vet", "hatchery", "farm"}),
    "treated": frozenset({"vet"}),
    "inspected": frozenset({"vet"}),
    "slaughtered": frozenset({"plant"}),
    "packed": frozenset({"plant"}),
    "shipped": frozenset({"farm", "plant", "distributor"}),
    "received": frozenset({"plant", "distributor", "retailer"}),
    "recalled": frozenset({"admin", "plant", "retailer"}),
}

GENESIS_INDEX = -1


@dataclass(frozen=True, slots=True)
class Grant:
    """One registration (or, with ``public_key`` None, revocation) of a signer.

    ``index`` is the global log index of the entry that made it
    (:data:`GENESIS_INDEX` for trust-root administrators). ``kinds`` and
    ``subjects`` are what a device's readings may report, as registered
    (empty for operators, revocations and registrations that name none).
    """

    signer: str
    kind: Literal["device", "operator"]
    public_key: bytes | None
    roles: frozenset[str]
    valid_from: int
    index: int
    kinds: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()


@dataclass(slots=True)
class Registry:
    """Signers' grants, built by replaying registration entries in log order."""

    _grants: dict[str, list[Grant]] = field(default_factory=dict)

    @classmethod
    def from_trust_root(cls, trust: TrustRoot) -> Registry:
        """A registry holding only the genesis administrators."""
        registry = cls()
        for admin_id, key in trust.admins:
            registry._grants[admin_id] = [
                Grant(admin_id, "operator", key, frozenset({"admin"}), 0, GENESIS_INDEX)
            ]
        return registry

    @classmethod
    def from_grants(cls, grants: Iterable[Grant]) -> Registry:
        """Rebuild a registry from :meth:`grants` (e.g. in a worker process)."""
        registry = cls()
        for grant in grants:
            registry._grants.setdefault(grant.signer, []).append(grant)
        return registry

    def grants(self) -> tuple[Grant, ...]:
        """Every grant, in the order they were applied."""
        return tuple(g for gs in self._grants.values() for g in gs)

    def grant_at(self, signer: str, ts: int, index: int) -> Grant:
        """The grant in force for ``signer`` at time ``ts``, for an entry at log ``index``.

        Only grants made by entries before ``index`` count.

        Raises:
            UnknownSignerError: nothing registered ``signer`` before ``index``.
            AuthorizationError: ``ts`` is before its registration, or it was revoked by then.
        """
        known = [g for g in self._grants.get(signer, ()) if g.index < index]
        if not known:
            raise UnknownSignerError(f"signer {signer!r} is not registered before entry {index}")
        in_force = [g for g in known if g.valid_from <= ts]
        if not in_force:
            first = min(g.valid_from for g in known)
            raise AuthorizationError(
                f"signer {signer!r} signed at ts {ts}, before its registration at ts {first}"
            )
        grant = max(in_force, key=lambda g: (g.valid_from, g.index))
        if grant.public_key is None:
            raise AuthorizationError(
                f"signer {signer!r} was revoked at ts {grant.valid_from} (entry {grant.index}); "
                f"entry signed at ts {ts}"
            )
        return grant

    def authorize(self, entry: Entry, index: int) -> bytes:
        """Check that ``entry``'s signer may sign it; return the key to verify it with.

        The signature itself is not checked here.

        Raises:
            UnknownSignerError, AuthorizationError: as for :meth:`grant_at`, or
                the signer's kind or roles do not allow this entry, or (reasons
                ``kind_not_registered``, ``subject_not_registered``) a
                reading's kind or subject is not one its device's grant allows.
        """
        payload = entry.payload
        if entry.type == "operator" and payload["op"] == entry.kid:
            return self._authorize_self_signed(entry, index)
        grant = self.grant_at(entry.kid, entry.ts, index)
        if entry.type == "reading":
            allowed = grant.kind == "device"
            need = "a device"
        elif entry.type == "gap":  # a signer's own seq stream: any registered signer
            allowed, need = True, "its own signer"
        elif entry.type == "event":
            roles = EVENT_ROLES.get(str(payload["event"]), frozenset())
            allowed = grant.kind == "operator" and bool(grant.roles & roles)
            need = f"an operator with a role in {sorted(roles)}"
        elif entry.type == "device":
            allowed = grant.kind == "operator" and bool(grant.roles & DEVICE_REGISTRAR_ROLES)
            need = f"an operator with a role in {sorted(DEVICE_REGISTRAR_ROLES)}"
        else:
            allowed = grant.kind == "operator" and bool(grant.roles & OPERATOR_REGISTRAR_ROLES)
            need = f"an operator with a role in {sorted(OPERATOR_REGISTRAR_ROLES)}"
        if not allowed:
            raise AuthorizationError(
                f"entry {index}: {entry.type} must be signed by {need}; {entry.kid!r} is a "
                f"{grant.kind} with roles {sorted(grant.roles)}"
            )
        if entry.type == "reading":
            check_reading_allowed(grant, str(payload["kind"]), str(payload["subject"]), index)
        assert grant.public_key is not None
        return grant.public_key

    def _authorize_self_signed(self, entry: Entry, index: int) -> bytes:
        genesis = [g for g in self._grants.get(entry.kid, ()) if g.index == GENESIS_INDEX]
        key = _registered_key(entry)
        if not genesis or genesis[0].public_key != key or entry.payload["action"] != "register":
            raise AuthorizationError(
                f"entry {index}: self-signed operator registration of {entry.kid!r} is only "
                "accepted from a genesis administrator, for its own trust-root key"
            )
        return key

    def apply(self, entry: Entry, index: int) -> None:
        """Record a verified, authorised registration or revocation at log ``index``.

        Entries of other types are ignored. Call :meth:`authorize` (and verify
        the signature) first.

        Raises:
            AuthorizationError: revoking an unknown id, or an id that would be
                both a device and an operator.
        """
        if entry.type not in ("device", "operator"):
            return
        payload = entry.payload
        kind: Literal["device", "operator"] = "device" if entry.type == "device" else "operator"
        subject = str(payload["dev"] if kind == "device" else payload["op"])
        existing = self._grants.get(subject, [])
        if existing and existing[0].kind != kind:
            raise AuthorizationError(
                f"entry {index}: {subject!r} is already a {existing[0].kind}, not a {kind}"
            )
        if payload["action"] == "revoke":
            if not existing:
                raise AuthorizationError(f"entry {index}: cannot revoke unregistered {subject!r}")
            grant = Grant(subject, kind, None, frozenset(), entry.ts, index)
        else:
            roles = (
                frozenset(str(r) for r in payload.get("roles", ()))
                if kind == "operator"
                else frozenset()
            )
            grant = Grant(
                subject,
                kind,
                _registered_key(entry),
                roles,
                entry.ts,
                index,
                frozenset(str(k) for k in payload.get("kinds", ())),
                frozenset(str(s) for s in payload.get("subjects", ())),
            )
        self._grants.setdefault(subject, []).append(grant)


def check_reading_allowed(grant: Grant, kind: str, subject: str, index: int) -> None:
    """Check that a reading of ``kind`` about ``subject`` is one ``grant`` allows.

    The one rule the gateway's admission and every replay (audit, replica,
    verify-batch) apply, through :meth:`Registry.authorize`. ``subject`` is
    allowed when the grant lists it, or lists ``<its kind>:*``.

    Raises:
        AuthorizationError: reason ``kind_not_registered`` (checked first) or
            ``subject_not_registered``; the message names the registration
            entry and what it allows.
    """
    where = f"entry {index}: {grant.signer!r} (registered by entry {grant.index})"
    if kind not in grant.kinds:
        raise AuthorizationError(
            f"{where}: kind: expected a kind {_listed(grant.kinds, 'kinds')}, found {kind!r}",
            reason="kind_not_registered",
        )
    wildcard = subject.partition(":")[0] + ":*"
    if subject not in grant.subjects and wildcard not in grant.subjects:
        raise AuthorizationError(
            f"{where}: subject: expected a subject {_listed(grant.subjects, 'subjects')}, "
            f"found {subject!r}",
            reason="subject_not_registered",
        )


def _listed(allowed: frozenset[str], member: str) -> str:
    if not allowed:
        return f"registered for it (its registration lists no {member})"
    return "registered for it: " + ", ".join(sorted(allowed))


def _registered_key(entry: Entry) -> bytes:
    return b64url_decode(str(entry.payload["pubkey"]))
