"""The dynamic security plugin's file: Mosquitto's logins and ACLs for a farm (pure).

With ``farmtrace broker config --dynsec`` Mosquitto keeps its logins in
``dynamic-security.json`` (docs/broker.md) and changes them one at a time on
the running broker (:mod:`gateway.broker_accounts`). :func:`render_dynsec`
and :func:`merge_dynsec` build that file: one client per login, with the
ACLs of :func:`gateway.broker_config.render_acl`: a role for the gateway,
one for the accounts user, and one per device, bridge or operator naming
its own topics (Mosquitto 2.0's plugin has no ``%u`` patterns). Merging
adds missing logins and their roles and resets the shared roles; it never
removes or changes an existing login. Passwords are stored as the plugin
stores them: PBKDF2-HMAC-SHA512, 101 iterations, a 12-byte random salt.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from chain import wire
from chain.jws import check_id

__all__ = [
    "ACCOUNTS_ROLE",
    "CONTROL_TOPIC",
    "DYNSEC_FILE",
    "GATEWAY_ROLE",
    "RESPONSE_TOPIC",
    "SIGNER_ROLE",
    "merge_dynsec",
    "render_dynsec",
    "signer_role",
]

DYNSEC_FILE = "dynamic-security.json"
"""The plugin's file, beside mosquitto.conf; the broker rewrites it on every change."""

GATEWAY_ROLE = "farmtrace-gateway"
ACCOUNTS_ROLE = "farmtrace-accounts"
SIGNER_ROLE = "farmtrace-signer-"
"""Prefix of each signer's own role: ``farmtrace-signer-<its id>``."""

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
_SALT_BYTES = 12  # what the plugin itself writes
_ITERATIONS = 101


def _acl(acltype: str, topic: str) -> dict[str, object]:
    return {"acltype": acltype, "topic": topic, "allow": True}


_RECEIVE = ("publishClientReceive", "subscribePattern")


def signer_role(farm: str, user: str) -> dict[str, object]:
    """The role of one device, bridge or operator: its own entry, status and receipt topics."""
    return {
        "rolename": SIGNER_ROLE + user,
        "acls": [
            _acl("publishClientSend", wire.entry_topic(farm, user)),
            _acl("publishClientSend", wire.status_topic(farm, user)),
            *(_acl(t, wire.receipt_topic(farm, user)) for t in _RECEIVE),
        ],
    }


def _shared_roles(farm: str) -> list[dict[str, object]]:
    prefix = f"{wire.TOPIC_ROOT}/{farm}"
    receive = _RECEIVE
    return [
        {
            "rolename": GATEWAY_ROLE,
            "textname": "reads every entry and status, writes receipts",
            "acls": [
                *(_acl(t, f"{prefix}/+/entry") for t in receive),
                *(_acl(t, f"{prefix}/+/status") for t in receive),
                *(_acl(t, "$SYS/broker/#") for t in receive),
                _acl("publishClientSend", f"{prefix}/+/receipt"),
            ],
        },
        {
            "rolename": ACCOUNTS_ROLE,
            "textname": "changes logins (farmtrace device add/retire/replace)",
            "acls": [
                _acl("publishClientSend", CONTROL_TOPIC),
                *(_acl(t, RESPONSE_TOPIC) for t in receive),
            ],
        },
    ]


def _client(user: str, password: str, role: str) -> dict[str, object]:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return {
        "username": user,
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": _ITERATIONS,
        "roles": [{"rolename": role}],
    }


def render_dynsec(
    farm: str, users: Mapping[str, str], *, gateway_user: str, accounts_user: str
) -> dict[str, Any]:
    """The plugin's initial file for ``users`` (login -> password); see :func:`merge_dynsec`."""
    empty: dict[str, Any] = {"clients": [], "groups": [], "roles": []}
    return merge_dynsec(empty, farm, users, gateway_user=gateway_user, accounts_user=accounts_user)


def merge_dynsec(
    existing: Mapping[str, Any],
    farm: str,
    users: Mapping[str, str],
    *,
    gateway_user: str,
    accounts_user: str,
) -> dict[str, Any]:
    """``existing`` (a plugin file) with every login of ``users`` it lacks, and our roles.

    Existing logins (those added on the running broker included) are kept
    exactly, password, role and all; the gateway's and accounts user's
    roles are (re)written; other roles and groups are kept. Nothing is
    granted by default.

    Raises:
        ValueError: ``existing`` is not a plugin file, a user name is not an
            id, or ``gateway_user``/``accounts_user`` is not among ``users``
            nor ``existing``.
    """
    clients = existing.get("clients", [])
    if not isinstance(clients, list) or not all(
        isinstance(c, dict) and isinstance(c.get("username"), str) for c in clients
    ):
        raise ValueError("not a dynamic security file: clients must be objects with a username")
    known = {str(c["username"]) for c in clients}
    for name in (gateway_user, accounts_user):
        if name not in known and name not in users:
            raise ValueError(f"users must include {name!r}")
    added, ours = [], _shared_roles(farm)
    for user in sorted(set(users) - known):
        check_id(user, "MQTT username")
        role = {gateway_user: GATEWAY_ROLE, accounts_user: ACCOUNTS_ROLE}.get(user)
        if role is None:
            ours.append(signer_role(farm, user))
            role = SIGNER_ROLE + user
        added.append(_client(user, users[user], role))
    names = {role["rolename"] for role in ours}
    others = [r for r in existing.get("roles", []) if r.get("rolename") not in names]
    return {
        **existing,
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [*clients, *added],
        "groups": list(existing.get("groups", [])),
        "roles": [*others, *ours],
    }
