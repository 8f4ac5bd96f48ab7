"""A device's ``gap`` entry: validated like any entry, admitted, never taken for a reading."""

from __future__ import annotations

import pytest
from test_admission import ADMIN, DEV, NOW, _registry

from chain.entries import gap_payload, parse_entry, sign_entry
from chain.errors import MalformedEntryError, UnknownSignerError
from chain.keyfile import SignerKey
from gateway.admission import Verdict, admit


def _gap(seq: int, first: int, last: int, key: SignerKey = DEV, dev: str = DEV.id) -> bytes:
    return sign_entry(gap_payload(dev, seq, NOW, first, last), key.id, key.seed)


def test_a_device_gap_entry_is_admitted_with_its_own_seq() -> None:
    raw = _gap(17, 4, 16)
    decision = admit(
        raw,
        publisher=DEV.id,
        registry=_registry(),
        held=lambda s, q: None,
        next_index=3,
        now_ms=NOW,
    )
    assert decision.verdict is Verdict.ACCEPTED, decision
    assert decision.entry is not None and decision.entry.key == (DEV.id, 17)


@pytest.mark.parametrize(
    ("seq", "first", "last", "message"),
    [
        (10, 5, 4, "from <= to < seq"),  # from above to
        (10, 4, 10, "from <= to < seq"),  # covers its own seq
        (10, 4, 12, "from <= to < seq"),  # above its own seq
        (10, 0, 4, "from: expected an integer in \\[1"),
    ],
)
def test_bad_gap_ranges_are_refused(seq: int, first: int, last: int, message: str) -> None:
    payload = gap_payload(DEV.id, seq, NOW, first, last)
    with pytest.raises(MalformedEntryError, match=message):
        sign_entry(payload, DEV.id, DEV.seed)


def test_a_gap_names_its_own_signer_only() -> None:
    with pytest.raises(MalformedEntryError, match="dev: expected the signer kid"):
        sign_entry(gap_payload("b2-temp", 5, NOW, 1, 4), DEV.id, DEV.seed)
    stranger = SignerKey.generate("stranger", seed=b"s" * 32)
    entry = parse_entry(_gap(5, 1, 4, key=stranger, dev="stranger"))
    with pytest.raises(UnknownSignerError, match="not registered"):
        _registry().authorize(entry, 3)
    admin_gap = parse_entry(_gap(9, 3, 8, key=ADMIN, dev=ADMIN.id))
    assert _registry().authorize(admin_gap, 3) == ADMIN.public_key  # operators have seqs too
