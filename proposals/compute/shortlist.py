"""Which supported proposals go to feasibility review when a support phase ends (pure).

Two published rules, set per cycle by officials and applied to each pot on its own:

- ``threshold``: every proposal with at least ``cutoff`` supports.
- ``top``: the ``cutoff`` most supported proposals of the pot; proposals tied with the last one taken
  are all taken too (never an arbitrary cut between equals), so a pot may shortlist more than
  ``cutoff``. A proposal with no support is never shortlisted by this rule.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Supported:
    """A proposal and its supports when the phase ends."""

    proposal_id: int
    pot_id: int
    supports: int


def shortlist(proposals: list[Supported], rule: str, cutoff: int) -> set[int]:
    """The ids of the proposals the rule sends to review."""
    if rule == "threshold":
        return {p.proposal_id for p in proposals if p.supports >= cutoff}
    if rule != "top":
        raise ValueError(f"unknown support rule {rule!r}")
    by_pot: dict[int, list[Supported]] = defaultdict(list)
    for p in proposals:
        by_pot[p.pot_id].append(p)
    chosen: set[int] = set()
    for pot in by_pot.values():
        counts = sorted((p.supports for p in pot), reverse=True)
        boundary = counts[min(cutoff, len(counts)) - 1]
        chosen |= {p.proposal_id for p in pot if p.supports >= max(boundary, 1)}
    return chosen
