"""What the read API serves: one log's identity and its store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chain.store import Store

__all__ = ["Admins", "LogInfo", "LogSource", "Published", "published_checkpoint", "source_admins"]

Admins = tuple[tuple[str, bytes], ...]
"""Genesis administrators as ``(operator id, raw 32-byte Ed25519 key)`` pairs, as in
:attr:`chain.trust.TrustRoot.admins`."""

Published = Callable[[], "tuple[int, str] | None"]
"""Returns the ``(tree size, signed note)`` to publish, or None before the first checkpoint."""


class LogSource(Protocol):
    """A log as the read API sees it.

    ``origin`` is the log's origin line, ``verifier_key`` its C2SP signed-note
    verifier key, ``witnesses`` the C2SP verifier keys of the witnesses whose
    cosignatures it collects, and ``store`` the open store to read (safe for
    concurrent readers while one writer appends).

    A source that knows its trust root may also have an ``admins`` attribute
    (:data:`Admins`, e.g. ``trust.admins``); ``/api/v1/log`` then lists them.
    It is optional, so it is read with :func:`source_admins`.

    A source may also have a ``published_checkpoint()`` method (a
    :data:`Published`): the checkpoint ``/checkpoint`` serves and proofs
    default to, e.g. the gateway's newest checkpoint that enough witnesses
    cosigned. Without it, that is the store's latest checkpoint. It is read
    with :func:`published_checkpoint`.
    """

    @property
    def origin(self) -> str: ...

    @property
    def verifier_key(self) -> str: ...

    @property
    def witnesses(self) -> Sequence[str]: ...

    @property
    def store(self) -> Store: ...


@dataclass(frozen=True, slots=True)
class LogInfo:
    """A plain :class:`LogSource`; ``admins`` empty when the trust root is not known.

    ``publisher`` picks the published checkpoint (default: the store's latest).
    ``keeps_ref_checkpoints``: the store is the log's own (a gateway's), so
    the notes it kept when checking cross-log references are served; a
    replica's copy holds none and says it does not keep them.
    """

    origin: str
    verifier_key: str
    witnesses: tuple[str, ...]
    store: Store
    admins: Admins = ()
    publisher: Published | None = None
    keeps_ref_checkpoints: bool = False

    def published_checkpoint(self) -> tuple[int, str] | None:
        """The checkpoint to serve: ``publisher()``, or the store's latest."""
        if self.publisher is None:
            return self.store.latest_checkpoint()
        return self.publisher()


def published_checkpoint(source: LogSource) -> tuple[int, str] | None:
    """``source.published_checkpoint()`` if it has one, else its store's latest checkpoint."""
    method = getattr(source, "published_checkpoint", None)
    if method is None:
        return source.store.latest_checkpoint()
    found = method()
    if found is not None and not (
        isinstance(found, tuple) and isinstance(found[0], int) and isinstance(found[1], str)
    ):
        raise TypeError(f"{type(source).__name__}.published_checkpoint: expected (size, note)")
    return found


def source_admins(source: LogSource) -> Admins:
    """The genesis administrators ``source`` declares (empty if it has no ``admins``).

    Raises:
        TypeError: ``admins`` is not a sequence of ``(str, bytes)`` pairs.
    """
    admins = getattr(source, "admins", ())
    pairs = tuple(tuple(pair) for pair in admins)
    for pair in pairs:
        if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], bytes):
            raise TypeError(f"{type(source).__name__}.admins: expected (id, key bytes) pairs")
    return tuple((str(a), bytes(k)) for a, k in pairs)
