"""Message markers, and the words that show the values the log holds.

The site's texts are English, written where they are used (templates and
code); their translations are gettext catalogues in ``translations/``
(docs/consumer-site.md, "Translating the site"). :func:`N_` and
:func:`NP_` mark a message for the extractor without translating it
(``babel.cfg`` names them); the page translates it when it is shown.

:data:`WORDS` maps a value found in the log (an event name, a field name, a
reading kind, a trace relation, a field value; a pinned party's role) to its English word, under a
context: one English word may need different translations ("Received" as an
event, as a count of readings).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CONTEXTS", "NP_", "N_", "WORDS"]


def N_(message: str) -> str:
    """``message``, untranslated: marks it for extraction into the catalogues."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:
    """``(context, message)``, untranslated: marks ``message`` for extraction under ``context``."""
    return context, message


_WORDS = (
    ("hatched", NP_("event", "Hatched")),
    ("placed", NP_("event", "Placed in a barn")),
    ("moved", NP_("event", "Moved")),
    ("vaccinated", NP_("event", "Vaccinated")),
    ("treated", NP_("event", "Given medicine")),
    ("inspected", NP_("event", "Inspected")),
    ("died", NP_("event", "Died")),
    ("slaughtered", NP_("event", "Slaughtered")),
    ("packed", NP_("event", "Packed")),
    ("shipped", NP_("event", "Shipped")),
    ("received", NP_("event", "Received")),
    ("recalled", NP_("event", "Recalled")),
    ("device", NP_("event", "Device record")),
    ("reading", NP_("event", "Reading")),
    ("temperature", NP_("kind", "Temperature")),
    ("humidity", NP_("kind", "Humidity")),
    ("feed", NP_("kind", "Feed")),
    ("water", NP_("kind", "Water")),
    ("activity", NP_("kind", "Activity")),
    ("weight", NP_("kind", "Weight")),
    ("barn", NP_("field", "Barn")),
    ("from_barn", NP_("field", "From barn")),
    ("vaccine", NP_("field", "Vaccine")),
    ("dose", NP_("field", "Dose")),
    ("medicine", NP_("field", "Medicine")),
    ("withdrawal_days", NP_("field", "Withdrawal period (days)")),
    ("product", NP_("field", "Product")),
    ("best_before", NP_("field", "Best before")),
    ("result", NP_("field", "Result")),
    ("note", NP_("field", "Note")),
    ("cause", NP_("field", "Cause")),
    ("plant", NP_("field", "Plant")),
    ("outputs", NP_("field", "Outputs")),
    ("gtin", NP_("field", "GTIN")),
    ("serial", NP_("field", "Serial")),
    ("lot", NP_("field", "Lot")),
    ("weight_g", NP_("field", "Weight (g)")),
    ("destination", NP_("field", "Destination")),
    ("source", NP_("field", "From")),
    ("location", NP_("field", "Location")),
    ("reason", NP_("field", "Reason")),
    ("breed", NP_("field", "Breed")),
    ("hatchery", NP_("field", "Hatchery")),
    ("parent_flock", NP_("field", "Parent flock")),
    ("until_ms", NP_("field", "Until")),
    ("until_index", NP_("field", "Ended by entry")),
    ("before_kg", NP_("field", "Level before (kg)")),
    ("after_kg", NP_("field", "Level after (kg)")),
    ("before_index", NP_("field", "Reading before (entry)")),
    ("device", NP_("field", "Device")),
    ("dev", NP_("field", "Device")),
    ("action", NP_("field", "Action")),
    ("kinds", NP_("field", "Kinds")),
    ("farm", NP_("field", "Farm")),
    ("label", NP_("field", "Label")),
    ("pubkey", NP_("field", "Public key")),
    ("bird", NP_("relation", "In the barn")),
    ("output", NP_("relation", "Carcass or cut")),
    ("pack", NP_("relation", "Packed into")),
    ("shipment", NP_("relation", "Shipping")),
    ("packing", NP_("relation", "Packing")),
    ("input", NP_("relation", "Slaughter")),
    ("bird_event", NP_("relation", "Bird's history")),
    ("stay", NP_("relation", "Stay in a barn")),
    ("barn_event", NP_("relation", "Barn")),
    ("device", NP_("relation", "Device")),
    ("feed_refill", NP_("relation", "Feed refill")),
    ("recall", NP_("relation", "Recall")),
    ("register", NP_("value", "registered")),
    ("revoke", NP_("value", "revoked")),
    ("pass", NP_("value", "pass")),
    ("fail", NP_("value", "fail")),
    ("farm", NP_("role", "Farm")),
    ("hatchery", NP_("role", "Hatchery")),
    ("vet", NP_("role", "Vet")),
    ("plant", NP_("role", "Processing plant")),
    ("distributor", NP_("role", "Distributor")),
    ("shop", NP_("role", "Shop")),
    ("other", NP_("role", "Other")),
)

CONTEXTS = ("event", "kind", "field", "relation", "value", "role")
"""The contexts of :data:`WORDS`, as templates name them."""

WORDS: Mapping[tuple[str, str], str] = MappingProxyType(
    {(context, value): message for value, (context, message) in _WORDS}
)
"""English word (the msgid) by ``(context, value)``; a value not here is shown as it is."""
