"""GS1 identifiers: GTIN check digits and GS1 Digital Link paths for packs and lots.

A packed bird is named by its GTIN (GS1 Application Identifier 01) and a
serial number (AI 21); a lot of packs by the GTIN and a lot number (AI 10).
On a label they are a GS1 Digital Link URI (GS1 Digital Link URI Syntax):
``https://<host>/01/<GTIN-14>/21/<serial>`` or ``.../01/<GTIN-14>/10/<lot>``.

GS1 allows serials and lots of up to 20 characters from a larger set
(including ``&``, ``+`` or ``/``, percent-encoded in a URI); farmtrace issues
and accepts only :data:`KEY_VALUE_PATTERN` (farmtrace id characters, at most
20 of them), so that ``pack:<gtin>.<serial>`` is itself a farmtrace subject.
Digits are ASCII digits only: ``'٣'`` is not a digit here.

A label also commits to the log that tells the pack's story: its Digital
Link carries ``?lk=<8 hex digits>``, the C2SP signed-note key ID of the log's
checkpoint key (:data:`LOG_KEY_PARAM`, :func:`labelled_uri`), and the label
prints it as "Log key 1a2b3c4d". The GS1 Digital Link grammar (1.2) lets
the query string carry non-GS1 ``key=value`` pairs (``extensionParameter``:
a key that is not an AI), which GS1 parsers ignore; a verifier refuses a log
whose key ID is not the label's. A URI without it still names the pack
(older labels): it is just not pinned.

Pure: no I/O. Every rejection raises :class:`~chain.errors.GS1Error` whose
message says what was expected and what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from chain.errors import GS1Error

__all__ = [
    "AI_GTIN",
    "AI_LOT",
    "AI_SERIAL",
    "GTIN_LENGTHS",
    "KEY_VALUE_PATTERN",
    "LOG_KEY_PARAM",
    "DigitalLink",
    "gtin_check_digit",
    "labelled_uri",
    "log_key_label",
    "pack_subject",
    "parse_digital_link_path",
    "parse_gtin_pair",
    "parse_log_key_label",
    "parse_pack_subject",
    "validate_gtin",
    "validate_key_value",
]

AI_GTIN = "01"
AI_SERIAL = "21"
AI_LOT = "10"
GTIN_LENGTHS = (8, 12, 13, 14)
"""The lengths of GTIN-8, GTIN-12, GTIN-13 and GTIN-14; all normalise to 14 digits."""

KEY_VALUE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}"
"""Serials and lots farmtrace accepts: id characters, 1 to 20 (the GS1 AI 10/21 maximum)."""

LOG_KEY_PARAM = "lk"
"""The Digital Link query parameter naming the log's key ID (a non-GS1 key=value pair)."""

_LOG_KEY_ID = re.compile(r"[0-9a-f]{8}")
_DIGITS = re.compile(r"[0-9]+")  # not \d: that matches every Unicode digit
_KEY_VALUE = re.compile(KEY_VALUE_PATTERN)
_PATH_MAX = 256
_SUBJECT = re.compile(r"(pack|lot):([0-9]{14})\.(" + KEY_VALUE_PATTERN + r")")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 72 else text[:69] + "..."


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body``, the digits before the check digit.

    Weights 3, 1, 3, 1 ... from the rightmost digit of ``body``; the check
    digit brings the weighted sum up to a multiple of ten (GS1 General
    Specifications, section 7.9). Works for any GS1 key length.

    Raises:
        GS1Error: ``body`` is not a non-empty string of ASCII digits.
    """
    if not isinstance(body, str) or not _DIGITS.fullmatch(body):
        raise GS1Error(f"GTIN body: expected ASCII digits, found {_shown(body)}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return -total % 10


def validate_gtin(gtin: str) -> str:
    """Return ``gtin`` as a GTIN-14 (zero-padded on the left) if it is a valid GTIN.

    Accepts 8, 12, 13 or 14 ASCII digits whose last digit is the right check
    digit; a GTIN-14 comes back unchanged, so ``validate_gtin(g) == g`` tells
    whether ``g`` is already in the canonical 14-digit form.

    Raises:
        GS1Error: not 8, 12, 13 or 14 ASCII digits, or a wrong check digit.
    """
    if not isinstance(gtin, str) or len(gtin) not in GTIN_LENGTHS or not _DIGITS.fullmatch(gtin):
        raise GS1Error(f"GTIN: expected 8, 12, 13 or 14 ASCII digits, found {_shown(gtin)}")
    expected = gtin_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise GS1Error(
            f"GTIN {gtin}: wrong check digit {gtin[-1]}, expected {expected} "
            "(mistyped or misread number)"
        )
    return gtin.zfill(14)


def validate_key_value(value: str, name: str) -> str:
    """Return ``value`` if it is a serial or lot farmtrace accepts (:data:`KEY_VALUE_PATTERN`).

    ``name`` ("serial" or "lot") names the value in the message.

    Raises:
        GS1Error: ``value`` is not 1 to 20 farmtrace id characters.
    """
    if not isinstance(value, str) or not _KEY_VALUE.fullmatch(value):
        raise GS1Error(
            f"{name}: expected 1 to 20 characters from A-Z a-z 0-9 . _ - "
            f"(not starting with . _ -), found {_shown(value)}"
        )
    return value


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A GS1 Digital Link for one packed bird (``serial``) or one lot (``lot``).

    ``gtin`` is a GTIN-14; exactly one of ``serial`` and ``lot`` is set.

    Raises:
        GS1Error: on construction, if any of that does not hold.
    """

    gtin: str
    serial: str | None = None
    lot: str | None = None

    def __post_init__(self) -> None:
        if validate_gtin(self.gtin) != self.gtin:
            raise GS1Error(f"GTIN: expected the 14-digit form, found {_shown(self.gtin)}")
        if (self.serial is None) == (self.lot is None):
            raise GS1Error("a GS1 Digital Link here names exactly one of a serial and a lot")
        if self.serial is not None:
            validate_key_value(self.serial, "serial")
        if self.lot is not None:
            validate_key_value(self.lot, "lot")

    @property
    def path(self) -> str:
        """``/01/<gtin>/21/<serial>`` or ``/01/<gtin>/10/<lot>``, values percent-encoded."""
        ai, value = (AI_SERIAL, self.serial) if self.serial is not None else (AI_LOT, self.lot)
        assert value is not None
        return f"/{AI_GTIN}/{self.gtin}/{ai}/{quote(value, safe='')}"


def parse_gtin_pair(text: str, ai: str) -> DigitalLink:
    """``GTIN/SERIAL`` (``ai`` "serial") or ``GTIN/LOT`` (``ai`` "lot"), as people type them.

    A GTIN-8, -12 or -13 is padded to 14 digits.

    Raises:
        GS1Error: not two parts, a bad GTIN (or check digit), or a bad serial or lot.
    """
    gtin, slash, value = text.partition("/")
    if not slash:
        raise GS1Error(f"expected GTIN/{ai.upper()}, e.g. 09506000134352/S0001, found {text!r}")
    gtin14 = validate_gtin(gtin)
    validate_key_value(value, ai)
    return DigitalLink(gtin14, serial=value) if ai == "serial" else DigitalLink(gtin14, lot=value)


def parse_digital_link_path(path: str) -> DigitalLink:
    """Parse the path of a GS1 Digital Link URI naming a pack or a lot.

    ``path`` is ``/01/<GTIN>/21/<serial>`` or ``/01/<GTIN>/10/<lot>`` with no
    query, fragment or trailing slash. Each segment is percent-decoded once,
    after splitting, so an encoded ``/`` never becomes a separator. A GTIN-8,
    -12 or -13 is accepted and padded to 14 digits.

    Raises:
        GS1Error: anything else (the message names the part that is wrong).
    """
    usage = "/01/<GTIN>/21/<serial> or /01/<GTIN>/10/<lot>"
    if not isinstance(path, str) or len(path) > _PATH_MAX:
        raise GS1Error(f"GS1 Digital Link path: expected {usage}, found {_shown(path)}")
    parts = path.split("/")
    if len(parts) != 5 or parts[0] or parts[1] != AI_GTIN or parts[3] not in (AI_SERIAL, AI_LOT):
        raise GS1Error(f"GS1 Digital Link path: expected {usage}, found {_shown(path)}")
    try:
        gtin, value = (unquote(part, errors="strict") for part in (parts[2], parts[4]))
    except UnicodeDecodeError as exc:
        raise GS1Error(f"GS1 Digital Link path: bad percent-encoding in {_shown(path)}") from exc
    gtin = validate_gtin(gtin)
    if parts[3] == AI_SERIAL:
        return DigitalLink(gtin, serial=validate_key_value(value, "serial"))
    return DigitalLink(gtin, lot=validate_key_value(value, "lot"))


def pack_subject(link: DigitalLink) -> str:
    """The subject a pack or lot is indexed under.

    ``pack:<gtin>.<serial>`` or ``lot:<gtin>.<lot>``: at most 40 characters, a
    farmtrace subject (``<kind>:<id>``).
    """
    if link.serial is not None:
        return f"pack:{link.gtin}.{link.serial}"
    return f"lot:{link.gtin}.{link.lot}"


def parse_pack_subject(subject: str) -> DigitalLink:
    """The inverse of :func:`pack_subject`.

    Raises:
        GS1Error: ``subject`` is not ``pack:<GTIN-14>.<serial>`` or ``lot:<GTIN-14>.<lot>``
            with a valid GTIN.
    """
    match = _SUBJECT.fullmatch(subject) if isinstance(subject, str) else None
    if match is None:
        raise GS1Error(
            f"pack subject: expected pack:<GTIN-14>.<serial> or lot:<GTIN-14>.<lot>, "
            f"found {_shown(subject)}"
        )
    kind, gtin, value = match.groups()
    if kind == "pack":
        return DigitalLink(gtin, serial=value)
    return DigitalLink(gtin, lot=value)


def log_key_label(key_id: int) -> str:
    """``key_id`` (a C2SP signed-note key ID) as a label prints it: 8 lowercase hex digits.

    Raises:
        GS1Error: ``key_id`` is not a uint32.
    """
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not 0 <= key_id < 1 << 32:
        raise GS1Error(f"log key ID: expected a 32-bit unsigned integer, found {_shown(key_id)}")
    return f"{key_id:08x}"


def parse_log_key_label(text: str) -> int:
    """The inverse of :func:`log_key_label` (the value of a label's ``lk``).

    Raises:
        GS1Error: ``text`` is not exactly 8 lowercase hex digits.
    """
    if not isinstance(text, str) or not _LOG_KEY_ID.fullmatch(text):
        raise GS1Error(
            f"{LOG_KEY_PARAM}: expected the log key ID as 8 lowercase hex digits, "
            f"found {_shown(text)}"
        )
    return int(text, 16)


def labelled_uri(origin: str, link: DigitalLink, log_key_id: int | None) -> str:
    """The URI a label carries: ``origin`` + ``link.path``, then ``?lk=<key ID>`` if known.

    ``origin`` is ``scheme://host[:port]`` without a trailing slash.

    Raises:
        GS1Error: ``log_key_id`` is not None nor a uint32.
    """
    if log_key_id is None:
        return origin + link.path
    return f"{origin}{link.path}?{LOG_KEY_PARAM}={log_key_label(log_key_id)}"
