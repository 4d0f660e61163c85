"""The challenge as a funnel of stages: the one state machine for stages and their advancement.

A stage is a scoring round (``challenge_round``) with its own rubric, judges, deadline and advance
rule: how many go on (a number), a score cut, or a number under category quotas.

- **Stage**: ``setup`` (rubric, rule and judges are set; assignment runs) -> ``reviewing`` (the first
  review is saved: the rubric is frozen) -> ``decided`` (two officials approved its advancement: the
  stage's rubric, rule, assignments and reviews never change again).
- **Advancement decision** (``challenge_stage_decision``), as a selection: ``proposed`` -> ``approved``
  (two different officials); ``proposed`` -> ``stale`` (the score sheet or the rule changed since it
  was computed); ``proposed | stale`` -> ``superseded`` (computed again).

A decision stores the score sheet, the rule as a quotas document, the scale, method and seed it was
computed from, so ``hangang challenge rank`` replays it from its export. Only the entries it lets
through are assigned and reviewed in the next stage (``judging/services/funnel.py``). Every step is
audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from judging.compute import blend_advance
from judging.compute.calibration import METHODS
from judging.services import feedback, public_vote
from judging.services.citizens import citizen_settings
from judging.services.common import require_undecided, update_audited
from judging.services.editions import (
    SCORING_KINDS,
    entries_of,
    get_edition,
    get_round,
    rounds_of,
    validate_quotas,
)
from judging.services.funnel import approved_decision, previous_stage, stage_entries
from judging.services.selection import (
    _reason_in_words,
    borderline_reason,
    named_reason,
    officials_names,
    rank_sheet,
)
from judging.services.standings import stage_standings
from judging.services.two_officials import TwoOfficials, approvals_in, approve
from judging.tables import Review, Round, StageDecision, StageDecisionApproval
from portal import audit, clock
from portal.canonical import canonical_json
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotAllowed, NotFoundError

STAGE_STEPS = frozenset({("setup", "reviewing"), ("reviewing", "decided")})
DECISION_STEPS = frozenset(
    {
        ("proposed", "approved"),
        ("proposed", "stale"),
        ("proposed", "superseded"),
        ("stale", "superseded"),
    }
)
DECISION_STALE_MESSAGES = {
    "rules": "The stage's advance rule changed after this decision was computed; compute it again before approving.",
    "score-sheet": "The reviews changed after this decision was computed; compute it again before approving.",
}
BLEND_STALE_MESSAGE = (
    "The reviews, panel scores or public votes changed after this decision was computed; "
    "compute it again before approving."
)
ANOMALY_MESSAGE = (
    "Acknowledge the public vote's anomaly report on the blend page before approving this advancement."
)
MAX_COUNT = 100_000


# ---------------------------------------------------------------- the stage's state


async def stage_step(rnd: dict[str, Any], new: str, actor_id: int | None, **details: Any) -> None:
    """Move a stage one step (inside the caller's transaction), audited."""
    old = rnd["stage_state"]
    if (old, new) not in STAGE_STEPS:
        raise ConflictError("This stage cannot move to that state.")
    await Round.update({Round.stage_state: new}).where(Round.id == rnd["id"])
    await audit.record(
        "challenge.stage.state",
        actor_id=actor_id,
        subject=f"round:{rnd['id']}",
        old=old,
        new=new,
        **details,
    )
    rnd["stage_state"] = new


async def enter_reviewing(round_id: int, judge_id: int) -> None:
    """The first saved review freezes the stage's rubric: setup -> reviewing (caller's transaction)."""
    rnd = await get_round(round_id)
    if rnd["stage_state"] == "setup":
        await stage_step(rnd, "reviewing", judge_id)


async def require_reviews_open(round_id: int) -> None:
    """Refuse a review in a stage whose advancement is approved (caller's transaction)."""
    rnd = await get_round(round_id)
    if rnd["stage_state"] == "decided":
        raise NotAllowed("This stage's advancement is approved; scores are locked.")


async def _scoring_stage(round_id: int) -> dict[str, Any]:
    rnd = await get_round(round_id)
    if rnd["kind"] not in SCORING_KINDS:
        raise NotFoundError("We could not find that stage.")
    return rnd


async def _require_changeable(rnd: dict[str, Any], message: str) -> None:
    """Inside the transaction: the edition is undecided and the stage not decided."""
    await require_undecided(
        rnd["edition"], "The winners are approved; this stage can no longer change."
    )
    current = await get_round(rnd["id"])
    if current["stage_state"] == "decided":
        raise ConflictError(message)


# ---------------------------------------------------------------- stage settings: name and rule


@dataclass
class RuleForm:
    """An advance rule as typed: mode ("" for none), a count, a cut and quotas per category."""

    mode: str = ""
    count: int | None = None
    cut: str = ""
    categories: dict[str, Any] | None = None


def _clean_count(count: int | None) -> int:
    if count is None or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(
            "How many advance must be a whole number from 1 to %(max)s.",
            field="count",
            max=MAX_COUNT,
        )
    return count


def _clean_cut(text: str, scale: tuple[int, int]) -> str:
    try:
        cut = Decimal((text or "").strip().replace(",", "."))
    except InvalidOperation:
        cut = Decimal("NaN")
    if not cut.is_finite() or not scale[0] <= cut <= scale[1] or cut != round(cut, 2):
        raise InvalidInput(
            "The score cut must be a number from %(low)s to %(high)s with at most two decimals.",
            field="cut",
            low=scale[0],
            high=scale[1],
        )
    return f"{cut:.2f}"


def validate_rule(form: RuleForm, rnd: dict[str, Any], categories: list[str]) -> dict[str, Any]:
    """The stored rule: {} (everyone goes on), count, cut or quotas; errors beside their field."""
    if form.mode == "":
        return {}
    if form.mode == "count":
        return {"mode": "count", "count": _clean_count(form.count)}
    if form.mode == "cut":
        return {"mode": "cut", "cut": _clean_cut(form.cut, (rnd["scale_min"], rnd["scale_max"]))}
    if form.mode == "quotas":
        count = _clean_count(form.count)
        return {
            "mode": "quotas",
            "count": count,
            "categories": validate_quotas(form.categories or {}, categories, count),
        }
    raise InvalidInput("Choose how entries advance.", field="mode")


async def update_stage(official_id: int, round_id: int, name: str, rule: RuleForm) -> None:
    """Name a stage and set how many advance, until its advancement is approved."""
    rnd = await _scoring_stage(round_id)
    edition = await get_edition(rnd["edition"])
    name = (name or "").strip()
    if len(name) > 120:
        raise InvalidInput("Keep this under %(limit)s characters.", field="name", limit=120)
    clean = validate_rule(rule, rnd, edition["categories"])
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await _require_changeable(
            rnd, "This stage's advancement is approved; its rule can no longer change."
        )
        await update_audited(
            Round,
            round_id,
            {"name": name, "advance_rule": clean},
            rnd,
            "challenge.stage.updated",
            actor_id=official_id,
            subject=f"round:{round_id}",
        )
        for proposed in await _decisions(round_id, ("proposed",)):
            if canonical_json(proposed["parameters"]["rule"]) != canonical_json(clean):
                await decision_step(proposed, "stale", official_id, reason="rules")


async def add_stage(official_id: int, edition_id: int, name: str) -> int:
    """Add a scoring stage just before the final one (same rubric and pool as the stage before)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 120:
        raise InvalidInput("Give the stage a name (up to 120 characters).", field="name")
    rounds = await rounds_of(edition_id)
    if not rounds:
        raise NotFoundError("We could not find that edition.")
    final = rounds[-1]
    before = [r for r in rounds if r["kind"] in SCORING_KINDS and r["id"] != final["id"]]
    model = before[-1] if before else final
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await require_undecided(
            edition_id, "The winners are approved; this stage can no longer change."
        )
        await Round.update({Round.position: final["position"] + 1}).where(Round.id == final["id"])
        stage = Round(
            edition=edition_id,
            kind="evaluation",
            name=name,
            position=final["position"],
            deadline=min(model["deadline"] + dt.timedelta(weeks=1), final["deadline"]),
            judges_per_entry=model["judges_per_entry"],
            judge_pool=list(model["judge_pool"]),
            rubric=list(model["rubric"]),
            scale_min=model["scale_min"],
            scale_max=model["scale_max"],
            advance_rule={},
            stage_state="setup",
        )
        await stage.save()
        await audit.record(
            "challenge.stage.added",
            actor_id=official_id,
            subject=f"round:{stage.id}",
            edition=edition_id,
            name=name,
            position=final["position"],
        )
    return stage.id


async def require_rubric_editable(rnd: dict[str, Any]) -> None:
    """Inside the transaction: a rubric changes only until the stage's first review is saved."""
    await _require_changeable(
        rnd, "This stage's advancement is approved; its rubric can no longer change."
    )
    if await Review.exists().where(Review.round == rnd["id"]):
        raise ConflictError(
            "A review was already saved in this stage; its rubric can no longer change.",
            field="rubric",
        )


# ---------------------------------------------------------------- advancement decisions


def decision_quotas(rule: dict[str, Any]) -> dict[str, Any]:
    """The QUOTAS.json of an advance rule: no per-organization limit, a count unless it is a cut."""
    document: dict[str, Any] = {
        "categories": dict(rule.get("categories") or {}),
        "max_per_organization": None,
    }
    if rule["mode"] != "cut":
        document["winners"] = rule["count"]
    return document


def stale_message(decision: dict[str, Any]) -> str:
    reason = decision["stale_reason"] or "rules"
    if reason == "score-sheet" and decision["parameters"].get("source") == "blend":
        return BLEND_STALE_MESSAGE
    return DECISION_STALE_MESSAGES[reason]


def blend_replay_command(parameters: dict[str, Any]) -> str:
    """``hangang challenge blend`` on the exported blend.csv with the stage's rule."""
    rule = parameters["rule"]
    command = "hangang challenge blend --sheet blend.csv"
    if rule["mode"] == "count":
        command += f" --count {rule['count']}"
    elif rule["mode"] == "cut":
        command += f" --cut {rule['cut']}"
    else:
        command += " --quotas quotas.json"
    return command + " --json"


def replay_command(parameters: dict[str, Any]) -> str:
    """The command that replays a decision from its export (scores.csv and quotas.json, or blend.csv
    and quotas.json for a stage ranked by the blend)."""
    if parameters.get("source") == "blend":
        return blend_replay_command(parameters)
    command = (
        f"hangang challenge rank scores.csv --method {parameters['method']} --quotas quotas.json "
        f"--seed {parameters['seed']} --scale {parameters['scale']}"
    )
    if parameters["rule"]["mode"] == "cut":
        command += f" --cut {parameters['rule']['cut']}"
    return command + " --json"


def blend_outcome(csv_text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The advancement on a stored blend sheet, exactly as ``hangang challenge blend`` replays it."""
    rule = parameters["rule"]
    _ranking, outcome = blend_advance.replay_csv(
        csv_text,
        parameters["quotas"] if rule["mode"] == "quotas" else None,
        count=rule["count"] if rule["mode"] == "count" else None,
        cut=float(rule["cut"]) if rule["mode"] == "cut" else None,
    )
    return outcome


def _outcome(csv_text: str, parameters: dict[str, Any]) -> dict[str, Any]:
    rule = parameters["rule"]
    if parameters.get("source") == "blend":
        return blend_outcome(csv_text, parameters)
    return rank_sheet(
        csv_text,
        method=parameters["method"],
        quotas=parameters["quotas"],
        seed=parameters["seed"],
        cut=float(rule["cut"]) if rule["mode"] == "cut" else None,
    )


async def compute_advancement(official_id: int, round_id: int, method: str = "additive") -> int:
    """Rank the stage (``stage_standings``) and propose who advances under its rule, with the reasons
    near the cut; reproducible from the stored sheet, rule and seed."""
    rnd = await _scoring_stage(round_id)
    edition = await get_edition(rnd["edition"])
    if not rnd["advance_rule"]:
        raise ConflictError("Set how many entries advance from this stage first.", field="mode")
    if method not in METHODS:
        raise InvalidInput("Choose additive, zscore or mean.", field="method")
    standings = await stage_standings(round_id, method)
    if not standings.rows:
        raise ConflictError("There are no reviews in this round yet.")
    parameters = {
        "rule": rnd["advance_rule"],
        "quotas": decision_quotas(rnd["advance_rule"]),
        "scale": standings.scale_text,
        "seed": edition["seed"],
        "method": method,
        "source": standings.source,
    }
    if standings.blend is not None:
        parameters["weights"] = standings.blend.weights.label()
        parameters["blend_seed"] = standings.blend.seed
    try:
        outcome = _outcome(standings.sheet_csv, parameters)
    except ValueError as exc:
        raise InvalidInput(
            "The advancement is not possible: %(reason)s",
            field="mode",
            reason=_reason_in_words(exc),
        ) from None
    advancing = list(outcome["winners"])
    result = {
        **outcome,
        "advancing": advancing,
        "advancing_ids": sorted(standings.entry_ids[a] for a in advancing),
        "entry_ids": standings.entry_ids,
    }
    sheet_sha = hashlib.sha256(standings.sheet_csv.encode()).hexdigest()
    async with write_transaction(lock_key=f"challenge-edition-{rnd['edition']}"):
        await _require_changeable(rnd, "This stage's advancement is already approved.")
        for earlier in await _decisions(round_id, ("proposed", "stale")):
            await decision_step(earlier, "superseded", official_id)
        decision = StageDecision(
            edition=rnd["edition"],
            round=round_id,
            method=method,
            seed=edition["seed"],
            parameters=parameters,
            result=result,
            sheet_sha256=sheet_sha,
            sheet_csv=standings.sheet_csv,
            status="proposed",
            computed_by=official_id,
            computed_at=clock.now(),
        )
        await decision.save()
        await audit.record(
            "challenge.stage.decision.computed",
            actor_id=official_id,
            subject=f"stage-decision:{decision.id}",
            round=round_id,
            rule=rnd["advance_rule"],
            seed=edition["seed"],
            sheet_sha256=sheet_sha,
            advancing=len(advancing),
        )
    return decision.id


async def decision_step(
    decision: dict[str, Any], new: str, actor_id: int | None, **details: Any
) -> None:
    """Move a decision one step (inside the caller's transaction), audited."""
    if (decision["status"], new) not in DECISION_STEPS:
        raise ConflictError("Only a proposed decision can be approved.")
    values: dict[Any, Any] = {StageDecision.status: new}
    if new == "stale":
        values[StageDecision.stale_reason] = details["reason"]
    await StageDecision.update(values).where(StageDecision.id == decision["id"])
    await audit.record(
        "challenge.stage.decision.state",
        actor_id=actor_id,
        subject=f"stage-decision:{decision['id']}",
        old=decision["status"],
        new=new,
        **details,
    )


async def decision_stale_reason(decision: dict[str, Any]) -> str:
    """Why a proposed decision no longer matches its stage ("" when it still does)."""
    rnd = await get_round(decision["round"])
    if canonical_json(rnd["advance_rule"]) != canonical_json(decision["parameters"]["rule"]):
        return "rules"
    edition = await get_edition(rnd["edition"])
    if edition["seed"] != decision["seed"]:
        return "rules"
    standings = await stage_standings(decision["round"], decision["method"])
    if hashlib.sha256(standings.sheet_csv.encode()).hexdigest() != decision["sheet_sha256"]:
        return "score-sheet"
    return ""


async def require_public_vote_acknowledged(round_id: int, message: str = ANOMALY_MESSAGE) -> None:
    """Refuse to approve a stage's advancement (or winners) with a public vote until officials
    acknowledged its anomaly report."""
    settings = await citizen_settings(round_id)
    if settings.has_public and not (await public_vote.anomaly_report(round_id)).acknowledged:
        raise ConflictError(message)


async def _before_approval(decision: dict[str, Any]) -> None:
    await require_public_vote_acknowledged(decision["round"])
    await require_undecided(decision["edition"], "The winners are already approved.")


async def _decide_stage(decision: dict[str, Any], official_id: int, _now: dt.datetime) -> None:
    await stage_step(await get_round(decision["round"]), "decided", official_id, decision=decision["id"])


async def approve_advancement(official_id: int, decision_id: int) -> bool:
    """One official's approval; the second different official decides the stage. True when final."""
    final = await approve(DECISION_APPROVAL, official_id, decision_id)
    if final:
        await feedback.store_figures(await get_decision(decision_id))  # once, after the commit: views never recompute
    return final


# ---------------------------------------------------------------- reads


async def get_decision(decision_id: int) -> dict[str, Any]:
    row = (
        await StageDecision.select()
        .output(load_json=True)
        .where(StageDecision.id == decision_id)
        .first()
    )
    if row is None:
        raise NotFoundError("We could not find that decision.")
    return row


async def _decisions(
    round_id: int, statuses: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    query = StageDecision.select().output(load_json=True).where(StageDecision.round == round_id)
    if statuses:
        query = query.where(StageDecision.status.is_in(list(statuses)))
    return await query.order_by(StageDecision.id, ascending=False)


async def decision_approvals(decision_id: int) -> list[dict[str, Any]]:
    return await approvals_in(StageDecisionApproval, StageDecisionApproval.decision, decision_id)


DECISION_APPROVAL = TwoOfficials(
    table=StageDecision,
    approval_table=StageDecisionApproval,
    approval_key=StageDecisionApproval.decision,
    subject="stage-decision",
    approved_action="challenge.stage.decision.approved",
    load=get_decision,
    stale_reason=decision_stale_reason,
    stale_message=stale_message,
    step=decision_step,
    twice_message="You already approved this decision; a second, different official must approve it.",
    not_proposed_message="Only a proposed decision can be approved.",
    approved_message="Only a proposed decision can be approved.",
    check=_before_approval,
    on_final=_decide_stage,
)


@dataclass(frozen=True)
class StageSummary:
    """One stage of an edition as the stages page lists it."""

    stage: dict[str, Any]
    entries: int
    reviews: int
    decision: dict[str, Any] | None
    approved: dict[str, Any] | None
    waiting: bool  # the previous stage's advancement is not approved yet


async def stage_overview(edition_id: int) -> list[StageSummary]:
    """Every scoring stage of an edition in order: state, rule, entries, reviews and decisions."""
    summaries = []
    for rnd in await rounds_of(edition_id):
        if rnd["kind"] not in SCORING_KINDS:
            continue
        entries = await stage_entries(rnd["id"], strict=False)
        previous = await previous_stage(rnd)
        decisions = await _decisions(rnd["id"])
        summaries.append(
            StageSummary(
                stage=rnd,
                entries=len(entries),
                reviews=await Review.count().where(Review.round == rnd["id"]),
                decision=decisions[0] if decisions else None,
                approved=await approved_decision(rnd["id"]),
                waiting=bool(
                    previous
                    and previous["advance_rule"]
                    and await approved_decision(previous["id"]) is None
                ),
            )
        )
    return summaries


@dataclass(frozen=True)
class DecisionRow:
    """One entry of a decision's ranking, under its real title."""

    entry_id: str
    entry: int
    rank: int
    score: float
    advances: bool
    title: str
    category: str


@dataclass(frozen=True)
class DecisionSheet:
    """Everything the decision page shows: ranking, borderline reasons, approvals, staleness."""

    decision: dict[str, Any]
    stage: dict[str, Any]
    edition: dict[str, Any]
    ranking: list[DecisionRow]
    borderline: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    stale_message: str
    replay: str


async def decision_sheet(decision_id: int) -> DecisionSheet:
    """A decision with its ranking and the borderline explained under real titles."""
    decision = await get_decision(decision_id)
    result = decision["result"]
    entry_ids = result["entry_ids"]
    entries = {e["id"]: e for e in await entries_of(decision["edition"])}
    advancing = set(result["advancing"])
    ranking = [
        DecisionRow(
            entry_id=r["entry_id"],
            entry=entry_ids[r["entry_id"]],
            rank=r["rank"],
            score=r["score"],
            advances=r["entry_id"] in advancing,
            title=entries[entry_ids[r["entry_id"]]]["title"],
            category=entries[entry_ids[r["entry_id"]]]["category"],
        )
        for r in result["ranking"]
    ]
    names = officials_names(decision["edition"], entry_ids, entries)
    borderline = [
        {
            **b,
            "title": entries[entry_ids[b["entry_id"]]]["title"],
            "text": named_reason(borderline_reason(b), names),
        }
        for b in result["borderline"]
    ]
    status = decision["status"]
    return DecisionSheet(
        decision=decision,
        stage=await get_round(decision["round"]),
        edition=await get_edition(decision["edition"]),
        ranking=ranking,
        borderline=borderline,
        approvals=await decision_approvals(decision_id),
        stale_message=stale_message(decision) if status == "stale" else "",
        replay=replay_command(decision["parameters"]),
    )


async def decisions_of(edition_id: int) -> list[dict[str, Any]]:
    """Every decision of an edition, newest first (all stay readable after approval)."""
    return (
        await StageDecision.select()
        .output(load_json=True)
        .where(StageDecision.edition == edition_id)
        .order_by(StageDecision.id, ascending=False)
    )
