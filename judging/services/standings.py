"""A stage's standings: the ONE place that ranks a stage's entries.

Today the standings are the judges' calibrated scores (the additive model over the stage's score
sheet). A citizen panel or public vote blended into a stage plugs in here, and nowhere else: the
advancement (``judging/services/stages.py``) is computed from ``Standings.sheet_csv``, the sheet it
stores and the CLI replays, so a blend must return a sheet ``hangang challenge rank`` can replay.
"""

from __future__ import annotations

from dataclasses import dataclass

from judging.compute import calibration
from judging.compute.rubric import scale_text
from judging.services.selection import score_sheet


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
    source: str  # "experts": calibrated judges' scores (a blend would name itself here)
    method: str
    scale: tuple[int, int]
    sheet_csv: str
    entry_ids: dict[str, int]
    rows: list[StandingRow]

    @property
    def scale_text(self) -> str:
        return scale_text(self.scale)


async def stage_standings(round_id: int, method: str = calibration.DEFAULT_METHOD) -> Standings:
    """Rank the stage's reviewed entries by calibrated score (ties by pseudonym, for display)."""
    sheet = await score_sheet(round_id)
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
