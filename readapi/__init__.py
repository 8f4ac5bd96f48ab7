"""The HTTP read API of design.md section 5, shared by the gateway and consumer_web.

:func:`create_read_api` returns a Flask blueprint that serves one log from a
:class:`LogSource` (the gateway passes its live store, a consumer_web replica
its copy); :func:`install_json_errors` makes the app answer errors under the
API as JSON; :func:`create_app` does both for a stand-alone app::

    app = create_app(LogInfo(origin, vkey, witnesses, store))

:class:`ReadApiClient` (:mod:`readapi.client`) is the other side: it fetches
from a read API, for a replica that follows a gateway; :func:`blocks_ahead`
fetches a run of blocks and their proofs ahead of the one being verified.

``readapi`` imports only :mod:`chain` (and Flask), so that both servers can
use it without importing each other.
"""

from __future__ import annotations

from readapi._app import create_app
from readapi._errors import API_PATHS, install_json_errors
from readapi._prefetch import blocks_ahead
from readapi._source import LogInfo, LogSource
from readapi._views import create_read_api
from readapi.client import FetchedBlock, ReadApiClient, Transport

__all__ = [
    "API_PATHS",
    "FetchedBlock",
    "LogInfo",
    "LogSource",
    "ReadApiClient",
    "Transport",
    "blocks_ahead",
    "create_app",
    "create_read_api",
    "install_json_errors",
]
