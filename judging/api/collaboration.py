"""``/api/v1/challenge``: judges' bids on a round's entries and their discussion of an entry, over the
services the bid page and the review page use (same rules, same messages)."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from judging.schemas import (
    BidEntryRead,
    BidListRead,
    BidWrite,
    DiscussionMessageRead,
    DiscussionMessageWrite,
    DiscussionRead,
    PeerReviewRead,
    QueryLimit,
    QueryOffset,
    RowId,
)
from judging.services import bids, discussion
from portal.auth import requires_judge
from portal.errors import NotAllowed
from portal.web.openapi import ERRORS
from portal.web.pages import signed_in_user


def bid_read(row: bids.BidRow) -> BidEntryRead:
    return BidEntryRead(
        entry_id=row.entry, title=row.title, category=row.category, summary=row.summary, bid=row.bid
    )


async def discussion_read(judge_id: int, round_id: int, entry_id: int) -> DiscussionRead:
    thread = await discussion.discussion_for(judge_id, round_id, entry_id)
    if thread is None:
        raise NotAllowed("Submit your own review first; then you can read and join the discussion.")
    return DiscussionRead(
        round_id=round_id,
        entry_id=entry_id,
        open=thread.open,
        reviews=[
            PeerReviewRead(
                judge=r.label,
                mine=r.label == 0,
                total=r.total,
                scores=r.scores,
                comments=r.comments,
                confidence=r.confidence,
            )
            for r in thread.reviews
        ],
        messages=[
            DiscussionMessageRead(judge=m.label, mine=m.label == 0, body=m.body, created_at=m.created_at)
            for m in thread.messages
        ],
    )


class JudgeCollaborationApi(Controller):
    """Bids before the assignment; the discussion after one's own review."""

    path = "/api/v1/challenge/rounds"
    tags = ["challenge"]
    guards = [requires_judge]

    @get("/{round_id:int}/bids", responses=ERRORS)
    async def bid_list(
        self, request: Request, round_id: RowId, offset: QueryOffset = 0, limit: QueryLimit = 100
    ) -> BidListRead:
        """The round's entry summaries (blind; conflicted entries left out) with my bid, by entry id."""
        data = await bids.bid_page(signed_in_user(request).id, round_id)
        return BidListRead(
            round_id=round_id,
            open=data.open,
            hidden_by_conflicts=data.hidden_by_conflicts,
            total=len(data.rows),
            entries=[bid_read(r) for r in data.rows[offset : offset + limit]],
        )

    @put("/{round_id:int}/bids/{entry_id:int}", responses=ERRORS)
    async def put_bid(
        self, request: Request, round_id: RowId, entry_id: RowId, data: JSONBody[BidWrite]
    ) -> BidEntryRead:
        """Bid eager, willing or not-qualified on an entry, until the assignment runs (409 on an entry
        I have a conflict with)."""
        return bid_read(await bids.set_bid(signed_in_user(request).id, round_id, entry_id, data.level))

    @delete("/{round_id:int}/bids/{entry_id:int}", responses=ERRORS, status_code=HTTP_204_NO_CONTENT)
    async def delete_bid(self, request: Request, round_id: RowId, entry_id: RowId) -> None:
        """Take back my bid on an entry, until the assignment runs."""
        await bids.clear_bid(signed_in_user(request).id, round_id, entry_id)

    @get("/{round_id:int}/entries/{entry_id:int}/discussion", responses=ERRORS)
    async def read_discussion(self, request: Request, round_id: RowId, entry_id: RowId) -> DiscussionRead:
        """The other judges' reviews and the thread, once my own review is saved (403 before; 404 when
        the entry is not assigned to me)."""
        return await discussion_read(signed_in_user(request).id, round_id, entry_id)

    @post(
        "/{round_id:int}/entries/{entry_id:int}/discussion",
        responses=ERRORS,
        status_code=HTTP_201_CREATED,
    )
    async def post_message(
        self, request: Request, round_id: RowId, entry_id: RowId, data: JSONBody[DiscussionMessageWrite]
    ) -> DiscussionRead:
        """Write to the thread (after my own review, until the deadline or the stage's decision)."""
        me = signed_in_user(request).id
        await discussion.post_message(me, round_id, entry_id, data.body)
        return await discussion_read(me, round_id, entry_id)
