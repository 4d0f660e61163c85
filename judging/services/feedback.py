"""Feedback to every applicant (issue #13): moderation of the judges' comments, release, and what a
startup reads about its entry in each stage.

- A judge may keep any comment from the applicant (``Review.private_comments``).
- Once a stage's advancement is approved, officials moderate every other non-empty comment: approved,
  or hidden with a reason (``challenge_feedback_moderation``, audited). When none is pending they
  release the stage's feedback (``challenge_feedback_release``); the members of every organization
  with an entry in the stage are notified.
- A startup then reads, per released stage its entry took part in, its calibrated score per criterion
  beside the stage's mean, its rank band, its distance to the cut and the approved comments under
  "Judge A/B/C", never a judge's name (``judging/compute/feedback.py``). Anyone else gets a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judging.compute import feedback as compute
from judging.services.editions import get_edition, get_round
from judging.services.funnel import approved_decision
from judging.services.intake import is_member
from judging.tables import (
    Entry,
    FeedbackModeration,
    FeedbackRelease,
    OrganizationMember,
    Review,
    Round,
)
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError
from portal.tables import User

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


async def _reviews(round_id: int) -> list[dict[str, Any]]:
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


async def _stage_feedback(
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
    reviews = await _reviews(rnd["id"])
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
        mine = await _stage_feedback(rnd, [entry_id]) if await release_of(rnd["id"]) else []
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


# ---------------------------------------------------------------- the officials' moderation


@dataclass(frozen=True)
class ModerationRow:
    """One comment on the officials' page: entry, judge (by name) and its moderation."""

    entry: int
    title: str
    rank: int
    judge_name: str
    judge_email: str
    criterion: str
    criterion_name: dict[str, str]
    comment: Comment


@dataclass(frozen=True)
class ModerationPage:
    stage: dict[str, Any]
    decided: bool
    released: dict[str, Any] | None
    rows: list[ModerationRow]
    counts: dict[str, int]
    feedback: list[StageFeedback]


SORTS = ("rank", "entry", "judge", "status")


async def moderation_page(
    round_id: int, status: str = "", search: str = "", sort: str = "rank"
) -> ModerationPage:
    """Every entry's reviews and comments in a stage, filtered by status and entry title or judge."""
    rnd = await get_round(round_id)
    if rnd["kind"] == "screening":
        raise NotFoundError("We could not find that stage.")
    feedback = await _stage_feedback(rnd)
    judges = await _judge_names([c.judge for f in feedback for k in f.criteria for c in k.comments])
    rows = [
        ModerationRow(
            entry=f.entry,
            title=f.title,
            rank=f.rank,
            judge_name=judges.get(c.judge, ("", ""))[0],
            judge_email=judges.get(c.judge, ("", ""))[1],
            criterion=k.key,
            criterion_name=k.name,
            comment=c,
        )
        for f in feedback
        for k in f.criteria
        for c in k.comments
    ]
    counts = {s: sum(1 for r in rows if r.comment.status == s) for s in STATUSES}
    needle = search.strip().casefold()
    if status in STATUSES:
        rows = [r for r in rows if r.comment.status == status]
    if needle:
        rows = [r for r in rows if needle in f"{r.title} {r.judge_name} {r.judge_email}".casefold()]
    keys = {
        "rank": lambda r: (r.rank, r.comment.letter),
        "entry": lambda r: (r.title.casefold(), r.entry, r.comment.letter),
        "judge": lambda r: (r.judge_name.casefold(), r.rank),
        "status": lambda r: (STATUSES.index(r.comment.status), r.rank),
    }
    rows.sort(key=keys.get(sort, keys["rank"]))
    return ModerationPage(
        stage=rnd,
        decided=bool(feedback),
        released=await release_of(round_id),
        rows=rows,
        counts=counts,
        feedback=feedback,
    )


async def _judge_names(ids: list[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = await User.select(User.id, User.display_name, User.email).where(
        User.id.is_in(sorted(set(ids)))
    )
    return {r["id"]: (r["display_name"], r["email"]) for r in rows}


async def _require_decided(round_id: int) -> dict[str, Any]:
    rnd = await get_round(round_id)
    if rnd["kind"] == "screening":
        raise NotFoundError("We could not find that stage.")
    if await approved_decision(round_id) is None:
        raise ConflictError(
            "Comments are moderated once two officials have approved the stage's advancement."
        )
    return rnd


async def moderate_comment(
    official_id: int, review_id: int, criterion: str, status: str, reason: str = ""
) -> None:
    """Approve a comment for the applicant, or hide it with a reason; audited with the old verdict."""
    review = await Review.select().output(load_json=True).where(Review.id == review_id).first()
    if review is None or not (review["comments"] or {}).get(criterion):
        raise NotFoundError("We could not find that comment.")
    if criterion in (review["private_comments"] or []):
        raise ConflictError("The judge kept this comment from the applicant.")
    if status not in ("approved", "hidden"):
        raise InvalidInput("Approve or hide the comment.", field="status")
    reason = (reason or "").strip()
    if status == "hidden" and not reason:
        raise InvalidInput("Say why the comment is hidden.", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            "Keep this under %(limit)s characters.", field="reason", limit=MAX_REASON
        )
    await _require_decided(review["round"])
    async with write_transaction(lock_key=f"challenge-feedback-{review['round']}"):
        await _set_verdict(
            official_id, review_id, criterion, status, reason if status == "hidden" else ""
        )


async def _set_verdict(
    official_id: int, review_id: int, criterion: str, status: str, reason: str
) -> None:
    """Write one verdict (inside the caller's transaction), audited."""
    old = (
        await FeedbackModeration.select()
        .where(
            (FeedbackModeration.review == review_id) & (FeedbackModeration.criterion == criterion)
        )
        .first()
    )
    values = {
        "status": status,
        "reason": reason,
        "moderated_by": official_id,
        "moderated_at": clock.now(),
    }
    if old is None:
        await FeedbackModeration.insert(
            FeedbackModeration(review=review_id, criterion=criterion, **values)
        )
    else:
        await FeedbackModeration.update(values).where(FeedbackModeration.id == old["id"])
    await audit.record(
        "challenge.feedback.moderated",
        actor_id=official_id,
        subject=f"review:{review_id}",
        criterion=criterion,
        old=old["status"] if old else "pending",
        new=status,
        reason=reason,
    )


async def approve_remaining(official_id: int, round_id: int) -> int:
    """Approve every pending comment of the stage at once; returns how many."""
    rnd = await _require_decided(round_id)
    async with write_transaction(lock_key=f"challenge-feedback-{round_id}"):
        pending = [
            c
            for f in await _stage_feedback(rnd)
            for k in f.criteria
            for c in k.comments
            if c.status == "pending"
        ]
        for c in pending:
            await _set_verdict(official_id, c.review, c.criterion, "approved", "")
        await audit.record(
            "challenge.feedback.approved-remaining",
            actor_id=official_id,
            subject=f"round:{round_id}",
            count=len(pending),
        )
    return len(pending)


async def release_feedback(official_id: int, round_id: int) -> int:
    """Release the stage's feedback once no comment is pending; notify every applicant organization's
    members. Returns how many entries have feedback."""
    rnd = await _require_decided(round_id)
    async with write_transaction(lock_key=f"challenge-feedback-{round_id}"):
        if await release_of(round_id):
            raise ConflictError("This stage's feedback is already released.")
        feedback = await _stage_feedback(rnd)
        if any(c.status == "pending" for f in feedback for k in f.criteria for c in k.comments):
            raise ConflictError("Approve or hide every comment before releasing the feedback.")
        await FeedbackRelease.insert(
            FeedbackRelease(round=round_id, released_by=official_id, released_at=clock.now())
        )
        await audit.record(
            "challenge.feedback.released",
            actor_id=official_id,
            subject=f"round:{round_id}",
            entries=len(feedback),
        )
        await _notify(rnd, [f.entry for f in feedback])
    return len(feedback)


async def _notify(rnd: dict[str, Any], entry_ids: list[int]) -> None:
    edition = await get_edition(rnd["edition"])
    entries = (
        await Entry.select(Entry.id, Entry.title, Entry.organization).where(
            Entry.id.is_in(entry_ids)
        )
        if entry_ids
        else []
    )
    for entry in entries:
        members = await OrganizationMember.select(OrganizationMember.user).where(
            OrganizationMember.organization == entry["organization"]
        )
        for member in members:
            await accounts.notify(
                member["user"],
                'The judges\' feedback on "%(title)s" in %(stage)s is ready.',
                f"/challenge/entries/{entry['id']}/feedback",
                title=entry["title"],
                stage=rnd["name"] or edition["name"],
            )


# ---------------------------------------------------------------- demo

DEMO_COMMENTS = (
    "문제 정의가 명확하고 개인정보 보호 계획이 구체적입니다.",
    "The pilot plan is realistic; show more evidence from the people who will use it.",
    "수익 구조와 확산 계획을 더 자세히 설명해 주세요.",
    "Strong technical team; the data sources need a clearer licence.",
)


async def demo_feedback(
    official_id: int, second_id: int, round_id: int, entry_ids: list[int]
) -> None:
    """Demo: comments on a few entries' reviews (one kept private, one hidden), then the release."""
    reviews = [r for r in await _reviews(round_id) if r["entry"] in set(entry_ids)]
    async with write_transaction():
        for i, review in enumerate(reviews):
            keys = list(review["scores"])
            comments = {k: DEMO_COMMENTS[(i + j) % len(DEMO_COMMENTS)] for j, k in enumerate(keys)}
            await Review.update(
                {Review.comments: comments, Review.private_comments: keys[-1:] if i == 0 else []}
            ).where(Review.id == review["id"])
    if len(reviews) > 1:
        last = reviews[-1]
        await moderate_comment(
            official_id, last["id"], list(last["scores"])[0], "hidden", "심사와 관련 없는 내용"
        )
    await approve_remaining(second_id, round_id)
    await release_feedback(official_id, round_id)
