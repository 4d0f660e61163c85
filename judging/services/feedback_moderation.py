"""Officials' moderation of the judges' comments for the applicants, and the release of a stage's
feedback (see ``judging/services/feedback.py`` for what the applicant reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judging.services.editions import get_edition, get_round
from judging.services.feedback import (
    MAX_REASON,
    STATUSES,
    Comment,
    StageFeedback,
    ensure_figures,
    figures_of,
    letters_of,
    release_of,
    reviews_of,
    stage_feedback,
)
from judging.services.funnel import approved_decision
from judging.tables import Entry, FeedbackModeration, FeedbackRelease, OrganizationMember, Review
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError
from portal.errors import InvalidInput, NotFoundError
from portal.tables import User

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
    rows: list[ModerationRow]  # at most MAX_ROWS of the matching comments
    matching: int  # how many comments match the filter
    counts: dict[str, int]
    feedback: list[StageFeedback]


MAX_ROWS = 500  # a large stage is read by filter (status, entry or judge) or in the export
SORTS = ("rank", "entry", "judge", "status")


async def moderation_page(
    round_id: int, status: str = "", search: str = "", sort: str = "rank"
) -> ModerationPage:
    """Every entry's reviews and comments in a stage, filtered by status and entry title or judge."""
    rnd = await get_round(round_id)
    if rnd["kind"] == "screening":
        raise NotFoundError("We could not find that stage.")
    feedback = await stage_feedback(rnd)
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
        rows=rows[:MAX_ROWS],
        matching=len(rows),
        counts=counts,
        feedback=feedback,
    )


@dataclass(frozen=True)
class JudgeReviewRow:
    """One judge's review of an entry, for officials (judges by name)."""

    review: int
    judge: int
    judge_name: str
    letter: str
    scores: dict[str, int]
    total: float
    confidence: int


@dataclass(frozen=True)
class EntryReviews:
    feedback: StageFeedback
    reviews: list[JudgeReviewRow]


@dataclass(frozen=True)
class StageReviews:
    """Every entry's reviews and comments in a decided stage, in rank order, one slice at a time."""

    stage: dict[str, Any]
    released: bool
    total: int  # ranked entries in the stage (0 before its advancement is approved)
    entries: list[EntryReviews]


async def stage_reviews(round_id: int, offset: int = 0, limit: int = 100) -> StageReviews:
    """Officials: the entries ranked ``offset``.. ``offset + limit`` with their reviews and comments."""
    rnd = await get_round(round_id)
    if rnd["kind"] == "screening":
        raise NotFoundError("We could not find that stage.")
    figures = await figures_of(rnd)
    wanted = sorted(figures, key=lambda e: figures[e]["position"])[offset : offset + limit]
    feedback = await stage_feedback(rnd, wanted) if wanted else []
    reviews = await reviews_of(round_id, wanted) if wanted else []
    names = await _judge_names([r["judge"] for r in reviews])
    letters = await letters_of(rnd["edition"], wanted)
    by_entry: dict[int, list[dict[str, Any]]] = {}
    for review in reviews:
        by_entry.setdefault(review["entry"], []).append(review)
    entries = []
    for item in feedback:
        rows = [
            JudgeReviewRow(
                review=r["id"],
                judge=r["judge"],
                judge_name=names.get(r["judge"], ("", ""))[0],
                letter=letters.get(item.entry, {}).get(r["judge"], ""),
                scores=r["scores"],
                total=r["total_centi"] / 100,
                confidence=r["confidence"],
            )
            for r in by_entry.get(item.entry, [])
        ]
        entries.append(EntryReviews(feedback=item, reviews=rows))
    return StageReviews(
        stage=rnd,
        released=await release_of(round_id) is not None,
        total=len(figures),
        entries=entries,
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
            for f in await stage_feedback(rnd)
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
    await ensure_figures(round_id)  # what the applicants read is stored before they are told
    async with write_transaction(lock_key=f"challenge-feedback-{round_id}"):
        if await release_of(round_id):
            raise ConflictError("This stage's feedback is already released.")
        feedback = await stage_feedback(rnd)
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
    reviews = [r for r in await reviews_of(round_id) if r["entry"] in set(entry_ids)]
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
