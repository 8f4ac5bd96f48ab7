"""The verification panel's witnesses: whom the site's policy trusts, who vouched, and when.

Every page that rests on a checkpoint (a pack, a bird, a batch) lists each
witness of the site's :class:`~chain.witness_policy.WitnessPolicy`, whether
its cosignature on that checkpoint verifies, and its cosigning time; and the
policy itself ("2 of 3 independent witnesses vouch for this record").
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.witness_policy import WitnessPolicy
from consumer_web._lifecycle import Head

__all__ = ["WitnessPanel", "WitnessRow", "witness_panel"]


@dataclass(frozen=True, slots=True)
class WitnessRow:
    """One witness of the policy: its ``name`` and ``vkey``, and when it cosigned.

    ``cosigned_ms`` is the cosignature's timestamp in Unix milliseconds, or
    None when the checkpoint holds no valid cosignature by this witness.
    ``url`` is the witness's base URL from the policy (None if it has none):
    a farmtrace witness serves its verifier page at ``<url>/verify``.
    """

    name: str
    vkey: str
    cosigned_ms: int | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class WitnessPanel:
    """The witnesses of the checkpoint of ``size`` blocks, under a policy of ``quorum``."""

    quorum: int
    size: int | None
    rows: tuple[WitnessRow, ...]

    @property
    def total(self) -> int:
        """How many witnesses the policy names."""
        return len(self.rows)

    @property
    def count(self) -> int:
        """How many of them cosigned the checkpoint."""
        return sum(row.cosigned_ms is not None for row in self.rows)

    @property
    def met(self) -> bool:
        """Whether at least ``quorum`` of them cosigned it."""
        return self.count >= self.quorum


def witness_panel(policy: WitnessPolicy, head: Head | None) -> WitnessPanel:
    """The panel of ``policy``'s witnesses on ``head`` (none cosigned when there is no head).

    ``head.cosigned`` must have been computed with the policy's keys (as
    :class:`~consumer_web._site.Site` sets up its lifecycle).
    """
    cosigned = dict(head.cosigned) if head is not None else {}
    rows = tuple(
        WitnessRow(
            w.name,
            w.vkey,
            None if w.name not in cosigned else cosigned[w.name] * 1000,
            w.url,
        )
        for w in policy.witnesses
    )
    return WitnessPanel(policy.quorum, None if head is None else head.size, rows)
