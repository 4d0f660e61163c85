"""A stage's blended standings: expert (calibrated reviews), citizen panel and public vote, by the stage's
published weights, through ``judging.compute.blend`` (the same function ``hangang challenge blend``
replays the exported sheet with).

``blended_standings(round_id)`` is the one ranking of a stage, best first; stage advancement ranks with it.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from judging.citizen_tables import CitizenMode
from judging.compute import blend, calibration
from judging.services.citizens import citizen_settings, stage_entries
from judging.services.editions import get_round
from judging.services.panel import panel_means
from judging.services.public_vote import vote_counts
from judging.services.score_sheets import pseudonym, score_sheet
from judging.tables import Entry
from portal.connector.exports import _csv_bytes as csv_bytes

EXPERT_METHOD = calibration.DEFAULT_METHOD


class BlendedStanding(msgspec.Struct, frozen=True):
    """One entry of a stage's blended ranking: raw results, their 0-100 values and the blend."""

    rank: int
    entry: int  # the entry's database id
    entry_id: str  # its pseudonym in the exports
    title: str
    category: str
    organization: str
    expert_score: float | None  # calibrated, on the stage's scale
    panel_score: float | None  # mean panel total, on the stage's scale
    public_votes: int
    expert: float  # 0-100
    panel: float
    public: float
    blended: float


class StageBlend(msgspec.Struct, CitizenMode, frozen=True):
    """The officials' view and the export: the standings with the weights, seed and citizen mode."""

    round_id: int
    mode: str
    weight_expert: int
    weight_panel: int
    weight_public: int
    seed: int
    method: str
    standings: list[BlendedStanding]
    scale: tuple[int, int] = blend.DEFAULT_SCALE

    @property
    def scale_text(self) -> str:
        return f"{self.scale[0]}-{self.scale[1]}"

    @property
    def weights(self) -> blend.Weights:
        return blend.Weights(self.weight_expert, self.weight_panel, self.weight_public)

    @property
    def blends_citizens(self) -> bool:
        """True when citizens weigh in the stage's ranking (a panel or public weight above 0)."""
        return bool(self.weight_panel or self.weight_public)

    def sheet_rows(self, organizations: Mapping[str, str] | None = None) -> list[list[str]]:
        """The rows of ``blend.csv`` and ``blend.xlsx`` (``hangang challenge blend --sheet`` replays them);
        ``organizations`` (pseudonyms) adds the column a final selection's per-organization limit reads."""
        return blend.sheet_rows(
            self.ranking(),
            {s.entry_id: s.title for s in self.standings},
            self.weights,
            self.seed,
            self.scale,
            {s.entry_id: s.category for s in self.standings},
            organizations,
        )

    def csv_text(self, organizations: Mapping[str, str] | None = None) -> str:
        """``blend.csv`` as text (the sheet a stage decision or a selection ranked by the blend stores
        and exports)."""
        return csv_bytes(blend.sheet_columns(organizations), self.sheet_rows(organizations)).decode("utf-8")

    def ranking(self) -> list[blend.BlendedRow]:
        return [
            blend.BlendedRow(
                s.rank, s.entry_id, s.expert_score, s.panel_score, s.public_votes,
                s.expert, s.panel, s.public, s.blended,
            )
            for s in self.standings
        ]


async def stage_blend(round_id: int, method: str = EXPERT_METHOD) -> StageBlend:
    """Every source per entry of the stage, normalised from the stage's scale and blended by its weights."""
    rnd = await get_round(round_id)
    scale = (rnd["scale_min"], rnd["scale_max"])
    settings = await citizen_settings(round_id)
    edition_id = rnd["edition"]
    entries = await stage_entries(round_id)
    sheet = await score_sheet(round_id)
    expert: dict[int, float] = {}
    if sheet.rows:
        calibrated = calibration.calibrate(
            [(r["entry_id"], r["judge_id"], float(r["score"])) for r in sheet.rows], method
        )
        expert = {sheet.entry_ids[e]: item.score for e, item in calibrated.entries.items()}
    panel = await panel_means(round_id) if settings.has_panel else {}
    votes = await vote_counts(round_id) if settings.has_public else {}
    names = {e["id"]: pseudonym("entry", edition_id, e["id"]) for e in entries}
    results = [
        blend.SourceResult(
            names[e["id"]],
            expert.get(e["id"]),
            round(float(panel[e["id"]]), 6) if e["id"] in panel else None,
            votes.get(e["id"], 0),
        )
        for e in entries
    ]
    ranked = blend.blend(results, settings.weights, settings.seed, scale)
    facts = {
        r["id"]: r
        for r in await Entry.select(
            Entry.id, Entry.title, Entry.category, Entry.organization.name.as_alias("organization_name")
        ).where(Entry.id.is_in([e["id"] for e in entries] or [0]))
    }
    ids = {names[e]: e for e in names}
    standings = [
        BlendedStanding(
            rank=r.rank,
            entry=ids[r.entry_id],
            entry_id=r.entry_id,
            title=facts[ids[r.entry_id]]["title"],
            category=facts[ids[r.entry_id]]["category"],
            organization=facts[ids[r.entry_id]]["organization_name"],
            expert_score=r.expert_score,
            panel_score=r.panel_score,
            public_votes=r.public_votes,
            expert=r.expert,
            panel=r.panel,
            public=r.public,
            blended=r.blended,
        )
        for r in ranked
    ]
    w = settings.weights
    return StageBlend(
        round_id, settings.mode, w.expert, w.panel, w.public, settings.seed, method, standings, scale
    )


async def blended_standings(round_id: int) -> list[BlendedStanding]:
    """The stage's entries ranked by the blended score, best first (rank 1 first)."""
    return (await stage_blend(round_id)).standings
