"""A new farm log with its genesis administrator ready to sign (``farmtrace gateway init``).

:func:`gateway.launch.create_log` writes the log (the gateway does not sign
as anyone); the administrator's seq state, whose seq 1 is the genesis
registration in block 0, is a signer's state (:mod:`signer.identity`).
"""

from __future__ import annotations

from pathlib import Path

from gateway.datadir import DataDir
from gateway.launch import CreatedLog, create_log
from signer.identity import DeviceIdentity

__all__ = ["create_farm_log"]


def create_farm_log(
    data_dir: DataDir,
    origin: str,
    *,
    now_ms: int,
    admin_id: str = "admin",
    admin_key: Path | None = None,
) -> CreatedLog:
    """Create the log in ``data_dir`` and the administrator's seq state, seq 1 used.

    Raises:
        As :func:`gateway.launch.create_log`; FarmtraceError also when the
        administrator's seq state cannot be created.
    """
    created = create_log(data_dir, origin, now_ms=now_ms, admin_id=admin_id, admin_key=admin_key)
    with DeviceIdentity.create(created.admin_state, created.admin) as identity:
        identity.next_seq()  # seq 1 is the genesis registration in block 0
    return created
