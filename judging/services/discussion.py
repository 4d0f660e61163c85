"""Judges' discussion of an entry (HotCRP style): once a judge has submitted their own review of an
entry, they see the other judges' reviews of it and a message thread, open until the round's deadline.

Before their own review they see nothing of the others (no scores, no count of messages), so the
first judgement stays independent. Other judges are shown as "Judge 1, 2, ..." in review order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from judging.services.common import require_undecided
from judging.services.editions import get_round
from judging.services.reviews import entry_for_judge, my_review
from judging.tables import Review, ReviewComment
from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotAllowed

MESSAGE_LIMIT = 4000


@dataclass(frozen=True)
class PeerReview:
    """Another judge's (or my) review of the entry, named by position."""

    label: int  # 0 for me, else 1, 2, ... in the order the reviews were first saved
    total: float
    scores: dict[str, int]
    comments: dict[str, str]
    confidence: int


@dataclass(frozen=True)
class Message:
    label: int
    body: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Discussion:
    reviews: list[PeerReview]
    messages: list[Message]
    open: bool  # messages can still be posted (before the round deadline, the stage undecided)


async def discussion_for(judge_id: int, round_id: int, entry_id: int) -> Discussion | None:
    """The reviews and thread of an entry, or None while the judge has not reviewed it yet."""
    await entry_for_judge(judge_id, round_id, entry_id)  # 404 unless assigned and unconflicted
    if await my_review(judge_id, round_id, entry_id) is None:
        return None
    rows = (
        await Review.select()
        .output(load_json=True)
        .where((Review.round == round_id) & (Review.entry == entry_id))
        .order_by(Review.id)
    )
    labels = _labels([r["judge"] for r in rows], judge_id)
    comments = (
        await ReviewComment.select()
        .where((ReviewComment.round == round_id) & (ReviewComment.entry == entry_id))
        .order_by(ReviewComment.id)
    )
    for c in comments:  # a judge who wrote but whose review was since removed still gets a number
        labels.setdefault(c["judge"], max(labels.values()) + 1)
    rnd = await get_round(round_id)
    return Discussion(
        reviews=[
            PeerReview(
                labels[r["judge"]], r["total_centi"] / 100, r["scores"], r["comments"], r["confidence"]
            )
            for r in rows
        ],
        messages=[Message(labels[c["judge"]], c["body"], c["created_at"]) for c in comments],
        open=is_open(rnd),
    )


def is_open(rnd: dict[str, Any]) -> bool:
    """Messages can be posted: before the round deadline and until the stage is decided."""
    return clock.now() < rnd["deadline"] and rnd["stage_state"] != "decided"


def _labels(judges: list[int], me: int) -> dict[int, int]:
    labels = {me: 0}
    for judge in judges:
        labels.setdefault(judge, max(labels.values()) + 1)
    return labels


async def post_message(judge_id: int, round_id: int, entry_id: int, body: str) -> int:
    """Add to the thread: only after one's own review, only until the round deadline; audited."""
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInput("Write a message first.", field="body")
    if len(text) > MESSAGE_LIMIT:
        raise InvalidInput("Keep this under %(limit)s characters.", field="body", limit=MESSAGE_LIMIT)
    await entry_for_judge(judge_id, round_id, entry_id)  # 404 unless assigned and unconflicted
    if await my_review(judge_id, round_id, entry_id) is None:
        raise NotAllowed("Submit your own review first; then you can read and join the discussion.")
    rnd = await get_round(round_id)
    async with write_transaction(lock_key=f"challenge-discussion-{round_id}-{entry_id}"):
        if clock.now() >= rnd["deadline"]:
            raise NotAllowed("The round deadline has passed; the discussion is closed.")
        if (await get_round(round_id))["stage_state"] == "decided":
            raise NotAllowed("This stage's advancement is approved; the discussion is closed.")
        await require_undecided(rnd["edition"], "The winners are approved; the discussion is closed.", NotAllowed)
        comment = ReviewComment(
            round=round_id, entry=entry_id, judge=judge_id, body=text, created_at=clock.now()
        )
        await comment.save()
        await audit.record(
            "challenge.discussion.posted",
            actor_id=judge_id,
            subject=f"entry:{entry_id}",
            round=round_id,
            comment=comment.id,
        )
    # The other judges who reviewed the entry are told in the portal (no mail: it is a conversation).
    others = {
        r["judge"]
        for r in await Review.select(Review.judge).where(
            (Review.round == round_id) & (Review.entry == entry_id)
        )
    } - {judge_id}
    for other in sorted(others):
        await accounts.notify(
            other,
            "Another judge wrote in the discussion of an entry you reviewed.",
            f"/judging/rounds/{round_id}/entries/{entry_id}#discussion",
        )
    return comment.id
