"""Choose the AI 50 Challenge winners under quotas, optimally and explainably (pure).

The winners maximize the total calibrated score subject to: exactly ``winners`` entries, a minimum
and a maximum per category, and at most ``max_per_organization`` winning entries per organization.
The candidates, quotas and tie-break chain are in ``candidates.py``, the min-cost flow that finds the
optimum in ``flow.py`` and the borderline explanation in ``borderline.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from judging.compute.borderline import BorderlineNote, explain_borderline
from judging.compute.calibration import SCORE_DECIMALS, Calibration
from judging.compute.candidates import (
    Candidate,
    CategoryQuota,
    QuotaInfeasible,
    Quotas,
    org_limit,
    priority_key,
    tie_break_lot,
)
from judging.compute.flow import max_score_flow


class SelectionError(ValueError):
    """The candidates themselves are unusable (duplicate ids, non-finite scores)."""


@dataclass(frozen=True)
class RankedEntry:
    """An entry's place in the tie-break chain and whether it won."""

    entry_id: Hashable
    rank: int
    score: float
    winner: bool
    lot: str


@dataclass(frozen=True)
class Selection:
    """The winners (in rank order), the full ranking and the borderline explanation."""

    winners: tuple[Hashable, ...]
    ranking: tuple[RankedEntry, ...]
    borderline: tuple[BorderlineNote, ...]
    seed: int
    total_score: float


def candidates_from_calibration(
    calibration: Calibration,
    categories: Mapping[Hashable, str | None] | None = None,
    organizations: Mapping[Hashable, str | None] | None = None,
) -> list[Candidate]:
    """Turn calibrated entries into candidates, attaching category and organization."""
    categories = categories or {}
    organizations = organizations or {}
    return [
        Candidate(
            entry_id=e.entry_id,
            score=e.score,
            raw_scores=e.raw_scores,
            disagreement=e.disagreement,
            reviews=e.reviews,
            category=categories.get(e.entry_id),
            organization=organizations.get(e.entry_id),
        )
        for e in calibration.entries.values()
    ]


def select_winners(candidates: Iterable[Candidate], quotas: Quotas, seed: int = 0) -> Selection:
    """The optimal winners under the quotas, the ranking and the borderline explanation."""
    pool = _checked(candidates)
    _check_quotas(pool, quotas)
    ranked = sorted(pool, key=lambda c: priority_key(c, seed))
    rank_of = {c.entry_id: i for i, c in enumerate(ranked)}
    chosen = max_score_flow(_could_win(ranked, quotas), quotas)
    winners = tuple(c.entry_id for c in ranked if c.entry_id in chosen)
    ranking = tuple(
        RankedEntry(
            c.entry_id, i + 1, c.score, c.entry_id in chosen, tie_break_lot(seed, c.entry_id)
        )
        for i, c in enumerate(ranked)
    )
    borderline = explain_borderline(ranked, rank_of, chosen, quotas, seed)
    total = round(sum(c.score for c in ranked if c.entry_id in chosen), SCORE_DECIMALS)
    return Selection(winners, ranking, borderline, seed, total)


def _checked(candidates: Iterable[Candidate]) -> list[Candidate]:
    pool = list(candidates)
    seen: set[Hashable] = set()
    for c in pool:
        if c.entry_id in seen:
            raise SelectionError(f"entry {c.entry_id} appears twice")
        seen.add(c.entry_id)
        if not math.isfinite(c.score) or not all(math.isfinite(s) for s in c.raw_scores):
            raise SelectionError(f"entry {c.entry_id}: score is not a number")
    return pool


def _check_quotas(pool: Sequence[Candidate], quotas: Quotas) -> None:
    """Catch the infeasibilities a person can name before solving anything."""
    _check_numbers(pool, quotas)
    by_category: dict[str | None, list[Candidate]] = {}
    for c in pool:
        by_category.setdefault(c.category, []).append(c)
    for name, quota in sorted(quotas.categories.items()):
        _check_category_reach(name, quota, by_category.get(name, []), quotas)
    capacity = 0
    for name, members in by_category.items():
        quota = quotas.categories.get(name) if name is not None else None
        limit = len(members) if quota is None or quota.max is None else quota.max
        capacity += min(limit, len(members))
    if capacity < quotas.winners:
        raise QuotaInfeasible(
            "the category maximums allow at most %(capacity)s winners, fewer than the %(wanted)s asked for",
            capacity=capacity,
            wanted=quotas.winners,
        )


def _check_numbers(pool: Sequence[Candidate], quotas: Quotas) -> None:
    """The winners, the organization limit and each category's bounds make sense on their own."""
    wanted = quotas.winners
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise QuotaInfeasible("the number of winners must be a whole number of at least 1")
    if quotas.max_per_organization is not None and quotas.max_per_organization < 1:
        raise QuotaInfeasible("max_per_organization must be at least 1")
    if wanted > len(pool):
        raise QuotaInfeasible(
            "%(wanted)s winners asked for but only %(pool)s entries compete", wanted=wanted, pool=len(pool)
        )
    for name, quota in sorted(quotas.categories.items()):
        if quota.min < 0 or (quota.max is not None and quota.max < 0):
            raise QuotaInfeasible("category %(category)s: min and max must not be negative", category=name)
        if quota.max is not None and quota.min > quota.max:
            raise QuotaInfeasible(
                "category %(category)s: min %(min)s is above max %(max)s",
                category=name,
                min=quota.min,
                max=quota.max,
            )
    minimums = sum(q.min for q in quotas.categories.values())
    if minimums > wanted:
        raise QuotaInfeasible(
            "the category minimums add up to %(minimums)s, more than the %(wanted)s winners",
            minimums=minimums,
            wanted=wanted,
        )


def _check_category_reach(
    name: str, quota: CategoryQuota, members: list[Candidate], quotas: Quotas
) -> None:
    """A category's minimum can be met by its entries under the organization limit."""
    if quota.min > len(members):
        raise QuotaInfeasible(
            "category %(category)s needs at least %(min)s winners but has only %(count)s entries",
            category=name,
            min=quota.min,
            count=len(members),
        )
    orgs = Counter(c.organization for c in members if c.organization is not None)
    reachable = sum(org_limit(quotas, n) for n in orgs.values()) + sum(
        1 for c in members if c.organization is None
    )
    if quota.min > reachable:
        raise QuotaInfeasible(
            "category %(category)s needs at least %(min)s winners but its entries allow only"
            " %(reachable)s under the limit of %(limit)s per organization",
            category=name,
            min=quota.min,
            reachable=reachable,
            limit=quotas.max_per_organization,
        )


def _could_win(ranked: Sequence[Candidate], quotas: Quotas) -> list[Candidate]:
    """Drop entries that no optimal selection can contain, to keep the flow network small.

    Exchange argument: if x wins and some entry a of the same category ranks above x but loses,
    swapping them keeps the category counts and improves the selection unless a's organization
    is already full. So every higher-ranked entry of x's category either wins or belongs to a full
    organization: each organization among them (other than x's) holds at least one winner. If
    there are ``winners`` or more such organizations, x cannot win. Entries without an
    organization count as their own. Categories without a quota are one group: swapping two of
    their entries changes no constrained count (a stage's advancement by number has no quotas at
    all, so 7,000 entries shrink to the best few hundred).
    """
    wanted = quotas.winners
    kept: list[Candidate] = []
    above: dict[object, tuple[Counter, int]] = {}
    unconstrained = object()
    for c in ranked:
        group = c.category if c.category in quotas.categories else unconstrained
        orgs, loose = above.get(group, (Counter(), 0))
        if quotas.max_per_organization is None:
            others = sum(orgs.values()) + loose
        else:
            others = len(orgs) - (1 if c.organization in orgs else 0) + loose
        if others < wanted:
            kept.append(c)
        if c.organization is None:
            loose += 1
        else:
            orgs[c.organization] += 1
        above[group] = (orgs, loose)
    return kept
