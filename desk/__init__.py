"""The operators' desk: a web form for staff without a terminal to record lifecycle events.

An organisation (a farm, a plant, a shop) runs it with its operator's key;
its staff log in and fill in one form per event kind the operator may sign.
Each submission goes the same way as ``farmtrace event``
(:mod:`signer.operator_events`): validated, pre-checked against the
log, signed, published and confirmed by the gateway's receipt::

    app = desk.create_app({"DESK_DIR": "desk", "MQTT_URL": "mqtt://plant1:pw@gw",
                           "FARM": "farm1", "CHECK_URL": "http://gw:8080"})

``farmtrace desk init|adduser|run`` sets one up and serves it.
"""

from desk._app import CSP, DEFAULTS, KEY_FILE, SECRET_FILE, STATE_DIR, USERS_FILE, create_app
from desk._users import MIN_PASSWORD, add_user, load_users, write_secret

__all__ = [
    "CSP",
    "DEFAULTS",
    "KEY_FILE",
    "MIN_PASSWORD",
    "SECRET_FILE",
    "STATE_DIR",
    "USERS_FILE",
    "add_user",
    "create_app",
    "load_users",
    "write_secret",
]
