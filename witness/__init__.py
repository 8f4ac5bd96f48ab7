"""A C2SP tlog-witness: cosigns a log's checkpoints once they prove it grew append-only.

A witness is run by a party other than the farm (a co-op, a retailer, a
regulator). It keeps, per log it follows, the latest checkpoint it cosigned,
and cosigns a new one only if the log's key signed it and a consistency
proof shows it extends that state (c2sp.org/tlog-witness). A verifier that
requires cosignatures from several independent witnesses (a k-of-n
:class:`chain.witness_policy.WitnessPolicy`) can no longer be shown a forked
or rolled-back log without the witnesses noticing.

Typical use::

    config = init_witness_dir(Path("w"), "coop.example/witness", [(origin, log_vkey)])
    app = create_app(Path("w"))            # or: farmtrace witness serve --dir w
"""

from witness._app import create_app, make_http_server
from witness._config import WitnessConfig, add_log, init_witness_dir
from witness._core import Cosigned, LogState, Refusal, decide
from witness._service import WitnessService, status_document
from witness._state import StateStore, read_states

__all__ = [
    "Cosigned",
    "LogState",
    "Refusal",
    "StateStore",
    "WitnessConfig",
    "WitnessService",
    "add_log",
    "create_app",
    "decide",
    "init_witness_dir",
    "make_http_server",
    "read_states",
    "status_document",
]
