"""The one exception hierarchy."""

from __future__ import annotations

import inspect

from chain import errors


def _classes() -> list[type[errors.FarmtraceError]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.FarmtraceError)
    ]


def test_every_error_is_a_farmtrace_error_and_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in _classes():
        assert cls.__name__ in doc, f"{cls.__name__} is missing from the docstring tree"
        assert cls.__name__ in errors.__all__


def test_reasons_are_distinct_tags() -> None:
    reasons = [cls.reason for cls in _classes()]
    assert len(reasons) == len(set(reasons))
    assert all(r.replace("_", "").isalpha() and r.islower() for r in reasons)


def test_proof_error_says_expected_and_calculated() -> None:
    err = errors.ProofError("root mismatch", expected=b"\x01" * 2, calculated=b"\x02" * 2)
    assert str(err) == "root mismatch: expected 0101, calculated 0202"
    assert isinstance(err, errors.VerificationError)
    assert errors.ProofError("too short").expected is None


def test_a_reason_can_be_overridden_per_instance() -> None:
    err = errors.MalformedNoteError("dup", reason="ambiguous_key")
    assert err.reason == "ambiguous_key"
    assert errors.MalformedNoteError("x").reason == "malformed_note"


def test_conflicts_carry_the_existing_index() -> None:
    err = errors.EquivocationError("clash", signer="dev", seq=3, existing_index=17)
    assert (err.signer, err.seq, err.existing_index, err.reason) == ("dev", 3, 17, "equivocation")
