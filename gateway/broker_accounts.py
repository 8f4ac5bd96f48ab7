"""Broker logins changed on a running broker: Mosquitto's dynamic security plugin.

A farm adds, replaces and retires devices every week; rewriting a password
file and sending SIGHUP would touch every other login. With the dynamic
security plugin (shipped in Debian's ``mosquitto`` package) the broker keeps
its logins in ``dynamic-security.json`` (:mod:`gateway.dynsec_file`) and
changes one at a time when the accounts user publishes a JSON command on
``$CONTROL/dynamic-security/v1``::

    admin = BrokerAdmin("127.0.0.1", 1883, "broker-admin", password)
    with BrokerAccounts(admin, "farm1") as accounts:
        accounts.create("b1-temp3", secret)   # may connect at once, to its own topics only
        accounts.delete("b1-temp2")           # refused from now on; its connection is cut
"""

from __future__ import annotations

import glob
import json
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from chain.errors import FarmtraceError
from chain.jws import check_id
from gateway.dynsec_file import CONTROL_TOPIC, RESPONSE_TOPIC, SIGNER_ROLE, signer_role

__all__ = ["AccountError", "BrokerAccounts", "BrokerAdmin", "find_dynsec_plugin"]

_PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)


class AccountError(FarmtraceError):
    """The broker refused or did not answer an account change.

    ``reason``: ``exists`` (a login of that name exists), ``not_found`` (no
    such login), ``refused`` (the plugin's other errors, e.g. the accounts
    user lacks the role), ``unreachable`` (no connection, or not authorised
    to connect) or ``no_answer`` (connected, but no response in time: is the
    plugin loaded?).
    """

    reason = "broker_account"


def find_dynsec_plugin() -> str:
    """The path of ``mosquitto_dynamic_security.so``.

    Raises:
        AccountError: reason ``unreachable``: not installed (the message says how to get it).
    """
    for pattern in _PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise AccountError(
        "Mosquitto's dynamic security plugin (mosquitto_dynamic_security.so) is not "
        "installed; Debian's mosquitto package (2.0 or later) ships it",
        reason="unreachable",
    )


@dataclass(frozen=True, slots=True)
class BrokerAdmin:
    """Where the broker listens, and the accounts user's login (it has :data:`ACCOUNTS_ROLE`)."""

    host: str
    port: int
    user: str
    password: str


class BrokerAccounts:
    """An MQTT session of the accounts user, sending one plugin command at a time.

    Use as a context manager; connecting happens on entry.

    Raises (on entry):
        AccountError: reason ``unreachable``: no connection within ``timeout``
            seconds, or the broker refused the login.
    """

    def __init__(self, admin: BrokerAdmin, farm: str, *, timeout: float = 10.0) -> None:
        self._farm = farm
        self._admin = admin
        self._timeout = timeout
        self._answers: queue.Queue[bytes] = queue.Queue()
        self._ready = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=admin.user, protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(admin.user, admin.password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = lambda _c, _u, m: self._answers.put(bytes(m.payload))

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._refused = str(rc)
            self._ready.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def __enter__(self) -> BrokerAccounts:
        where = f"broker {self._admin.host}:{self._admin.port} as {self._admin.user!r}"
        try:
            self._client.connect(self._admin.host, self._admin.port)
        except OSError as exc:
            self._release()
            raise AccountError(f"{where}: {exc}", reason="unreachable") from exc
        self._client.loop_start()
        if not self._ready.wait(self._timeout) or self._refused is not None:
            self.close()
            found = self._refused or f"no answer in {self._timeout} s"
            raise AccountError(f"{where}: expected a session, found {found}", reason="unreachable")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect and release the client's sockets (idempotent)."""
        self._client.disconnect()
        self._client.loop_stop()
        self._release()

    def _release(self) -> None:
        # paho keeps a wake-up socket pair until garbage collection (paho#627).
        self._client._reset_sockets()

    def create(self, user: str, password: str, *, topics_of: str | None = None) -> None:
        """Create login ``user`` with the role of signer ``topics_of`` (default: ``user``).

        The role lets it publish only that signer's entry and status topics
        and read its receipts. A second login for an operator's topics (e.g.
        one command's) does not knock the operator's own session off, as a
        second session with its user name would.

        Raises:
            MalformedError: ``user`` or ``topics_of`` is not an id.
            AccountError: ``exists``, ``refused`` or ``no_answer``.
        """
        check_id(user, "MQTT username")
        role = signer_role(self._farm, check_id(topics_of or user, "signer id"))
        try:
            self._run({"command": "createRole"} | role)
        except AccountError as exc:
            if exc.reason != "exists":  # left by an interrupted delete: the same ACLs
                raise
        command = {"command": "createClient", "username": user, "password": password}
        self._run(command | {"roles": [{"rolename": role["rolename"]}]})

    def delete(self, user: str, *, delete_role: bool = True) -> None:
        """Delete login ``user`` (and its own role): refused from now on; its connection is cut.

        Raises:
            AccountError: ``not_found``, ``refused`` or ``no_answer``.
        """
        self._run({"command": "deleteClient", "username": user})
        if not delete_role:
            return
        try:
            self._run({"command": "deleteRole", "rolename": SIGNER_ROLE + user})
        except AccountError as exc:
            if exc.reason != "not_found":
                raise

    def exists(self, user: str) -> bool:
        """Whether login ``user`` exists.

        Raises:
            AccountError: ``refused`` or ``no_answer``.
        """
        try:
            self._run({"command": "getClient", "username": user})
        except AccountError as exc:
            if exc.reason == "not_found":
                return False
            raise
        return True

    def _run(self, command: dict[str, object]) -> None:
        # Every accounts session reads the one response topic: ours carry our tag.
        tag = secrets.token_hex(8)
        body = json.dumps({"commands": [command | {"correlationData": tag}]}).encode()
        info = self._client.publish(CONTROL_TOPIC, body, qos=1)
        name = f"{command['command']} {command.get('username', command.get('rolename'))}"
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise AccountError(f"{name}: not sent ({info.rc})", reason="unreachable")
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                answer = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AccountError(
                    f"{name}: expected the dynamic security plugin's response within "
                    f"{self._timeout} s, found none (is the plugin loaded?)",
                    reason="no_answer",
                ) from None
            response = _response_tagged(answer, tag)
            if response is not None:
                break
        error = response.get("error")
        if error is not None:
            error = str(error)
            reason = "exists" if "already exists" in error else "refused"
            reason = "not_found" if "not found" in error else reason
            raise AccountError(f"{name}: {error}", reason=reason)


def _response_tagged(answer: bytes, tag: str) -> dict[str, Any] | None:
    """The response in ``answer`` whose ``correlationData`` is ``tag`` (None: another's)."""
    try:
        responses = json.loads(answer)["responses"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(responses, list):
        return None
    for response in responses:
        if isinstance(response, dict) and response.get("correlationData") == tag:
            return response
    return None
