"""Which lifecycle events and readings tell a bird's, a pack's or a lot's story.

A bird's story: its own events (hatched ... slaughtered), the events about
what its slaughter produced (carcasses, cuts), the packs and lots those went
into and everything that happened to them (shipped, received, recalled),
the events about its barns during its stays (inspections), and the readings
of its stays and its tag. A pack's or lot's story: its packing, everything
about it, and the stories of the birds in it, downstream only as far as
that pack or lot (a bird's other cuts, and what became of them, are left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.entries import Entry, event_outputs
from chain.epcis._sensors import Window
from chain.epcis._view import FOREVER, LogView, Reading, stays_of
from chain.errors import FarmtraceError
from chain.gs1 import DigitalLink, pack_subject

__all__ = ["Selection", "UnknownSubjectError", "select_bird", "select_pack"]

_PRODUCTS = ("pack:", "lot:")


class UnknownSubjectError(FarmtraceError):
    """The bird, pack or lot asked for is not in the (exported part of the) log."""

    reason = "unknown_subject"


@dataclass
class Selection:
    """What an export holds: lifecycle ``events`` by index, and each bird's reading windows."""

    subject: str
    events: dict[int, Entry] = field(default_factory=dict)
    readings: dict[str, list[tuple[Window, list[Reading]]]] = field(default_factory=dict)


def _packs_into(entry: Entry, product: str | None) -> bool:
    """Whether ``entry`` belongs in a story limited to ``product`` (None: no limit)."""
    if product is None or entry.payload.get("event") != "packed":
        return True
    return product in event_outputs(entry.payload)


def _add_bird(
    view: LogView,
    selection: Selection,
    bird: str,
    product: str | None = None,
    inputs: frozenset[str] = frozenset(),
) -> None:
    """Add ``bird``'s story; with ``product``, only what leads into it (from ``inputs``)."""
    own = [(i, e) for i, e in view.events(f"bird:{bird}") if _packs_into(e, product)]
    selection.events.update(own)
    made: list[str] = []
    for _, entry in own:
        made += event_outputs(entry.payload)
    if product is not None:
        made = [output for output in made if output in inputs or output == product]
    products: list[str] = []
    for output in dict.fromkeys(made):
        if output.startswith(_PRODUCTS):
            products.append(output)
            continue
        for index, entry in view.events(output):
            if _packs_into(entry, product):
                selection.events[index] = entry
                products += [p for p in event_outputs(entry.payload) if p.startswith(_PRODUCTS)]
    for subject in dict.fromkeys(products):
        selection.events.update(view.events(subject))
    _add_stays(view, selection, bird, own)


def _add_stays(
    view: LogView, selection: Selection, bird: str, own: list[tuple[int, Entry]]
) -> None:
    windows: list[tuple[Window, list[Reading]]] = []
    tag = view.split(f"bird:{bird}")[1]
    used: set[int] = set()
    for stay in stays_of(own):
        window = Window(stay.barn, stay.start_ms, stay.end_ms, stay.opened_by, stay.closed_by)
        barn = f"barn:{stay.barn}"
        others, readings = view.split(barn, stay.start_ms, stay.end_ms)
        selection.events.update((i, e) for i, e in others if e.type == "event")
        for dev in view.devices_at(barn):
            readings += view.split(f"feeder:{dev}", stay.start_ms, stay.end_ms)[1]
        inside = [r for r in tag if stay.start_ms <= r.ts < stay.end_ms]
        used.update(r.index for r in inside)
        windows.append((window, readings + inside))
    rest = [r for r in tag if r.index not in used]
    if rest:
        windows.append((Window(None, 0, FOREVER), rest))
    selection.readings[bird] = windows


def select_bird(view: LogView, bird: str) -> Selection:
    """The story of bird ``bird`` (its id, without ``bird:``).

    Raises:
        UnknownSubjectError: the log (below the view's cutoff) never mentions it.
    """
    if not view.indexes(f"bird:{bird}"):
        raise UnknownSubjectError(
            f"bird {bird!r}: not in the log (its first {view.until} entries never mention it)"
        )
    selection = Selection(f"bird:{bird}")
    _add_bird(view, selection, bird)
    return selection


def select_pack(view: LogView, link: DigitalLink) -> Selection:
    """The story of the pack or lot ``link`` names.

    Raises:
        UnknownSubjectError: no ``packed`` event (below the view's cutoff) made it.
    """
    subject = pack_subject(link)
    about = view.events(subject)
    packed = [(i, e) for i, e in about if subject in event_outputs(e.payload)]
    if not packed:
        what = "pack" if link.serial is not None else "lot"
        raise UnknownSubjectError(
            f"{what} {link.path}: never packed in the log (its first {view.until} entries)"
        )
    selection = Selection(subject)
    selection.events.update(about)
    birds: list[str] = []
    inputs = frozenset(str(s) for _, entry in packed for s in entry.payload["subjects"])
    for _, entry in packed:
        for source in entry.payload["subjects"]:
            kind, _, ident = str(source).partition(":")
            if kind == "bird":
                birds.append(ident)
                continue
            for index, made in view.events(str(source)):
                if not _packs_into(made, subject):
                    continue
                selection.events[index] = made
                if made.payload.get("event") == "slaughtered" and source in made.payload["outputs"]:
                    birds += [str(s).partition(":")[2] for s in made.payload["subjects"]]
    for bird in dict.fromkeys(birds):
        _add_bird(view, selection, bird, subject, inputs)
    return selection
