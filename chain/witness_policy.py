"""Which witnesses a verifier trusts, and how many of them must cosign: a k-of-n policy.

A checkpoint signed by the log's key alone shows only what the log's owner
claims; a checkpoint cosigned by ``quorum`` of the ``witnesses`` a verifier
trusts shows that that many independent parties saw the same history grow
append-only. The policy is a small JSON document (``witnesses.json``)::

    {"quorum": 2,
     "witnesses": [
       {"vkey": "coop.example/witness+1a2b3c4d+BE...", "url": "http://coop.example:7380"},
       {"vkey": "retail.example/witness+5e6f7a8b+BA..."}
     ]}

``vkey`` is the witness's C2SP verifier key (type 0x04, tlog-cosignature
v1); ``url`` its submission prefix, which only a log pushing checkpoints (the
gateway) or a monitor needs. A quorum of 0 accepts checkpoints no witness
cosigned (the policy of a log with no witnesses yet).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chain import note
from chain.checkpoint import verify_cosignatures
from chain.errors import MalformedError, MalformedNoteError, QuorumError

__all__ = ["Witness", "WitnessPolicy"]


@dataclass(frozen=True, slots=True)
class Witness:
    """One trusted witness: its C2SP verifier key ``vkey`` and optional submission ``url``.

    Raises:
        MalformedError: if ``vkey`` is not a type 0x04 verifier key, or
            ``url`` is not an http(s) URL.
    """

    vkey: str
    url: str | None = None

    def __post_init__(self) -> None:
        key = _parse_key(self.vkey)
        if key.sig_type != note.COSIGNATURE_V1:
            raise MalformedError(
                f"witness key {key.name}: expected type 0x04 (cosignature/v1), "
                f"found 0x{key.sig_type:02x}"
            )
        if self.url is not None and (
            not isinstance(self.url, str) or not self.url.startswith(("http://", "https://"))
        ):
            raise MalformedError(f"witness {key.name}: url must start with http:// or https://")

    @property
    def name(self) -> str:
        """The witness's name: the key name, e.g. ``coop.example/witness``."""
        return self.vkey.split("+", 1)[0]


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """Accept a checkpoint once ``quorum`` of ``witnesses`` have cosigned it.

    A witness counts once toward the quorum: two witnesses may not share a
    name, nor a public key under different names (one key listed twice could
    copy one cosignature line under both names and count twice).

    Raises:
        MalformedError: if ``quorum`` is not in 0..len(witnesses), or two
            witnesses share a name or a public key.
    """

    quorum: int
    witnesses: tuple[Witness, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int):
            raise MalformedError(f"witness quorum: expected an integer, found {self.quorum!r}")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise MalformedError(
                f"witness quorum: expected 0..{len(self.witnesses)} (the number of witnesses), "
                f"found {self.quorum}"
            )
        names = [w.name for w in self.witnesses]
        for name in names:
            if names.count(name) > 1:
                raise MalformedError(f"witnesses: expected distinct names, found {name!r} twice")
        named_by: dict[bytes, str] = {}
        for witness in self.witnesses:
            key = _parse_key(witness.vkey).public_key
            if key in named_by:
                raise MalformedError(
                    f"witnesses: expected distinct public keys, found one key under both "
                    f"{named_by[key]!r} and {witness.name!r}"
                )
            named_by[key] = witness.name

    @property
    def verifier_keys(self) -> tuple[str, ...]:
        """The witnesses' verifier key strings, in policy order."""
        return tuple(w.vkey for w in self.witnesses)

    def describe(self) -> str:
        """``"2 of 3 witnesses"``, or ``"no witnesses"`` for an empty quorum."""
        if self.quorum == 0:
            return "no witnesses required"
        return f"{self.quorum} of {len(self.witnesses)} witnesses"

    def cosigners(self, signed_note: str | bytes) -> dict[str, int]:
        """Return ``{witness name: cosigning time}`` of the trusted witnesses that cosigned.

        The log's own signature is not checked here.

        Raises:
            MalformedNoteError: if the note is malformed.
            SignatureError: if a trusted witness's line does not verify.
        """
        if not self.witnesses:
            return {}
        return verify_cosignatures(signed_note, self.verifier_keys)

    def check(self, signed_note: str | bytes) -> dict[str, int]:
        """Return the cosigners (as :meth:`cosigners`) once at least ``quorum`` cosigned.

        Raises:
            QuorumError: fewer than ``quorum`` trusted witnesses cosigned.
            MalformedNoteError, SignatureError: as :meth:`cosigners`.
        """
        found = self.cosigners(signed_note)
        if len(found) < self.quorum:
            names = ", ".join(sorted(found)) or "none"
            raise QuorumError(
                f"checkpoint: expected cosignatures from {self.describe()}, "
                f"found {len(found)} ({names})",
                required=self.quorum,
                cosigners=tuple(sorted(found)),
            )
        return found

    def to_json(self) -> str:
        """Serialise as indented JSON (a file meant to be read and edited by people)."""
        witnesses: list[dict[str, str]] = []
        for w in self.witnesses:
            witnesses.append({"vkey": w.vkey} if w.url is None else {"vkey": w.vkey, "url": w.url})
        return json.dumps({"quorum": self.quorum, "witnesses": witnesses}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WitnessPolicy:
        """Parse a policy document.

        Raises:
            MalformedError: not JSON, unknown or missing members, or bad keys.
        """
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise MalformedError(f"witness policy: expected JSON ({exc})") from exc
        return cls.from_mapping(obj)

    @classmethod
    def from_mapping(cls, obj: Any) -> WitnessPolicy:
        """Build a policy from a parsed JSON object (e.g. a member of a larger config).

        Raises:
            MalformedError: as :meth:`from_json`.
        """
        if not isinstance(obj, Mapping) or set(obj) - {"quorum", "witnesses"}:
            raise MalformedError(
                "witness policy: expected an object with members quorum and witnesses"
            )
        items = obj.get("witnesses", [])
        if not isinstance(items, list):
            raise MalformedError("witness policy: witnesses must be a list")
        witnesses = []
        for item in items:
            if not isinstance(item, Mapping) or set(item) - {"vkey", "url"} or "vkey" not in item:
                raise MalformedError(
                    'witness policy: each witness must be {"vkey": ..., "url": ...} (url optional)'
                )
            if not isinstance(item["vkey"], str):
                raise MalformedError("witness policy: vkey must be a string")
            witnesses.append(Witness(item["vkey"], item.get("url")))
        return cls(obj.get("quorum", len(witnesses)), tuple(witnesses))


def _parse_key(vkey: object) -> note.VerifierKey:
    if not isinstance(vkey, str):
        raise MalformedError(f"witness key: expected a verifier key string, found {vkey!r}")
    try:
        return note.parse_verifier_key(vkey)
    except MalformedNoteError as exc:
        raise MalformedError(f"witness key: {exc}") from exc
