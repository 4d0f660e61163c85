"""JSON shapes of the AI 50 Challenge API. Write schemas list their fields; anything else is refused (S15)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar.params import PathParameter, QueryParameter

from portal.schemas import StrictStruct

# Database ids in paths: out-of-range numbers are a 400, never an integer overflow in the database.
RowId = Annotated[int, PathParameter(ge=1, le=2_147_483_647)]
QueryId = Annotated[int, QueryParameter(ge=1, le=2_147_483_647)]
# A slice of a long list: offset from 0, at most 500 rows (100 unless asked).
QueryOffset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
QueryLimit = Annotated[int, QueryParameter(ge=1, le=500)]
BodyId = Annotated[int, msgspec.Meta(ge=0, le=2_147_483_647)]

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]
Text5000 = Annotated[str, msgspec.Meta(max_length=5000)]
# A criterion score: the stage's own scale (1-10 by default, e.g. 0-100) is checked by the service.
Score = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class EntryWrite(StrictStruct):
    """A draft's fields; status, scores, ranks and owners cannot be set."""

    title: Text200
    category: Annotated[str, msgspec.Meta(max_length=30)]
    sector: Annotated[str, msgspec.Meta(max_length=20)]
    summary: Text2000 = ""
    problem: Text5000 = ""
    ai_approach: Text5000 = ""
    data_protection: Text5000 = ""
    target_users: Text2000 = ""
    team: Annotated[str, msgspec.Meta(max_length=3000)] = ""
    demo_url: Annotated[str, msgspec.Meta(max_length=500)] = ""
    districts: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=5)]], msgspec.Meta(max_length=25)
    ] = []


class EntryCreate(EntryWrite):
    organization_id: BodyId = 0
    edition_id: BodyId = 0


class EntryDescription(msgspec.Struct):
    """What an entry says about itself, as both its owners and its judges read it."""

    id: int
    title: str
    summary: str
    problem: str
    ai_approach: str
    data_protection: str
    target_users: str
    category: str
    sector: str
    districts: list[str]


class EntryRead(EntryDescription):
    edition_id: int
    organization_id: int
    team: str
    demo_url: str
    status: str
    submitted_at: dt.datetime | None
    updated_at: dt.datetime


class EditionRead(msgspec.Struct):
    id: int
    name: str
    intake_opens_at: dt.datetime
    intake_closes_at: dt.datetime
    intake: str
    winners: int
    categories: list[str]
    seed: int


class AssignmentRead(msgspec.Struct):
    round_id: int
    round_kind: str
    entry_id: int
    title: str
    category: str
    deadline: dt.datetime
    reviewed: bool
    open: bool
    total: float | None


class BlindEntryRead(EntryDescription):
    """What a judge sees: no organization identity while the review is blind."""

    organization_name: str | None = None


class ReviewWrite(StrictStruct):
    scores: dict[Annotated[str, msgspec.Meta(max_length=40)], Score]
    confidence: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comments: dict[Annotated[str, msgspec.Meta(max_length=40)], Text2000] = {}
    # Criterion keys whose comment is not shown to the applicant; omitted: keep what is stored.
    private_comments: list[Annotated[str, msgspec.Meta(max_length=40)]] | None = None


class ReviewRead(msgspec.Struct):
    id: int
    round_id: int
    entry_id: int
    scores: dict[str, int]
    comments: dict[str, str]
    confidence: int
    total: float
    updated_at: dt.datetime
    private_comments: list[str] = []


class JudgeProgressRead(msgspec.Struct):
    judge_id: int
    email: str
    assigned: int
    reviewed: int
    missing_entry_ids: list[int]


# ---------------------------------------------------------------- judges' bids and discussion


class BidEntryRead(msgspec.Struct):
    """An entry's blind summary on a judge's bid list, with my bid ("" when none)."""

    entry_id: int
    title: str
    category: str
    summary: str
    bid: str  # eager | willing | not-qualified | ""


class BidListRead(msgspec.Struct):
    round_id: int
    open: bool  # bids can change: the round is open and its assignment has not run
    hidden_by_conflicts: int  # entries left out because I have a conflict with them
    total: int
    entries: list[BidEntryRead]


class BidWrite(StrictStruct):
    # eager | willing | not-qualified; anything else is refused with a message (checked by the service)
    level: Annotated[str, msgspec.Meta(max_length=40)]


class PeerReviewRead(msgspec.Struct):
    """A review of the entry in its discussion: judges are numbers (0 is me), never names."""

    judge: int
    mine: bool
    total: float
    scores: dict[str, int]
    comments: dict[str, str]
    confidence: int


class DiscussionMessageRead(msgspec.Struct):
    judge: int
    mine: bool
    body: str
    created_at: dt.datetime


class DiscussionRead(msgspec.Struct):
    round_id: int
    entry_id: int
    open: bool  # messages can be posted: before the deadline, the stage not decided
    reviews: list[PeerReviewRead]
    messages: list[DiscussionMessageRead]


class DiscussionMessageWrite(StrictStruct):
    # The service refuses an empty message or one over 4,000 characters, with a message.
    body: Annotated[str, msgspec.Meta(max_length=20_000)]


# ---------------------------------------------------------------- feedback to applicants


class FeedbackCommentRead(msgspec.Struct):
    judge: str  # "A", "B", ...: the only judge identity an applicant sees
    text: str


class CriterionFeedbackRead(msgspec.Struct):
    key: str
    name: str  # in the reader's language
    score: float | None  # my calibrated score on this criterion
    stage_mean: float | None
    comments: list[FeedbackCommentRead]


class StageFeedbackRead(msgspec.Struct):
    round_id: int
    stage: str  # the stage's name in the reader's language
    scale_min: int
    scale_max: int
    score: float
    rank: int
    ranked: int
    band: str  # top-10 | 10-25 | 25-50 | lower-half
    band_label: str
    advanced: bool
    cut: float | None
    distance: float | None  # points above (+) or below (-) the cut
    criteria: list[CriterionFeedbackRead]


class StageRef(msgspec.Struct):
    round_id: int
    stage: str


class EntryFeedbackRead(msgspec.Struct):
    entry_id: int
    title: str
    stages: list[StageFeedbackRead]  # released stages, in stage order
    waiting: list[StageRef]  # stages the entry took part in whose feedback is not released yet


class ModeratedCommentRead(msgspec.Struct):
    review_id: int
    judge_id: int
    judge: str  # the letter the applicant sees
    criterion: str
    text: str
    status: str  # pending | approved | hidden | private
    reason: str
    shown: bool  # the applicant reads it (approved)


class OfficialReviewRead(msgspec.Struct):
    review_id: int
    judge_id: int
    judge_name: str
    judge: str
    scores: dict[str, int]
    total: float
    confidence: int


class EntryReviewsRead(msgspec.Struct):
    entry_id: int
    title: str
    score: float
    rank: int
    band: str
    advanced: bool
    distance: float | None
    reviews: list[OfficialReviewRead]
    comments: list[ModeratedCommentRead]


class StageReviewsRead(msgspec.Struct):
    round_id: int
    released: bool
    total: int  # ranked entries (0 before the stage's advancement is approved)
    offset: int
    entries: list[EntryReviewsRead]
