"""Feedback to every applicant (issue #13): moderation of the judges' comments, release, and what a
startup reads about its entry in each stage.

- A judge may keep any comment from the applicant (``Review.private_comments``).
- Once a stage's advancement is approved, officials moderate every other non-empty comment: approved,
  or hidden with a reason (``challenge_feedback_moderation``, audited). When none is pending they
  release the stage's feedback (``challenge_feedback_release``); the members of every organization
  with an entry in the stage are notified (``judging/services/feedback_moderation.py``).
- A startup then reads, per released stage its entry took part in, its calibrated score per criterion
  beside the stage's mean, its rank band, its distance to the cut and the approved comments under
  "Judge A/B/C", never a judge's name (``judging/compute/feedback.py``). Anyone else gets a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judging.compute import feedback as compute
from judging.services.funnel import approved_decision
from judging.services.intake import is_member
from judging.tables import (
    Entry,
    FeedbackModeration,
    FeedbackRelease,
    Review,
    Round,
)
from portal.errors import NotFoundError

STATUSES = ("pending", "approved", "hidden", "private")
MAX_REASON = 500


# ---------------------------------------------------------------- reads shared by every view


@dataclass(frozen=True)
class Comment:
    """One judge's comment on one criterion, with its moderation."""

    review: int
    judge: int
    letter: str  # "A", "B", ... per entry; the only judge identity an applicant ever sees
    criterion: str
    text: str
    status: str  # pending | approved | hidden | private (the judge kept it from the applicant)
    reason: str

    @property
    def shown(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True)
class CriterionFeedback:
    key: str
    name: dict[str, str]  # {"ko": ..., "en": ...} from the stage's rubric
    score: float | None  # the entry's calibrated score on this criterion
    stage_mean: float | None
    comments: list[Comment]


@dataclass(frozen=True)
class StageFeedback:
    """One entry's feedback in one stage, as the applicant reads it (plus moderation for officials)."""

    stage: dict[str, Any]
    entry: int
    title: str
    score: float
    rank: int
    ranked: int
    band: str
    advanced: bool
    cut: float | None
    distance: float | None
    criteria: list[CriterionFeedback]

    @property
    def scale(self) -> tuple[int, int]:
        return (self.stage["scale_min"], self.stage["scale_max"])


async def reviews_of(round_id: int) -> list[dict[str, Any]]:
    return (
        await Review.select()
        .output(load_json=True)
        .where(Review.round == round_id)
        .order_by(Review.id)
    )


async def _moderations(round_id: int) -> dict[tuple[int, str], dict[str, Any]]:
    rows = await FeedbackModeration.select().where(FeedbackModeration.review.round == round_id)
    return {(r["review"], r["criterion"]): r for r in rows}


def _status(review: dict[str, Any], key: str, moderation: dict[str, Any] | None) -> str:
    if key in (review.get("private_comments") or []):
        return "private"
    return moderation["status"] if moderation else "pending"


async def _letters(edition_id: int, entry_ids: list[int]) -> dict[int, dict[int, str]]:
    """Per entry, each judge's letter in the order of their first review of it (every stage)."""
    wanted = set(entry_ids)
    query = Review.select(Review.entry, Review.judge, Review.round.position.as_alias("position"))
    if len(wanted) == 1:
        query = query.where(Review.entry == next(iter(wanted)))
    else:
        query = query.where(Review.round.edition == edition_id)
    order: dict[int, list[int]] = {}
    for row in sorted(await query.order_by(Review.id), key=lambda r: r["position"]):
        if row["entry"] in wanted:  # stable sort: review id order within a stage
            order.setdefault(row["entry"], []).append(row["judge"])
    return {entry: compute.judge_letters(judges) for entry, judges in order.items()}


async def stage_feedback(
    rnd: dict[str, Any], entry_ids: list[int] | None = None
) -> list[StageFeedback]:
    """Every (or the given) ranked entry's feedback in a stage with an approved decision."""
    decision = await approved_decision(rnd["id"])
    if decision is None:
        return []
    result = decision["result"]
    ids: dict[str, int] = result["entry_ids"]
    ranking = [r for r in result["ranking"] if entry_ids is None or ids[r["entry_id"]] in entry_ids]
    if not ranking:
        return []
    advancing = set(result["advancing"])
    scores = {r["entry_id"]: r["score"] for r in result["ranking"]}
    advancing_scores = [scores[a] for a in advancing if a in scores]
    reviews = await reviews_of(rnd["id"])
    keys = [c["key"] for c in rnd["rubric"]]
    per_entry, means = compute.criterion_scores(
        [(r["entry"], r["judge"], r["scores"]) for r in reviews], keys, decision["method"]
    )
    wanted = [ids[r["entry_id"]] for r in ranking]
    letters = await _letters(rnd["edition"], wanted)
    moderations = await _moderations(rnd["id"])
    titles = {
        e["id"]: e["title"]
        for e in await Entry.select(Entry.id, Entry.title).where(Entry.edition == rnd["edition"])
    }
    by_entry: dict[int, list[dict[str, Any]]] = {}
    for review in reviews:
        by_entry.setdefault(review["entry"], []).append(review)
    out = []
    for row in ranking:
        entry = ids[row["entry_id"]]
        mine = by_entry.get(entry, [])
        distance = compute.cut_distance(
            row["score"],
            row["entry_id"] in advancing,
            advancing_scores,
            decision["parameters"]["rule"],
        )
        criteria = []
        for c in rnd["rubric"]:
            comments = [
                Comment(
                    review=r["id"],
                    judge=r["judge"],
                    letter=letters[entry][r["judge"]],
                    criterion=c["key"],
                    text=(r["comments"] or {}).get(c["key"], ""),
                    status=_status(r, c["key"], moderations.get((r["id"], c["key"]))),
                    reason=(moderations.get((r["id"], c["key"])) or {}).get("reason", ""),
                )
                for r in mine
                if (r["comments"] or {}).get(c["key"])
            ]
            criteria.append(
                CriterionFeedback(
                    key=c["key"],
                    name=c["name"],
                    score=per_entry.get(entry, {}).get(c["key"]),
                    stage_mean=means.get(c["key"]),
                    comments=sorted(comments, key=lambda x: x.letter),
                )
            )
        out.append(
            StageFeedback(
                stage=rnd,
                entry=entry,
                title=titles.get(entry, ""),
                score=round(row["score"], 2) + 0.0,
                rank=row["rank"],
                ranked=len(result["ranking"]),
                band=compute.rank_band(row["rank"], len(result["ranking"])),
                advanced=distance.advanced,
                cut=distance.cut,
                distance=distance.distance,
                criteria=criteria,
            )
        )
    return out


async def release_of(round_id: int) -> dict[str, Any] | None:
    return await FeedbackRelease.select().where(FeedbackRelease.round == round_id).first()


# ---------------------------------------------------------------- the applicant's view


@dataclass(frozen=True)
class EntryFeedback:
    entry: dict[str, Any]
    stages: list[StageFeedback]  # released stages the entry was ranked in, in stage order
    waiting: list[dict[str, Any]]  # stages it took part in whose feedback is not released yet


async def entry_feedback(user_id: int | None, entry_id: int) -> EntryFeedback:
    """An entry's released feedback for a member of its organization; 404 for anyone else."""
    entry = (
        await Entry.select(Entry.id, Entry.title, Entry.organization, Entry.edition)
        .where(Entry.id == entry_id)
        .first()
    )
    if entry is None or user_id is None or not await is_member(user_id, entry["organization"]):
        raise NotFoundError("We could not find that page.")
    took_part = {
        r["round"] for r in await Review.select(Review.round).where(Review.entry == entry_id)
    }
    rounds = (
        await Round.select()
        .output(load_json=True)
        .where(Round.id.is_in(sorted(took_part)))
        .order_by(Round.position)
        if took_part
        else []
    )
    shown, waiting = [], []
    for rnd in rounds:
        mine = await stage_feedback(rnd, [entry_id]) if await release_of(rnd["id"]) else []
        if mine:
            shown.append(_applicant_view(mine[0]))
        else:
            waiting.append(rnd)
    return EntryFeedback(entry=entry, stages=shown, waiting=waiting)


def _applicant_view(item: StageFeedback) -> StageFeedback:
    """The same feedback with only the approved comments (hidden, private and pending ones dropped)."""
    criteria = [
        CriterionFeedback(
            key=c.key,
            name=c.name,
            score=c.score,
            stage_mean=c.stage_mean,
            comments=[x for x in c.comments if x.shown],
        )
        for c in item.criteria
    ]
    return StageFeedback(**{**item.__dict__, "criteria": criteria})
