"""``/api/v1/challenge``: an entry's feedback for its organization, and a decided stage's reviews and
comments for officials, over the services of the feedback pages."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from judging.categories import challenge_label
from judging.compute.feedback import LABELS
from judging.schemas import (
    CriterionFeedbackRead,
    EntryFeedbackRead,
    EntryReviewsRead,
    FeedbackCommentRead,
    ModeratedCommentRead,
    OfficialReviewRead,
    QueryLimit,
    QueryOffset,
    RowId,
    StageFeedbackRead,
    StageRef,
    StageReviewsRead,
)
from judging.services import feedback, feedback_moderation
from portal import i18n
from portal.auth import requires_official, requires_startup
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user


def stage_name(rnd: dict[str, Any]) -> str:
    return rnd["name"] or challenge_label(rnd["kind"])


def _in_my_language(name: dict[str, str]) -> str:
    return name.get(i18n.current_language.get()) or name.get("en", "")


def stage_feedback_read(item: feedback.StageFeedback) -> StageFeedbackRead:
    return StageFeedbackRead(
        round_id=item.stage["id"],
        stage=stage_name(item.stage),
        scale_min=item.scale[0],
        scale_max=item.scale[1],
        score=item.score,
        rank=item.rank,
        ranked=item.ranked,
        band=item.band,
        band_label=i18n.translate(LABELS[item.band]),
        advanced=item.advanced,
        cut=item.cut,
        distance=item.distance,
        criteria=[
            CriterionFeedbackRead(
                key=c.key,
                name=_in_my_language(c.name),
                score=c.score,
                stage_mean=c.stage_mean,
                comments=[FeedbackCommentRead(judge=x.letter, text=x.text) for x in c.comments],
            )
            for c in item.criteria
        ],
    )


def entry_reviews_read(item: feedback_moderation.EntryReviews) -> EntryReviewsRead:
    f = item.feedback
    return EntryReviewsRead(
        entry_id=f.entry,
        title=f.title,
        score=f.score,
        rank=f.rank,
        band=f.band,
        advanced=f.advanced,
        distance=f.distance,
        reviews=[
            OfficialReviewRead(
                review_id=r.review,
                judge_id=r.judge,
                judge_name=r.judge_name,
                judge=r.letter,
                scores=r.scores,
                total=r.total,
                confidence=r.confidence,
            )
            for r in item.reviews
        ],
        comments=[
            ModeratedCommentRead(
                review_id=c.review,
                judge_id=c.judge,
                judge=c.letter,
                criterion=c.criterion,
                text=c.text,
                status=c.status,
                reason=c.reason,
                shown=c.shown,
            )
            for k in f.criteria
            for c in k.comments
        ],
    )


class StartupFeedbackApi(Controller):
    """An entry's released feedback, for the members of its organization only."""

    path = "/api/v1/challenge/entries"
    tags = ["challenge"]
    guards = [requires_startup]

    @get("/{entry_id:int}/feedback", responses=ERRORS)
    async def entry_feedback(self, request: Request, entry_id: RowId) -> EntryFeedbackRead:
        """Per stage whose decision is approved and feedback released: calibrated scores per criterion,
        the stage's means, rank band, distance to the cut and the approved comments (judges by letter).
        404 for anyone outside the entry's organization."""
        view = await feedback.entry_feedback(signed_in_user(request).id, entry_id)
        return EntryFeedbackRead(
            entry_id=view.entry["id"],
            title=view.entry["title"],
            stages=[stage_feedback_read(s) for s in view.stages],
            waiting=[StageRef(round_id=r["id"], stage=stage_name(r)) for r in view.waiting],
        )


class OfficialFeedbackApi(Controller):
    """A decided stage's reviews and comments with their moderation, for officials."""

    path = "/api/v1/challenge/officials/rounds"
    tags = ["challenge"]
    guards = [requires_official]

    @get("/{round_id:int}/feedback", responses=ERRORS)
    async def stage_reviews(
        self, round_id: RowId, offset: QueryOffset = 0, limit: QueryLimit = 100
    ) -> StageReviewsRead:
        """Entries in rank order with every review (judges by name) and every comment with its
        moderation; empty until the stage's advancement is approved."""
        view = await feedback_moderation.stage_reviews(round_id, offset, limit)
        return StageReviewsRead(
            round_id=round_id,
            released=view.released,
            total=view.total,
            offset=offset,
            entries=[entry_reviews_read(e) for e in view.entries],
        )
