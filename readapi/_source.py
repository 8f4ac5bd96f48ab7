"""What the read API serves: one log's identity and its store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chain.store import Store

__all__ = ["LogInfo", "LogSource"]


class LogSource(Protocol):
    """A log as the read API sees it.

    ``origin`` is the log's origin line, ``verifier_key`` its C2SP signed-note
    verifier key, ``witnesses`` the C2SP verifier keys of the witnesses whose
    cosignatures it collects, and ``store`` the open store to read (safe for
    concurrent readers while one writer appends).
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
    """A plain :class:`LogSource`."""

    origin: str
    verifier_key: str
    witnesses: tuple[str, ...]
    store: Store
