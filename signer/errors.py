"""Errors of the device firmware, added to the one hierarchy of :mod:`chain.errors`.

::

    FarmtraceError                  (chain.errors)
    └── OutboxFullError             the outbox cannot keep another signed entry

Every other failure a device meets is already in :mod:`chain.errors`:
:class:`~chain.errors.StorageError` for a state directory or outbox that is
unusable, :class:`~chain.errors.MalformedEntryError` for a reading that
would not make a valid entry.
"""

from __future__ import annotations

from chain.errors import FarmtraceError

__all__ = ["OutboxFullError"]


class OutboxFullError(FarmtraceError):
    """The outbox cannot keep another signed entry (its byte bound, or the disk, is full).

    A device must never drop a signed reading, so it stops sampling until
    receipts free space (see :class:`signer.outbox.Outbox`).
    ``bytes_used`` and ``max_bytes`` describe the outbox when it refused.
    """

    reason = "outbox_full"

    def __init__(self, message: str, *, bytes_used: int, max_bytes: int) -> None:
        super().__init__(message)
        self.bytes_used = bytes_used
        self.max_bytes = max_bytes
