"""Scans of a store's whole key space, for :mod:`chain.store`'s queries.

Each seeks past what it need not read, so that its cost grows with what it
returns, not with the size of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from chain import _store_keys as keys
from chain._store_keys import Family

__all__ = ["Reader", "foreign", "numbered", "subjects"]


class Reader(Protocol):
    """The store's guarded LevelDB reads that the scans use."""

    def iterator(self, **kwargs: Any) -> Iterator[Any]:
        """plyvel's ``iterator(**kwargs)``."""

    def first_key(self, start: bytes, stop: bytes | None = None) -> bytes | None:
        """The smallest key in ``[start, stop)``, or None."""


def subjects(db: Reader, prefix: str, delimiter: str | None, limit: int) -> list[str]:
    """Distinct subjects (or groups up to ``delimiter``) starting with ``prefix``; see
    :meth:`chain.store.Store.subjects`."""
    base = Family.SUBJECTS.value + prefix.encode()
    stop = keys.successor(base)
    mark = delimiter.encode() if delimiter else b""
    found: list[str] = []
    cursor = base
    while len(found) < limit:
        key = db.first_key(cursor, stop)
        if key is None:
            break
        end = key.find(b"\0", len(base))
        if end < 0:  # not a key the store writes: the audit reports it
            cursor = key + b"\0"
            continue
        subject = key[2:end]
        at = subject.find(mark, len(base) - 2) if mark else -1
        if at >= 0:
            group = subject[: at + len(mark)]
            found.append(group.decode("utf-8", errors="replace"))
            cursor = keys.successor(Family.SUBJECTS.value + group)
        else:
            found.append(subject.decode("utf-8", errors="replace"))
            cursor = keys.successor(Family.SUBJECTS.value + subject + b"\0")
    return found


def numbered(db: Reader, family: Family) -> Iterator[tuple[int | None, bytes]]:
    """``(number, value)`` of each record of a family keyed by one integer (None: a stray key)."""
    start = len(family.value)
    width = start + 8

    def number(record: tuple[bytes, bytes]) -> tuple[int | None, bytes]:
        key, value = record
        return (int.from_bytes(key[start:], "big") if len(key) == width else None), value

    return map(number, db.iterator(prefix=family.value))


def foreign(db: Reader) -> Iterator[bytes]:
    """Keys of the records the store never writes; see :meth:`chain.store.Store.foreign_records`."""
    cursor = b""
    while (key := db.first_key(cursor)) is not None:
        family = keys.FAMILY_OF.get(key[:2])
        if family is None or family is Family.META:
            if family is None or key[2:] not in keys.META_NAMES:
                yield key
            cursor = key + b"\0"
        else:
            cursor = keys.successor(family.value)
