"""``/api/v1/challenge``: a judge's assignments and reviews, and round progress for officials."""

from __future__ import annotations

from litestar import Controller, Request, get, put
from litestar.params import FromQuery, JSONBody

from judging.schemas import (
    AssignmentRead,
    BlindEntryRead,
    JudgeProgressRead,
    ReviewRead,
    ReviewWrite,
    RowId,
)
from judging.services import assignment, editions, reviews
from portal.auth import requires_judge, requires_official
from portal.errors import InvalidInput, NotFoundError
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user


def review_read(review: reviews.JudgeReview) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        round_id=review.round,
        entry_id=review.entry,
        scores=review.scores,
        comments=review.comments,
        confidence=review.confidence,
        total=review.total_centi / 100,
        updated_at=review.updated_at,
        private_comments=review.private_comments,
    )


class JudgeApi(Controller):
    """A judge's assignments and reviews as JSON."""

    path = "/api/v1/challenge"
    tags = ["challenge"]
    guards = [requires_judge]

    @get("/assignments", responses=ERRORS)
    async def assignments(self, request: Request) -> list[AssignmentRead]:
        """My assignments (never a conflicted entry)."""
        return [
            AssignmentRead(
                round_id=r.round,
                round_kind=r.round_kind,
                entry_id=r.entry,
                title=r.title,
                category=r.category,
                deadline=r.deadline,
                reviewed=r.reviewed,
                open=r.open,
                total=r.total,
            )
            for r in await reviews.judge_assignments(signed_in_user(request).id)
        ]

    @get("/rounds/{round_id:int}/entries/{entry_id:int}", responses=ERRORS)
    async def entry(self, request: Request, round_id: RowId, entry_id: RowId) -> BlindEntryRead:
        """An assigned entry, blind (404 when not assigned or conflicted)."""
        return await reviews.entry_for_judge(signed_in_user(request).id, round_id, entry_id)

    @get("/rounds/{round_id:int}/entries/{entry_id:int}/review", responses=ERRORS)
    async def read_review(self, request: Request, round_id: RowId, entry_id: RowId) -> ReviewRead:
        me = signed_in_user(request).id
        await reviews.entry_for_judge(me, round_id, entry_id)
        row = await reviews.my_review(me, round_id, entry_id)
        if row is None:
            raise NotFoundError("You have not reviewed this entry yet.")
        return review_read(row)

    @put("/rounds/{round_id:int}/entries/{entry_id:int}/review", responses=ERRORS)
    async def write_review(
        self,
        request: Request,
        round_id: RowId,
        entry_id: RowId,
        data: JSONBody[ReviewWrite],
    ) -> ReviewRead:
        """Score every criterion on the stage's scale (1-10 unless its rubric sets another) with optional
        comments and a confidence 1-5; locked after the deadline or once the stage is decided."""
        me = signed_in_user(request).id
        await reviews.save_review(
            me,
            round_id,
            entry_id,
            dict(data.scores),
            dict(data.comments),
            data.confidence,
            private_comments=data.private_comments,
        )
        row = await reviews.my_review(me, round_id, entry_id)
        assert row is not None
        return review_read(row)


class OfficialChallengeApi(Controller):
    """Round progress for officials, as JSON."""

    path = "/api/v1/challenge/officials"
    tags = ["challenge"]
    guards = [requires_official]

    @get("/rounds/{round_id:int}/progress", responses=ERRORS)
    async def progress(
        self, round_id: RowId, sort: FromQuery[str | None] = None
    ) -> list[JudgeProgressRead]:
        """Per-judge progress and missing reviews."""
        await editions.get_round(round_id)
        rows = [
            JudgeProgressRead(
                judge_id=r.judge,
                email=r.email,
                assigned=r.assigned,
                reviewed=r.reviewed,
                missing_entry_ids=[m["entry"] for m in r.missing],
            )
            for r in await assignment.round_progress(round_id)
        ]
        if sort not in (None, "email", "missing"):
            raise InvalidInput("Sort by email or missing.", field="sort")
        if sort == "email":
            rows.sort(key=lambda r: r.email)
        elif sort == "missing":
            # Most missing reviews first: the judges to chase.
            rows.sort(key=lambda r: (-len(r.missing_entry_ids), r.email))
        return rows


