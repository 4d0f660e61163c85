"""The candidates for the winners' places, the quotas they compete under and the tie-break chain (pure).

Ties are broken exactly, not by float noise: scores are compared as integers in millionths
(``score_units``). The chain (``priority_key``) is: calibrated score; raw scores on whole-point
levels compared from the top (HotCRP's "counts": more high scores wins); median raw score; lower
disagreement; more reviews; a seeded lot ``sha256("<seed>:<entry_id>")`` anyone can recompute.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from judging.compute.calibration import SCORE_DECIMALS

TIE_BREAK_STEPS = (
    "calibrated score",
    "raw score counts",
    "median",
    "disagreement",
    "number of reviews",
    "seeded lot",
    "entry id",
)
_UNIT = 10**SCORE_DECIMALS


class QuotaInfeasible(ValueError):
    """No selection satisfies the quotas; the message names the constraint that fails.

    ``message`` is an English catalog id with ``%(name)s`` placeholders and ``params`` its values
    (``category`` a category key), so a page can say it in the reader's language.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Candidate:
    """An entry competing for a win, with the figures the tie-break chain needs."""

    entry_id: Hashable
    score: float
    raw_scores: tuple[float, ...] = ()
    disagreement: float = 0.0
    reviews: int = 0
    category: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class CategoryQuota:
    """Minimum and maximum winners in one category (``max`` None: no limit)."""

    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class Quotas:
    """How many winners, per-category bounds and the per-organization limit (None: no limit)."""

    winners: int = 50
    categories: Mapping[str, CategoryQuota] = field(default_factory=dict)
    max_per_organization: int | None = 1


def tie_break_lot(seed: int, entry_id: Hashable) -> str:
    """The published lot of an entry: lower wins. Independent of the other entries."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def score_units(value: float) -> int:
    """A score in millionths, so comparisons are exact integers."""
    return round(value * _UNIT)


def priority_key(candidate: Candidate, seed: int) -> tuple:
    """Sort key of the tie-break chain: smaller is better; one component per step."""
    # HotCRP's "counts" on whole-point levels (a 7.85 counts as a 7): compare from the top, so
    # more high scores wins; at an equal prefix the longer list wins (it has more scores at that
    # level), hence the +inf sentinel. The exact scores then matter through the median.
    levels = sorted((score_units(s) // _UNIT for s in candidate.raw_scores), reverse=True)
    counts = tuple(-level for level in levels) + (math.inf,)
    median = score_units(statistics.median(candidate.raw_scores)) if candidate.raw_scores else 0
    return (
        -score_units(candidate.score),
        counts,
        -median,
        score_units(candidate.disagreement),
        -candidate.reviews,
        tie_break_lot(seed, candidate.entry_id),
        str(candidate.entry_id),
    )


def tie_break_step(a: Candidate, b: Candidate, seed: int) -> str:
    """The first step of the chain that separates two entries."""
    for name, x, y in zip(
        TIE_BREAK_STEPS, priority_key(a, seed), priority_key(b, seed), strict=True
    ):
        if x != y:
            return name
    return TIE_BREAK_STEPS[-1]


def org_limit(quotas: Quotas, count: int) -> int:
    """How many winners an organization with ``count`` entries can have."""
    if quotas.max_per_organization is None:
        return count
    return min(count, quotas.max_per_organization)
