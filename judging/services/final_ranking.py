"""What a selection ranks: the round's score sheet (the judges' calibrated scores) or, when a citizen
panel or public vote weighs in the round (a panel or public weight above 0), its blend sheet: experts,
panel and public by the round's published weights (``stage_standings``, the one ranking of a stage).

The selection stores the sheet and exports it: ``hangang challenge rank scores.csv ...`` replays the
first, ``hangang challenge blend --sheet blend.csv --quotas quotas.json --json`` the second. A blend
sheet for a selection also carries each entry's pseudonymous organization, so the per-organization
limit applies on the command line as in the portal.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from judging.compute import blend
from judging.services.editions import entries_of, get_round
from judging.services.score_sheets import pseudonym, score_sheet
from judging.services.standings import Standings, citizens_weigh_in, stage_standings

BLEND_SHEET = "blend.csv"
EXPERT_SHEET = "scores.csv"


@dataclass(frozen=True)
class RankedSheet:
    """The sheet a selection ranks, stores and exports, and the ids behind its pseudonyms."""

    source: str  # "experts" (scores.csv) or "blend" (blend.csv)
    csv_text: str
    entry_ids: dict[str, int]
    empty: bool  # nothing to rank yet (no reviews)
    parameters: dict[str, Any] = field(default_factory=dict)  # a blend's weights, seed and scale


async def ranked_sheet(round_id: int, method: str) -> RankedSheet:
    """The round's score sheet, or its blend sheet (with organizations) when citizens weigh in."""
    if await citizens_weigh_in(round_id):
        standings = await stage_standings(round_id, method)
        if standings.blend is not None:
            return await _blend_sheet(round_id, standings)
    sheet = await score_sheet(round_id)
    return RankedSheet("experts", sheet.csv_text(), sheet.entry_ids, not sheet.rows)


async def _blend_sheet(round_id: int, standings: Standings) -> RankedSheet:
    blended = standings.blend
    assert blended is not None
    edition_id = (await get_round(round_id))["edition"]
    organization_of = {e["id"]: e["organization"] for e in await entries_of(edition_id)}
    organizations = {
        s.entry_id: pseudonym("org", edition_id, organization_of[s.entry]) for s in blended.standings
    }
    return RankedSheet(
        "blend",
        blended.csv_text(organizations),
        standings.entry_ids,
        not any(r.reviews for r in standings.rows),
        {
            "source": "blend",
            "weights": blended.weights.label(),
            "blend_seed": blended.seed,
            "scale": blended.scale_text,
        },
    )


def is_blend(selection: dict[str, Any]) -> bool:
    """Whether a selection was ranked by the blend (older selections: the experts)."""
    return selection["parameters"].get("source") == "blend"


def sheet_name(selection: dict[str, Any]) -> str:
    """The export's name of the sheet a selection stores."""
    return BLEND_SHEET if is_blend(selection) else EXPERT_SHEET


def blend_sheet(selection: dict[str, Any]) -> blend.BlendSheet:
    """A blended selection's stored sheet, parsed."""
    return blend.parse_blend_sheet(csv.DictReader(io.StringIO(selection["sheet_csv"])))


def blend_columns(selection: dict[str, Any]) -> dict[str, blend.BlendedRow]:
    """Expert, panel, public and blended per entry pseudonym, recomputed from the stored sheet as the
    replay does ({} for a selection ranked by the experts)."""
    if not is_blend(selection):
        return {}
    sheet = blend_sheet(selection)
    return {r.entry_id: r for r in blend.blend(sheet.results, sheet.weights, sheet.seed, sheet.scale)}


def replay_command(selection: dict[str, Any]) -> str:
    """The command that replays a selection from its export."""
    if is_blend(selection):
        return f"hangang challenge blend --sheet {BLEND_SHEET} --quotas quotas.json --json"
    quotas = selection["parameters"]["quotas"]
    return (
        f"hangang challenge rank {EXPERT_SHEET} --method {selection['method']} --winners {quotas['winners']}"
        f" --quotas quotas.json --seed {selection['seed']} --json"
    )
