"""What an applicant learns about its entry in one stage (pure: plain data in, plain data out).

- **Rank band**: where the entry's rank falls among the stage's ranked entries: ``top-10`` (rank within
  the first 10 %), ``10-25``, ``25-50`` or ``lower-half``. The band of rank ``r`` of ``n`` is the first
  whose upper share ``s`` holds ``r <= ceil(s * n)``, so the first entry is always in the top 10 %.
- **Distance to the cut**: the entry's calibrated total minus the cut. The cut is the stage's score cut
  for a "cut" rule, otherwise the lowest calibrated total among the entries that advanced.
- **Anonymous judges**: "Judge A, B, C..." in the order each judge first reviewed the entry, the same
  letter for the same judge in every stage of that entry.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from judging.compute import calibration

# English labels (translated in judging.po) of the bands, outcomes, moderation states and sorts.
LABELS = {
    "top-10": "Top 10%%",  # a literal % is %% in the catalogs (portal.i18n.translate)
    "10-25": "Top 10–25%%",
    "25-50": "Top 25–50%%",
    "lower-half": "Lower half",
    "pending": "Pending",
    "approved": "Approved",
    "hidden": "Hidden",
    "private": "Kept from the applicant by the judge",
    "sort-rank": "Rank",
    "sort-entry": "Entry",
    "sort-judge": "Judge",
    "sort-status": "Moderation",
}
RANK_BANDS = (("top-10", 0.10), ("10-25", 0.25), ("25-50", 0.50), ("lower-half", 1.0))


def rank_band(rank: int, ranked: int) -> str:
    """The band of ``rank`` (1 is best) among ``ranked`` entries."""
    if not 1 <= rank <= ranked:
        raise ValueError(f"rank {rank} is outside 1..{ranked}")
    for band, share in RANK_BANDS:
        if rank <= math.ceil(share * ranked):
            return band
    return RANK_BANDS[-1][0]  # pragma: no cover - the last share is 1.0


@dataclass(frozen=True)
class CutDistance:
    """Whether the entry advanced, the cut it is measured against and its signed distance in points."""

    advanced: bool
    cut: float | None
    distance: float | None  # positive: above the cut; None when nobody advanced under a count rule


def cut_distance(
    score: float, advanced: bool, advancing_scores: Sequence[float], rule: dict
) -> CutDistance:
    """The distance of ``score`` to the stage's cut (two decimals)."""
    if rule.get("mode") == "cut":
        cut: float | None = float(rule["cut"])
    else:
        cut = min(advancing_scores) if advancing_scores else None
    distance = None if cut is None else round(score - cut, 2) + 0.0
    return CutDistance(advanced=advanced, cut=cut, distance=distance)


def judge_letter(index: int) -> str:
    """A, B, ..., Z, AA, AB, ... for 0, 1, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def judge_letters(judges_in_order: Iterable[Hashable]) -> dict[Hashable, str]:
    """A letter per judge in the order they first appear."""
    letters: dict[Hashable, str] = {}
    for judge in judges_in_order:
        if judge not in letters:
            letters[judge] = judge_letter(len(letters))
    return letters


def criterion_scores(
    reviews: Sequence[tuple[Hashable, Hashable, dict[str, float]]],
    keys: Sequence[str],
    method: str = calibration.DEFAULT_METHOD,
) -> tuple[dict[Hashable, dict[str, float]], dict[str, float]]:
    """Each entry's calibrated score per criterion, and the stage's mean per criterion.

    ``reviews`` holds (entry, judge, {criterion: score}); every criterion is calibrated on its own with
    the stage's method, so a severe judge's low marks count as an average judge's would.
    """
    per_entry: dict[Hashable, dict[str, float]] = {}
    means: dict[str, float] = {}
    for key in keys:
        rows = [
            (entry, judge, float(scores[key])) for entry, judge, scores in reviews if key in scores
        ]
        if not rows:
            continue
        fitted = calibration.calibrate(rows, method)
        for entry, item in fitted.entries.items():
            per_entry.setdefault(entry, {})[key] = round(item.score, 2) + 0.0
        means[key] = (
            round(sum(i.score for i in fitted.entries.values()) / len(fitted.entries), 2) + 0.0
        )
    return per_entry, means


@dataclass(frozen=True)
class Standing:
    """Where a ranked entry stands in a decided stage."""

    score: float  # the calibrated total (two decimals)
    rank: int
    ranked: int
    band: str
    advanced: bool
    cut: float | None
    distance: float | None


@dataclass(frozen=True)
class EntryFigures(Standing):
    """One ranked entry's feedback figures in a stage: what is stored at the stage's approval."""

    position: int  # the entry's place in the decision's ranking (0 first): the order of every list
    criteria: dict[str, float]  # the calibrated score per criterion (a criterion nobody scored: absent)


def stage_figures(
    result: dict,
    rule: dict,
    method: str,
    reviews: Sequence[tuple[int, Hashable, dict[str, float]]],
    keys: Sequence[str],
) -> tuple[dict[int, EntryFigures], dict[str, float]]:
    """Every ranked entry's figures and the stage's mean per criterion, from an approved decision.

    ``result`` is the decision's result (``ranking``, ``advancing`` and ``entry_ids``, which maps the
    sheet's labels to entry ids); ``reviews`` holds (entry id, judge, {criterion: score}).
    """
    ids: dict[str, int] = result["entry_ids"]
    ranking = result["ranking"]
    advancing = set(result["advancing"])
    advancing_scores = [r["score"] for r in ranking if r["entry_id"] in advancing]
    per_entry, means = criterion_scores(reviews, keys, method)
    figures = {}
    for position, row in enumerate(ranking):
        entry = ids[row["entry_id"]]
        distance = cut_distance(row["score"], row["entry_id"] in advancing, advancing_scores, rule)
        figures[entry] = EntryFigures(
            position=position,
            score=round(row["score"], 2) + 0.0,
            rank=row["rank"],
            ranked=len(ranking),
            band=rank_band(row["rank"], len(ranking)),
            advanced=distance.advanced,
            cut=distance.cut,
            distance=distance.distance,
            criteria=per_entry.get(entry, {}),
        )
    return figures, means
