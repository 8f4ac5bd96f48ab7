"""An operator's event as people type and read it: what its members mean, subjects, a summary."""

from __future__ import annotations

from collections.abc import Sequence

from chain.crosslog import parse_refs, refs_to_json
from chain.errors import GS1Error, MalformedEntryError
from chain.gs1 import pack_subject, parse_digital_link_path
from chain.json_input import load_json, load_json_object
from signer.operator_events import EventDraft

__all__ = ["MEMBER_HELP", "SUBJECT_HELP", "describe_draft", "refs_from_text", "subject_from_option"]

SUBJECT_HELP = {
    "bird": "a bird's tag id, e.g. 0001",
    "barn": "a barn id, e.g. b1",
    "carcass": "a carcass id a slaughter produced, e.g. 0001",
    "cut": "a cut id a slaughter produced",
    "pack": "GTIN.SERIAL, or its GS1 Digital Link /01/GTIN/21/SERIAL",
    "lot": "GTIN.LOT, or its GS1 Digital Link /01/GTIN/10/LOT",
}
"""What to type for a subject of each kind."""

MEMBER_HELP = {
    "breed": "the breed, e.g. 'Ross 308'",
    "hatchery": "the hatchery's name",
    "parent_flock": "the parent flock, e.g. PF-2025-17",
    "barn": "the barn id, e.g. b1",
    "from_barn": "the barn it leaves (checked against the log)",
    "vaccine": "the vaccine, e.g. 'Marek's disease (HVT)'",
    "dose": "the dose, e.g. 0.2ml",
    "medicine": "the medicine given, e.g. 'Amoxicillin'",
    "withdrawal_days": "the medicine's withdrawal period in days from this (last) dose: "
    "no slaughter before it ends",
    "result": "pass or fail",
    "note": "what was found",
    "cause": "the cause of death",
    "plant": "the processing plant's name",
    "outputs": "what the slaughter produces: carcass:<id> or cut:<id> (repeatable)",
    "gtin": "the GTIN-14: 14 digits ending in the GS1 check digit (pad a GTIN-13 with a 0)",
    "serial": "the pack's serial (GS1 AI 21): 1-20 of A-Z a-z 0-9 . _ -",
    "lot": "the lot (GS1 AI 10), for several items packed as one lot",
    "weight_g": "the packed weight in grams",
    "product": "what the pack is, as the shopper reads it, e.g. 'Whole chicken'",
    "best_before": "the best-before date, YYYY-MM-DD (GS1 AI 15); not before the packing day",
    "destination": "where it goes",
    "source": "where it leaves from",
    "location": "where it arrived",
    "reason": "why: a recall's reason, or what a treatment is for (shown on the consumer pages)",
    "refs": "an entry of another log this event concerns, as one JSON object "
    '{"log": ORIGIN, "index": N, "hash": HEX, "size": N, "root": HEX, "subject": KIND:ID} '
    "(repeatable; see docs/supply-chain.md)",
}
"""What each member of an event means, for people filling it in."""


def subject_from_option(kind: str, value: str) -> str:
    """``kind:value``; a pack or lot may also be given as its GS1 Digital Link.

    ``value`` may already carry the ``kind:`` prefix.

    Raises:
        GS1Error: a Digital Link that does not parse, or names another kind.
    """
    if kind in ("pack", "lot") and "/01/" in value:
        try:
            link = parse_digital_link_path(value[value.index("/01/") :])
        except GS1Error as exc:
            raise GS1Error(f"--{kind} {value}: {exc}") from exc
        subject = pack_subject(link)
        if not subject.startswith(kind + ":"):
            raise GS1Error(f"--{kind} {value}: that Digital Link names a {subject.split(':')[0]}")
        return subject
    prefix = kind + ":"
    return value if value.startswith(prefix) else prefix + value


def describe_draft(draft: EventDraft) -> str:
    """``packed event of 1 subject(s) (carcass:0001)``: for people."""
    shown = ", ".join(draft.subjects[:3]) + (" ..." if len(draft.subjects) > 3 else "")
    return f"{draft.event} event of {len(draft.subjects)} subject(s) ({shown})"


def refs_from_text(items: Sequence[str], file_text: bytes | None = None) -> list[dict[str, object]]:
    """The ``refs`` member from ``--ref`` objects and a ``--refs-file``'s JSON list.

    The file's references come first, then ``items`` (each one JSON object),
    in order; neither: an empty list (no ``refs`` member). Strict JSON
    (:mod:`chain.json_input`) and the reference format of :mod:`chain.crosslog`.

    Raises:
        MalformedEntryError: text that is not strict JSON, or references that
            break the format (reason ``malformed_reference``).
    """
    refs: list[object] = []
    if file_text is not None:
        listed = load_json(file_text, "--refs-file", error=MalformedEntryError)
        if not isinstance(listed, list):
            raise MalformedEntryError("--refs-file: expected a JSON list of references")
        refs += listed
    for item in items:
        refs.append(load_json_object(item.encode(), "--ref", error=MalformedEntryError))
    return refs_to_json(parse_refs(refs)) if refs else []
