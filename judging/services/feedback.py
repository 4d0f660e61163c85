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

from dataclasses import asdict, dataclass, fields
from typing import Any

from judging.compute import feedback as compute
from judging.services.funnel import approved_decision
from judging.services.intake import is_member
from judging.tables import (
    Entry,
    FeedbackFigures,
    FeedbackModeration,
    FeedbackRelease,
    Review,
    Round,
)
from portal import clock
from portal.db import write_transaction
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
class StageFeedback(compute.Standing):
    """One entry's feedback in one stage, as the applicant reads it (plus moderation for officials)."""

    stage: dict[str, Any]
    entry: int
    title: str
    criteria: list[CriterionFeedback]

    @property
    def scale(self) -> tuple[int, int]:
        return (self.stage["scale_min"], self.stage["scale_max"])


async def reviews_of(round_id: int, entry_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """A stage's reviews (only the given entries' when ``entry_ids`` is set), in review order."""
    query = Review.select().output(load_json=True).where(Review.round == round_id)
    if entry_ids is not None:
        query = query.where(Review.entry.is_in(entry_ids or [0]))
    return await query.order_by(Review.id)


async def _moderations(
    round_id: int, review_ids: list[int] | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    query = FeedbackModeration.select().where(FeedbackModeration.review.round == round_id)
    if review_ids is not None:
        query = query.where(FeedbackModeration.review.is_in(review_ids or [0]))
    return {(r["review"], r["criterion"]): r for r in await query}


def _status(review: dict[str, Any], key: str, moderation: dict[str, Any] | None) -> str:
    if key in (review.get("private_comments") or []):
        return "private"
    return moderation["status"] if moderation else "pending"


async def letters_of(edition_id: int, entry_ids: list[int]) -> dict[int, dict[int, str]]:
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


# ---------------------------------------------------------------- figures: computed once, at approval

FIGURES_BATCH = 300  # rows per INSERT (SQLite's limit on bound variables)


def _figures_document(item: compute.EntryFigures, means: dict[str, float]) -> dict[str, Any]:
    return {**asdict(item), "stage_means": means}


async def compute_figures(
    rnd: dict[str, Any], decision: dict[str, Any]
) -> dict[int, dict[str, Any]]:
    """Every ranked entry's figures from a decision and the stage's reviews (reads only)."""
    reviews = await Review.select(Review.entry, Review.judge, Review.scores).output(
        load_json=True
    ).where(Review.round == rnd["id"])
    figures, means = compute.stage_figures(
        decision["result"],
        decision["parameters"]["rule"],
        decision["method"],
        [(r["entry"], r["judge"], r["scores"]) for r in reviews],
        [c["key"] for c in rnd["rubric"]],
    )
    return {entry: _figures_document(item, means) for entry, item in figures.items()}


async def store_figures(decision: dict[str, Any]) -> int:
    """Right after a stage's final approval: compute every ranked entry's figures once and store them,
    so that no view calibrates again. Returns how many rows were written (0 when already stored).

    The calibration runs outside any transaction (the approved stage's reviews no longer change), so
    the write lock is held only for the inserts; a crash before they commit leaves the stage read on
    the fly (``figures_of``) until ``ensure_figures`` (the feedback's release) stores them."""
    round_id = decision["round"]
    if await FeedbackFigures.exists().where(FeedbackFigures.round == round_id):
        return 0
    rnd = await Round.select().output(load_json=True).where(Round.id == round_id).first()
    documents = await compute_figures(rnd, decision)
    now = clock.now()
    rows = [
        FeedbackFigures(round=round_id, entry=entry, figures=document, computed_at=now)
        for entry, document in documents.items()
    ]
    async with write_transaction(lock_key=f"challenge-feedback-figures-{round_id}"):
        if await FeedbackFigures.exists().where(FeedbackFigures.round == round_id):
            return 0
        for start in range(0, len(rows), FIGURES_BATCH):
            await FeedbackFigures.insert(*rows[start : start + FIGURES_BATCH])
    return len(rows)


async def ensure_figures(round_id: int) -> None:
    """Store a decided stage's figures if they are not stored yet (an official's write path)."""
    if await FeedbackFigures.exists().where(FeedbackFigures.round == round_id):
        return
    decision = await approved_decision(round_id)
    if decision is not None:
        await store_figures(decision)


async def stored_figures(
    round_id: int, entry_ids: list[int] | None = None
) -> dict[int, dict[str, Any]] | None:
    """The stored figures of a stage (only the given entries' when set); None if none were stored."""
    query = FeedbackFigures.select(FeedbackFigures.entry, FeedbackFigures.figures).output(
        load_json=True
    ).where(FeedbackFigures.round == round_id)
    if entry_ids is not None:
        query = query.where(FeedbackFigures.entry.is_in(entry_ids or [0]))
    rows = await query
    if rows:
        return {r["entry"]: r["figures"] for r in rows}
    if await FeedbackFigures.exists().where(FeedbackFigures.round == round_id):
        return {}
    return None


async def figures_of(
    rnd: dict[str, Any], entry_ids: list[int] | None = None
) -> dict[int, dict[str, Any]]:
    """The figures of a stage with an approved decision ({} before approval).

    Stages approved before figures were stored (an older database) are computed on the fly, without
    writing: a read never writes."""
    stored = await stored_figures(rnd["id"], entry_ids)
    if stored is not None:
        return stored
    decision = await approved_decision(rnd["id"])
    if decision is None:
        return {}
    computed = await compute_figures(rnd, decision)
    return {e: f for e, f in computed.items() if entry_ids is None or e in entry_ids}


def _comments(
    review_rows: list[dict[str, Any]],
    key: str,
    letters: dict[int, str],
    moderations: dict[tuple[int, str], dict[str, Any]],
) -> list[Comment]:
    comments = [
        Comment(
            review=r["id"],
            judge=r["judge"],
            letter=letters[r["judge"]],
            criterion=key,
            text=(r["comments"] or {}).get(key, ""),
            status=_status(r, key, moderations.get((r["id"], key))),
            reason=(moderations.get((r["id"], key)) or {}).get("reason", ""),
        )
        for r in review_rows
        if (r["comments"] or {}).get(key)
    ]
    return sorted(comments, key=lambda x: x.letter)


async def stage_feedback(
    rnd: dict[str, Any], entry_ids: list[int] | None = None
) -> list[StageFeedback]:
    """Every (or the given) ranked entry's feedback in a stage with an approved decision."""
    figures = await figures_of(rnd, entry_ids)
    if not figures:
        return []
    wanted = sorted(figures, key=lambda e: figures[e]["position"])
    reviews = await reviews_of(rnd["id"], None if entry_ids is None else wanted)
    letters = await letters_of(rnd["edition"], wanted)
    moderations = await _moderations(
        rnd["id"], None if entry_ids is None else [r["id"] for r in reviews]
    )
    titles = {
        e["id"]: e["title"]
        for e in await Entry.select(Entry.id, Entry.title).where(
            Entry.edition == rnd["edition"]
            if entry_ids is None
            else Entry.id.is_in(wanted)
        )
    }
    by_entry: dict[int, list[dict[str, Any]]] = {}
    for review in reviews:
        by_entry.setdefault(review["entry"], []).append(review)
    out = []
    for entry in wanted:
        item = figures[entry]
        criteria = [
            CriterionFeedback(
                key=c["key"],
                name=c["name"],
                score=item["criteria"].get(c["key"]),
                stage_mean=item["stage_means"].get(c["key"]),
                comments=_comments(
                    by_entry.get(entry, []), c["key"], letters.get(entry, {}), moderations
                ),
            )
            for c in rnd["rubric"]
        ]
        out.append(
            StageFeedback(
                stage=rnd,
                entry=entry,
                title=titles.get(entry, ""),
                criteria=criteria,
                **{f.name: item[f.name] for f in fields(compute.Standing)},
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
