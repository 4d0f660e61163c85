"""Who advances from a stage ranked by the blend (pure): the stage's rule applied to the blended scores.

The same selection as ``hangang challenge rank`` (``judging.compute.selection``), with each entry's
blended score (0-100) as its score: a number advances (the best N), or every entry whose blended
score reaches the cut, or a number under category quotas (the best total blended score meeting the
quotas). The cut is typed on the stage's rubric scale and rescaled to 0-100 like the expert scores.
The officials' decision and ``hangang challenge blend --sheet blend.csv --count N | --cut X |
--quotas quotas.json`` both call ``advance``, so the export replays to the approved advancement.

The ranking is the blend's (its published tie-break chain); the selection separates entries whose
blended scores are equal to six decimals by the same seeded lot the blend ends with.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from judging.compute.blend import (
    DEFAULT_SCALE,
    BlendedRow,
    BlendError,
    BlendSheet,
    blend,
    exact,
    parse_blend_sheet,
    rescaled,
)
from judging.compute.borderline import borderline_json
from judging.compute.candidates import Candidate, QuotaInfeasible
from judging.compute.scoresheet import ScoreSheetError, parse_quotas
from judging.compute.selection import SelectionError, select_winners


def reaching(ranking: list[BlendedRow], cut: float, scale: tuple[int, int]) -> int:
    """How many entries' blended scores reach the cut (typed on ``scale``); at least one."""
    if not scale[0] <= cut <= scale[1]:
        raise BlendError(f"the cut {cut:g} is outside the scale {scale[0]}-{scale[1]}")
    threshold = rescaled(cut, scale)
    count = sum(1 for r in ranking if exact(r.blended) >= threshold)
    if count == 0:
        raise BlendError(f"no entry reaches the cut {cut:g}")
    return count


def advance(
    ranking: list[BlendedRow],
    categories: Mapping[str, str],
    quotas: Mapping[str, Any] | None,
    seed: int,
    *,
    count: int | None = None,
    cut: float | None = None,
    scale: tuple[int, int] = DEFAULT_SCALE,
    organizations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The advancement: ``{"ranking", "winners", "advancing", "borderline", "winner_flags",
    "total_score"}`` (the shape ``rank_sheet`` gives a stage decision). ``quotas`` is the QUOTAS.json
    object (its ``winners`` is the count unless ``count`` or ``cut`` says; its
    ``max_per_organization`` limits the entries ``organizations`` names, a final selection's sheet)."""
    if not ranking:
        raise BlendError("the sheet has no entries")
    if count is not None and cut is not None:
        raise BlendError("give either --count or --cut, not both")
    document = dict(quotas or {})
    if cut is not None:
        count = reaching(ranking, cut, scale)
        document["winners"] = count
    organizations = organizations or {}
    try:
        chosen = parse_quotas(document, count)
        selection = select_winners(
            [
                Candidate(
                    entry_id=r.entry_id,
                    score=r.blended,
                    category=categories.get(r.entry_id) or None,
                    organization=organizations.get(r.entry_id) or None,
                )
                for r in ranking
            ],
            chosen,
            seed,
        )
    except (ScoreSheetError, QuotaInfeasible, SelectionError) as error:
        raise BlendError(str(error)) from error  # the cause lets a page translate quota reasons
    winners = set(selection.winners)
    return {
        "ranking": [{"entry_id": r.entry_id, "score": r.blended, "rank": r.rank} for r in ranking],
        "winners": list(selection.winners),
        "advancing": list(selection.winners),
        "winner_flags": {r.entry_id: r.entry_id in winners for r in ranking},
        "borderline": borderline_json(selection.borderline, blended=True),
        "total_score": selection.total_score,
    }


def replay(
    sheet: BlendSheet,
    quotas: Mapping[str, Any] | None,
    *,
    count: int | None = None,
    cut: float | None = None,
) -> tuple[list[BlendedRow], dict[str, Any]]:
    """A blend sheet's ranking and who goes on under the rule, from its raw columns, weights, seed,
    scale, categories and organizations: what a stage decision and a selection ranked by the blend
    store, and what ``hangang challenge blend --sheet`` prints."""
    ranking = blend(sheet.results, sheet.weights, sheet.seed, sheet.scale)
    outcome = advance(
        ranking,
        sheet.categories,
        quotas,
        sheet.seed,
        count=count,
        cut=cut,
        scale=sheet.scale,
        organizations=sheet.organizations,
    )
    return ranking, outcome


def replay_csv(
    csv_text: str,
    quotas: Mapping[str, Any] | None,
    *,
    count: int | None = None,
    cut: float | None = None,
) -> tuple[list[BlendedRow], dict[str, Any]]:
    """``replay`` on a stored ``blend.csv`` text."""
    return replay(parse_blend_sheet(csv.DictReader(io.StringIO(csv_text))), quotas, count=count, cut=cut)
