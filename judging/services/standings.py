"""A stage's standings: the ONE place that ranks a stage's entries.

Without citizens (or with citizens whose weights are 0) the standings are the judges' calibrated
scores (the additive model over the stage's score sheet), source ``"experts"``: ``sheet_csv`` is the
score sheet ``hangang challenge rank`` replays. When a citizen panel or public vote weighs in (a panel
or public weight above 0), the standings are the blend (``judging/services/blending.py``), source
``"blend"``: ``sheet_csv`` is ``blend.csv``, which ``hangang challenge blend`` replays. The
advancement (``judging/services/stages.py``) is computed from ``Standings.sheet_csv`` either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from judging.compute import calibration
from judging.compute.rubric import scale_text
from judging.services.citizens import citizen_settings
from judging.services.score_sheets import Sheet, score_sheet

if TYPE_CHECKING:
    from judging.services.blending import StageBlend


@dataclass(frozen=True)
class StandingRow:
    """One entry's place in a stage: its calibrated score, raw mean and number of reviews."""

    entry: int
    entry_id: str
    rank: int
    score: float
    raw_mean: float
    disagreement: float
    reviews: int


@dataclass(frozen=True)
class Standings:
    """A stage's ranking and the score sheet it comes from (pseudonymous ids, with its scale)."""

    round_id: int
    source: str  # "experts": calibrated judges' scores; "blend": experts, panel and public by weight
    method: str
    scale: tuple[int, int]
    sheet_csv: str
    entry_ids: dict[str, int]
    rows: list[StandingRow]
    blend: StageBlend | None = None  # the blend behind the standings (source "blend")

    @property
    def scale_text(self) -> str:
        return scale_text(self.scale)


async def blend_standings(round_id: int, method: str, sheet: Sheet) -> Standings:
    """The stage ranked by the blend: every entry of the stage, its blended score (0-100) as the score."""
    # imported here: the panel's services reach the stages (and so these standings) through reviews
    from judging.services.blending import stage_blend

    blended = await stage_blend(round_id, method)
    reviews = Counter(r["entry_id"] for r in sheet.rows)
    rows = [
        StandingRow(
            entry=s.entry,
            entry_id=s.entry_id,
            rank=s.rank,
            score=s.blended,
            raw_mean=s.expert_score if s.expert_score is not None else 0.0,
            disagreement=0.0,
            reviews=reviews[s.entry_id],
        )
        for s in blended.standings
    ]
    return Standings(
        round_id=round_id,
        source="blend",
        method=method,
        scale=blended.scale,
        sheet_csv=blended.csv_text(),
        entry_ids={s.entry_id: s.entry for s in blended.standings},
        rows=rows,
        blend=blended,
    )


async def citizens_weigh_in(round_id: int) -> bool:
    """Whether a citizen panel or public vote weighs in the stage's ranking (a weight above 0)."""
    weights = (await citizen_settings(round_id)).weights
    return bool(weights.panel or weights.public)


async def stage_standings(round_id: int, method: str = calibration.DEFAULT_METHOD) -> Standings:
    """Rank the stage's entries: by the blend when citizens weigh in, else the reviewed entries by
    calibrated score (ties by pseudonym, for display)."""
    sheet = await score_sheet(round_id)
    if await citizens_weigh_in(round_id):
        return await blend_standings(round_id, method, sheet)
    rows: list[StandingRow] = []
    if sheet.rows:
        fitted = calibration.calibrate(
            [(r["entry_id"], r["judge_id"], float(r["score"])) for r in sheet.rows], method
        )
        ordered = sorted(fitted.entries.items(), key=lambda kv: (-kv[1].score, kv[0]))
        rows = [
            StandingRow(
                entry=sheet.entry_ids[entry_id],
                entry_id=entry_id,
                rank=rank,
                score=item.score,
                raw_mean=item.raw_mean,
                disagreement=item.disagreement,
                reviews=item.reviews,
            )
            for rank, (entry_id, item) in enumerate(ordered, start=1)
        ]
    return Standings(
        round_id=round_id,
        source="experts",
        method=method,
        scale=sheet.scale,
        sheet_csv=sheet.csv_text(with_scale=True),
        entry_ids=sheet.entry_ids,
        rows=rows,
    )
