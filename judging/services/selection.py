"""The selection of winners (on the experts' calibrated scores, or on the blend when a citizen panel or
public vote weighs in the round: ``final_ranking``), and a selection's lifecycle.

A selection moves proposed -> approved (two officials, in ``approvals``); proposed -> stale (the rules
or the score sheet changed since it was computed: it cannot be approved); proposed | stale ->
superseded (computed again). Every step is audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from judging.categories import CATEGORY_LABELS
from judging.compute import blend_advance
from judging.compute.blend import BlendedRow
from judging.compute.borderline import borderline_json
from judging.compute.candidates import QuotaInfeasible
from judging.compute.scoresheet import rank_score_sheet, rows_from_csv
from judging.services.assignment import coverage_gaps, round_progress
from judging.services.common import (
    quotas_document,
    require_undecided,
    rules_changed,
    selection_step,
)
from judging.services.editions import SCORING_KINDS, entries_of, get_edition, get_round
from judging.services.final_ranking import (
    RankedSheet,
    blend_columns,
    is_blend,
    ranked_sheet,
    replay_command,
)
from judging.services.score_sheets import Sheet, pseudonym, score_sheet
from judging.services.two_officials import approvals_in
from judging.tables import Selection, SelectionApproval
from portal import audit, clock, i18n
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError

__all__ = ["Sheet", "pseudonym", "score_sheet"]  # the score sheet lives in score_sheets.py

STALE_MESSAGES = {
    "rules": "The edition's rules changed after this selection was computed; run the selection again before approving.",
    "score-sheet": "The reviews changed after this selection was computed; run the selection again before approving.",
}
BLEND_STALE_MESSAGE = (
    "The reviews, panel scores, public votes or blend weights changed after this selection was "
    "computed; run the selection again before approving."
)


def stale_message(selection: dict[str, Any]) -> str:
    """Why a stale selection cannot be approved, as a message id."""
    reason = selection["stale_reason"] or "rules"
    if reason == "score-sheet" and is_blend(selection):
        return BLEND_STALE_MESSAGE
    return STALE_MESSAGES.get(reason, STALE_MESSAGES["rules"])


async def stale_reason(selection: dict[str, Any]) -> str:
    """Why a selection no longer matches its edition ("" when it still does): the rules, or the sheet
    it ranked (reviews; with citizens, also panel scores, votes and weights; or citizens weighing in
    or out since)."""
    edition = await get_edition(selection["edition"])
    if rules_changed(selection, edition):
        return "rules"
    sheet = await ranked_sheet(selection["round"], selection["method"])
    if hashlib.sha256(sheet.csv_text.encode()).hexdigest() != selection["sheet_sha256"]:
        return "score-sheet"
    return ""


def rank_sheet(
    csv_text: str,
    *,
    method: str,
    quotas: dict[str, Any],
    seed: int,
    cut: float | None = None,
) -> dict[str, Any]:
    """Rank a score sheet with the very function behind ``hangang challenge rank`` (replayable).

    ``cut`` chooses every entry whose calibrated score reaches it (a stage's advancement by score).
    Raises ``ValueError`` (``ScoreSheetError``) with a readable reason when the quotas cannot be met.
    """
    winners = None if cut is not None else quotas["winners"]
    result = rank_score_sheet(rows_from_csv(csv_text), method, winners, quotas, seed, cut=cut)
    return {
        **result.to_json(),
        "winner_flags": {r.entry_id: r.winner for r in result.selection.ranking},
        "borderline": borderline_json(result.selection.borderline),
        "total_score": result.selection.total_score,
    }


def selection_outcome(sheet: RankedSheet, *, method: str, quotas: dict[str, Any], seed: int) -> dict[str, Any]:
    """The winners on the ranked sheet, exactly as its replay computes them: ``rank_sheet`` on the
    experts' score sheet, or ``blend_advance.replay`` on the blend sheet (the edition's quotas and
    per-organization limit either way; the blend's published seed ends its ties)."""
    if sheet.source == "blend":
        _ranking, outcome = blend_advance.replay_csv(sheet.csv_text, quotas)
        outcome.pop("advancing")
        return outcome
    return rank_sheet(sheet.csv_text, method=method, quotas=quotas, seed=seed)


async def run_selection(
    official_id: int, edition_id: int, round_id: int, method: str = "additive"
) -> int:
    """Rank (calibrated experts, or the blend when citizens weigh in) and choose the winners under the
    quotas, exactly as the CLI would on the export."""
    edition = await get_edition(edition_id)
    rnd = await get_round(round_id)
    if rnd["edition"] != edition_id or rnd["kind"] not in SCORING_KINDS:
        raise InvalidInput("Choose a scoring round of this edition.", field="round")
    if method not in ("additive", "zscore", "mean"):
        raise InvalidInput("Choose additive, zscore or mean.", field="method")
    sheet = await ranked_sheet(round_id, method)
    if sheet.empty:
        raise ConflictError("There are no reviews in this round yet.")
    quotas = quotas_document(edition)
    try:
        outcome = selection_outcome(sheet, method=method, quotas=quotas, seed=edition["seed"])
    except ValueError as exc:
        raise InvalidInput(
            "The selection is not possible: %(reason)s",
            field="quotas",
            reason=_reason_in_words(exc),
        ) from None
    sheet_sha = hashlib.sha256(sheet.csv_text.encode()).hexdigest()
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await require_undecided(edition_id, "The winners are already approved.")
        for earlier in await selections_of(edition_id):
            if earlier["status"] in ("proposed", "stale"):
                await selection_step(earlier, "superseded", official_id)
        # The snapshot: exactly the rules, quotas, seed and sheet (and blend weights) this selection uses.
        selection = Selection(
            edition=edition_id,
            round=round_id,
            method=method,
            seed=edition["seed"],
            parameters={
                "method": method,
                "seed": edition["seed"],
                "round": round_id,
                "quotas": quotas,
                **sheet.parameters,
            },
            result={**outcome, "entry_ids": sheet.entry_ids},
            sheet_sha256=sheet_sha,
            sheet_csv=sheet.csv_text,
            status="proposed",
            computed_by=official_id,
            computed_at=clock.now(),
        )
        await selection.save()
        await audit.record(
            "challenge.selection.computed",
            actor_id=official_id,
            subject=f"selection:{selection.id}",
            method=method,
            seed=edition["seed"],
            sheet_sha256=sheet_sha,
            winners=len(outcome["winners"]),
            **sheet.parameters,
        )
    return selection.id


def _reason_in_words(exc: ValueError) -> str:
    """Why the quotas cannot be met, in the reader's language (a category by its label)."""
    # The ranking re-raises quota problems as score sheet errors, with the original as the cause.
    quota = exc if isinstance(exc, QuotaInfeasible) else exc.__cause__
    if not isinstance(quota, QuotaInfeasible):
        return str(exc)
    params = dict(quota.params)
    if params.get("category") in CATEGORY_LABELS:
        params["category"] = i18n.translate(CATEGORY_LABELS[str(params["category"])])
    return i18n.translate(quota.message, **params)


async def get_selection(selection_id: int) -> dict[str, Any]:
    row = (
        await Selection.select().output(load_json=True).where(Selection.id == selection_id).first()
    )
    if row is None:
        raise NotFoundError("We could not find that selection.")
    return row


async def selections_of(edition_id: int) -> list[dict[str, Any]]:
    return (
        await Selection.select()
        .output(load_json=True)
        .where(Selection.edition == edition_id)
        .order_by(Selection.id, ascending=False)
    )


async def approvals_of(selection_id: int) -> list[dict[str, Any]]:
    return await approvals_in(SelectionApproval, SelectionApproval.selection, selection_id)


@dataclass(frozen=True)
class RankedRow:
    """One line of a selection's ranking, with the entry officials know it by."""

    entry_id: str
    rank: int
    score: float
    winner: bool
    entry: int
    title: str
    category: str
    organization: str
    sources: BlendedRow | None = None  # expert, panel, public and blended (a selection on the blend)


@dataclass(frozen=True)
class BorderlineRow:
    """Why an entry near the cut is in or out, in the reader's language and with real names."""

    entry_id: str
    rank: int
    score: float
    selected: bool
    title: str
    reason: str


@dataclass(frozen=True)
class SelectionSheet:
    """Everything the officials' selection page shows."""

    selection: dict[str, Any]
    edition: dict[str, Any]
    ranking: list[RankedRow]
    borderline: list[BorderlineRow]
    approvals: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    stale_message: str
    missing_reviews: int
    replay: str = ""  # the command that replays it from its export
    blended: bool = False  # ranked by the blend of experts, panel and public (``sources`` per row)


def borderline_reason(note: dict[str, Any]) -> str:
    """A borderline reason in the reader's language (stored English text for older selections)."""
    message = note.get("message")
    if not message:
        return note["reason"]
    params = dict(note.get("params") or {})
    if "step" in params:
        params["step"] = i18n.gettext(params["step"])
    if "category" in params:
        label = CATEGORY_LABELS.get(params["category"])
        params["category"] = i18n.gettext(label) if label else params["category"]
    return i18n.gettext(message, **params)


def officials_names(
    edition_id: int, entry_ids: dict[str, int], entries: dict[int, dict[str, Any]]
) -> dict[str, str]:
    """Pseudonym -> what officials read: entry titles, and organization names (they know them)."""
    names = {p: f"«{entries[i]['title']}»" for p, i in entry_ids.items()}
    for row in entries.values():
        names.setdefault(pseudonym("org", edition_id, row["organization"]), row["organization_name"])
    return names


def named_reason(reason: str, names: dict[str, str]) -> str:
    """The selection explains itself with pseudonymous ids; officials read titles."""
    for alias, title in names.items():
        if alias in reason:
            reason = reason.replace(alias, title)
    return reason


async def selection_sheet(selection_id: int) -> SelectionSheet:
    """A selection with its ranking and borderline under real titles, approvals and what still blocks it."""
    chosen = await get_selection(selection_id)
    edition = await get_edition(chosen["edition"])
    result = chosen["result"]
    entry_ids = result["entry_ids"]
    entries = {e["id"]: e for e in await entries_of(edition["id"])}
    sources = blend_columns(chosen)
    ranking = [
        RankedRow(
            entry_id=r["entry_id"],
            rank=r["rank"],
            score=r["score"],
            winner=result["winner_flags"].get(r["entry_id"], False),
            entry=entry_ids[r["entry_id"]],
            title=entries[entry_ids[r["entry_id"]]]["title"],
            category=entries[entry_ids[r["entry_id"]]]["category"],
            organization=entries[entry_ids[r["entry_id"]]]["organization_name"],
            sources=sources.get(r["entry_id"]),
        )
        for r in result["ranking"]
    ]
    names = officials_names(edition["id"], entry_ids, entries)
    borderline = [
        BorderlineRow(
            entry_id=b["entry_id"],
            rank=b["rank"],
            score=b["score"],
            selected=b["selected"],
            title=entries[entry_ids[b["entry_id"]]]["title"],
            reason=named_reason(borderline_reason(b), names),
        )
        for b in result["borderline"]
    ]
    status = chosen["status"]
    return SelectionSheet(
        selection=chosen,
        edition=edition,
        ranking=ranking,
        borderline=borderline,
        approvals=await approvals_of(selection_id),
        gaps=await coverage_gaps(chosen["round"]) if status in ("proposed", "stale") else [],
        stale_message=stale_message(chosen) if status == "stale" else "",
        # Reviews the round still lacks: approving now would leave them out of the decision.
        missing_reviews=sum(len(r.missing) for r in await round_progress(chosen["round"]))
        if status == "proposed"
        else 0,
        replay=replay_command(chosen),
        blended=is_blend(chosen),
    )
