"""The format of cross-log references (private to :mod:`chain.crosslog`, which re-exports it).

One ``refs`` item, exactly these members (see :mod:`chain.crosslog`)::

    {"log": "<origin>", "index": 17, "hash": "<64 hex>", "size": 9, "root": "<64 hex>",
     "subject": "bird:0001"}

Parsing is strict (exact types, canonical lowercase hex, bounded count), so
that one reference has one byte form in a signed entry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NoReturn

from chain import note
from chain.checkpoint import Checkpoint
from chain.errors import MalformedEntryError
from chain.jws import ID_PATTERN
from chain.proof_bundle import EntryProof

__all__ = [
    "MAX_REFS",
    "REFERABLE",
    "LogReference",
    "parse_refs",
    "reference_from_proof",
    "refs_to_json",
]

MAX_REFS = 8
"""The most references one event may carry.

Eight references with 32-character origins, in a ``received`` event naming eight
packs, make an entry of about 3,450 bytes, under the 4,096-byte entry limit; with
longer origins :func:`chain.entries.sign_entry` refuses the entry as too big.
"""

REFERABLE: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "placed": frozenset({"hatched"}),
        "vaccinated": frozenset({"hatched", "placed", "moved"}),
        "treated": frozenset({"hatched", "placed", "moved"}),
        "inspected": frozenset({"hatched", "placed", "moved"}),
        "slaughtered": frozenset({"hatched", "placed", "moved"}),
        "packed": frozenset({"slaughtered"}),
        "shipped": frozenset({"packed", "shipped", "received"}),
        "received": frozenset({"packed", "shipped"}),
        "recalled": frozenset(
            {"hatched", "placed", "moved", "slaughtered", "packed", "shipped", "received"}
            | {"recalled"}
        ),
    }
)
"""For each event kind that may carry ``refs``, the event kinds its references may name.

A farm's placement names the hatchery's hatch; a vet's, or a plant's
slaughter, names the bird's hatch or placement at the farm; a packing plant
that did not slaughter names the slaughter that made the carcass; a shipment
or a receipt names the packing, or the previous hop's shipment or receipt;
a recall names whatever it recalls, or the recall it follows. Other events
(``hatched``, ``moved``, ``died``) concern only their own log's subjects.
"""

_FIELDS = ("log", "index", "hash", "size", "root", "subject")
_ORIGIN = re.compile(r"[!-*,-~]{1,255}")  # printable ASCII without space or "+" (C2SP origin)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUBJECT = re.compile(rf"[a-z][a-z0-9_]{{0,31}}:{ID_PATTERN}")
_INT_LIMIT = 2**53  # JSON integers that every parser reads exactly


def _malformed(message: str) -> MalformedEntryError:
    return MalformedEntryError(f"refs: {message}", reason="malformed_reference")


@dataclass(frozen=True, slots=True)
class LogReference:
    """A reference to entry ``index`` of the log ``log``, as one ``refs`` item.

    ``entry_hash`` is the hex SHA-256 of the entry's JWS bytes; ``size`` and
    ``root`` (hex) are the cosigned checkpoint the writer saw it under.

    Raises:
        MalformedEntryError: (reason ``malformed_reference``) a field breaks
            the format of the module docstring.
    """

    log: str
    index: int
    entry_hash: str
    size: int
    root: str
    subject: str

    def __post_init__(self) -> None:
        if not isinstance(self.log, str) or not _ORIGIN.fullmatch(self.log):
            _fail(
                "log", "an origin of 1..255 printable ASCII characters without space or +", self.log
            )
        if type(self.index) is not int or not 0 <= self.index < _INT_LIMIT:
            _fail("index", "an integer in [0, 2**53)", self.index)
        if type(self.size) is not int or not 1 <= self.size < _INT_LIMIT:
            _fail("size", "an integer in [1, 2**53)", self.size)
        for name in ("entry_hash", "root"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                _fail("hash" if name == "entry_hash" else name, "64 lowercase hex digits", value)
        if not isinstance(self.subject, str) or not _SUBJECT.fullmatch(self.subject):
            _fail("subject", "a subject such as bird:<id> or pack:<gtin>.<serial>", self.subject)

    def to_json(self) -> dict[str, object]:
        """The ``refs`` item, members in the order of the module docstring."""
        return {
            "log": self.log,
            "index": self.index,
            "hash": self.entry_hash,
            "size": self.size,
            "root": self.root,
            "subject": self.subject,
        }

    @classmethod
    def from_json(cls, item: object) -> LogReference:
        """Parse one ``refs`` item: an object with exactly the six members.

        Raises:
            MalformedEntryError: (reason ``malformed_reference``) not an
                object, a member missing, unknown or of the wrong type.
        """
        if not isinstance(item, dict):
            _fail("item", "an object", item)
        if set(item) != set(_FIELDS):
            missing = sorted(set(_FIELDS) - set(item))
            unknown = sorted(set(item) - set(_FIELDS))
            raise _malformed(
                f"item members: expected {list(_FIELDS)}, missing {missing}, unknown {unknown}"
            )
        return cls(
            log=item["log"],
            index=item["index"],
            entry_hash=item["hash"],
            size=item["size"],
            root=item["root"],
            subject=item["subject"],
        )

    def describe(self) -> str:
        """``farm-a.example/log entry 17 (bird:0001)``: how messages name the reference."""
        return f"{self.log} entry {self.index} ({self.subject})"


def _fail(name: str, expected: str, value: object) -> NoReturn:
    shown = repr(value)
    shown = shown if len(shown) <= 72 else shown[:69] + "..."
    raise _malformed(f"{name}: expected {expected}, found {shown}")


def parse_refs(value: object) -> tuple[LogReference, ...]:
    """Parse the value of an event's ``refs`` member.

    Precondition: the member is present (an event without references has no
    ``refs`` member; an empty list is refused, so that one event has one form).

    Raises:
        MalformedEntryError: (reason ``malformed_reference``) not a list of 1
            to :data:`MAX_REFS` items, an item malformed, or two items naming
            the same entry for the same subject.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_REFS:
        _fail("refs", f"a list of 1 to {MAX_REFS} references", value)
    refs = tuple(LogReference.from_json(item) for item in value)
    seen: set[tuple[str, int, str]] = set()
    for ref in refs:
        key = (ref.log, ref.index, ref.subject)
        if key in seen:
            raise _malformed(f"expected distinct references, found {ref.describe()} twice")
        seen.add(key)
    return refs


def refs_to_json(refs: Sequence[LogReference]) -> list[dict[str, object]]:
    """The ``refs`` member for ``refs`` (1 to :data:`MAX_REFS` of them), in their order.

    Raises:
        MalformedEntryError: the list would not parse back (:func:`parse_refs`).
    """
    value = [ref.to_json() for ref in refs]
    parse_refs(value)
    return value


def reference_from_proof(proof: EntryProof, subject: str) -> LogReference:
    """The reference a writer puts in its event for the entry ``proof`` proves.

    Takes the origin, size and root from the proof's checkpoint text; checks
    nothing else: pass the reference to :func:`check_reference` with the
    same proof before signing the event.

    Raises:
        MalformedNoteError: the proof's checkpoint is malformed.
        MalformedEntryError: (reason ``malformed_reference``) ``subject`` or
            the origin breaks the reference format.
    """
    checkpoint = Checkpoint.from_text(note.parse(proof.checkpoint).text)
    return LogReference(
        log=checkpoint.origin,
        index=proof.index,
        entry_hash=hashlib.sha256(proof.entry).hexdigest(),
        size=checkpoint.size,
        root=checkpoint.root_hash.hex(),
        subject=subject,
    )
