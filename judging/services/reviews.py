"""The judges' side: their queue of assigned entries, the blind entry view (S14), scoring (V7), and
the calibration of their scores side by side."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from judging.compute import calibration, rubric
from judging.schemas import BlindEntryRead
from judging.services import stages
from judging.services.common import require_undecided, update_audited
from judging.services.conflicts import conflict_register, is_conflicted
from judging.services.editions import get_edition, get_round
from judging.services.score_sheets import pseudonym, score_sheet
from judging.tables import Assignment, Attachment, Entry, Organization, Review
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotAllowed, NotFoundError
from portal.tables import User


def criteria_of(stored: list[dict[str, Any]]) -> tuple[rubric.Criterion, ...]:
    return tuple(
        rubric.Criterion(
            c["key"],
            c["name"]["en"],
            c["name"]["ko"],
            c["weight"],
            tuple(rubric.Level(lv["low"], lv["high"], lv["en"], lv["ko"]) for lv in c["levels"]),
        )
        for c in stored
    )


def weighted_total_centi(
    stored: list[dict[str, Any]],
    scores: dict[str, int],
    scale: tuple[int, int] = rubric.DEFAULT_SCALE,
) -> int:
    """The weighted rubric total in hundredths (an int, so the stored value is exact)."""
    try:
        total = rubric.weighted_total(scores, criteria_of(stored), scale)
    except rubric.RubricError:
        raise _score_error("scores", scale) from None
    return round(total * 100)


def _score_error(field: str, scale: tuple[int, int]) -> InvalidInput:
    return InvalidInput(
        "Score every criterion from %(low)s to %(high)s.", field=field, low=scale[0], high=scale[1]
    )


@dataclass(frozen=True)
class QueueItem:
    """One entry in a judge's queue: where it stands and whether the round still takes scores."""

    round: int
    entry: int
    title: str
    category: str
    edition: int
    edition_name: str
    round_kind: str
    deadline: dt.datetime
    reviewed: bool
    total: float | None
    open: bool


@dataclass(frozen=True)
class JudgeReview:
    """A judge's review of one entry in one round."""

    id: int
    round: int
    entry: int
    judge: int
    scores: dict[str, int]
    comments: dict[str, str]
    confidence: int
    total_centi: int
    created_at: dt.datetime
    updated_at: dt.datetime
    private_comments: list[str] = field(default_factory=list)  # not shown to the applicant


async def judge_assignments(judge_id: int) -> list[QueueItem]:
    """My assignments across rounds, conflicted entries filtered out again at read time."""
    rows = (
        await Assignment.select(
            Assignment.round,
            Assignment.entry,
            Assignment.entry.title.as_alias("title"),
            Assignment.entry.category.as_alias("category"),
            Assignment.entry.edition.as_alias("edition"),
            Assignment.round.deadline.as_alias("deadline"),
            Assignment.round.kind.as_alias("round_kind"),
            Assignment.round.edition.name.as_alias("edition_name"),
        )
        .where(Assignment.judge == judge_id)
        .order_by(Assignment.round.deadline, Assignment.entry)
    )
    if not rows:
        return []
    blocked = {e for _j, e, _k in await conflict_register(None, [judge_id])}
    reviews = {
        (r["round"], r["entry"]): r
        for r in await Review.select(
            Review.round, Review.entry, Review.total_centi, Review.updated_at
        ).where(Review.judge == judge_id)
    }
    now = clock.now()
    visible = []
    for row in rows:
        if row["entry"] in blocked:
            continue
        review = reviews.get((row["round"], row["entry"]))
        visible.append(
            QueueItem(
                **row,
                reviewed=review is not None,
                total=review["total_centi"] / 100 if review else None,
                open=now < row["deadline"],
            )
        )
    return visible


async def entry_for_judge(judge_id: int, round_id: int, entry_id: int) -> BlindEntryRead:
    """The blind view of an assigned entry; 404 for anything not assigned or conflicted (S14)."""
    assigned = await Assignment.exists().where(
        (Assignment.round == round_id)
        & (Assignment.entry == entry_id)
        & (Assignment.judge == judge_id)
    )
    if not assigned or await is_conflicted(judge_id, entry_id):
        raise NotFoundError("We could not find that page.")
    entry = await Entry.select().output(load_json=True).where(Entry.id == entry_id).first()
    edition = await get_edition(entry["edition"])
    organization_name = None
    if not edition["blind_review"]:
        org = (
            await Organization.select(Organization.name)
            .where(Organization.id == entry["organization"])
            .first()
        )
        organization_name = org["name"]
    return msgspec.convert(entry | {"organization_name": organization_name}, BlindEntryRead)


async def attachment_for_judge(judge_id: int, attachment_id: int) -> tuple[dict[str, Any], str]:
    """An attachment of an assigned, unconflicted entry and its blind download name; 404 otherwise (S14)."""
    row = await Attachment.select().where(Attachment.id == attachment_id).first()
    if row is None or not await _may_read_entry(judge_id, row["entry"]):
        raise NotFoundError("We could not find that page.")
    return row, await _blind_attachment_name(row)


async def _may_read_entry(judge_id: int, entry_id: int) -> bool:
    """Attachments: only for an assigned, unconflicted judge."""
    assigned = await Assignment.exists().where(
        (Assignment.entry == entry_id) & (Assignment.judge == judge_id)
    )
    return assigned and not await is_conflicted(judge_id, entry_id)


async def _blind_attachment_name(attachment: dict[str, Any]) -> str:
    """A judge's download name: the entry's pseudonym (plus the file's position when there are
    several), never the uploader's file name, which can name the company in a blind review."""
    entry = await Entry.select(Entry.edition).where(Entry.id == attachment["entry"]).first()
    name = pseudonym("entry", entry["edition"], attachment["entry"])
    siblings = [
        a["id"]
        for a in await Attachment.select(Attachment.id)
        .where(Attachment.entry == attachment["entry"])
        .order_by(Attachment.id)
    ]
    if len(siblings) > 1:
        name += f"-{siblings.index(attachment['id']) + 1}"
    return name


async def my_review(judge_id: int, round_id: int, entry_id: int) -> JudgeReview | None:
    row = (
        await Review.select()
        .output(load_json=True)
        .where((Review.round == round_id) & (Review.entry == entry_id) & (Review.judge == judge_id))
        .first()
    )
    return JudgeReview(**row) if row else None


# ---------------------------------------------------------------- scoring (V7)


async def save_review(
    judge_id: int,
    round_id: int,
    entry_id: int,
    scores: dict[str, int],
    comments: dict[str, str],
    confidence: int,
    private_comments: list[str] | None = None,
) -> int:
    """Create or change my review until the round deadline; every change is audited with old and new values.

    ``private_comments`` lists the criteria whose comment the judge keeps from the applicant (None keeps
    what is stored; a new review shows every comment)."""
    rnd = await get_round(round_id)
    await entry_for_judge(judge_id, round_id, entry_id)  # 404 unless assigned and unconflicted
    if clock.now() >= rnd["deadline"]:
        raise NotAllowed("The round deadline has passed; scores are locked.")
    keys = [c["key"] for c in rnd["rubric"]]
    scale = (rnd["scale_min"], rnd["scale_max"])  # the stage's rubric scale
    if set(scores) != set(keys):
        raise _score_error("scores", scale)
    for key in keys:
        value = scores[key]
        if not isinstance(value, int) or isinstance(value, bool) or not scale[0] <= value <= scale[1]:
            raise _score_error(f"score_{key}", scale)
    if set(comments) - set(keys):
        raise InvalidInput("Comments are per criterion.", field="comments")
    clean_comments = {k: (comments.get(k) or "").strip() for k in keys}
    if any(len(c) > 2000 for c in clean_comments.values()):
        raise InvalidInput("Keep this under %(limit)s characters.", field="comments", limit=2000)
    if private_comments is not None and set(private_comments) - set(keys):
        raise InvalidInput("Comments are per criterion.", field="comments")
    if not isinstance(confidence, int) or isinstance(confidence, bool) or not 1 <= confidence <= 5:
        raise InvalidInput("Confidence is from 1 to 5.", field="confidence")
    total_centi = weighted_total_centi(rnd["rubric"], scores, scale)
    async with write_transaction(lock_key=f"challenge-review-{round_id}-{entry_id}-{judge_id}"):
        if clock.now() >= rnd["deadline"]:
            raise NotAllowed("The round deadline has passed; scores are locked.")
        # Locked scores answer 403 as after the deadline (the review API's documented answer).
        await require_undecided(
            rnd["edition"], "The winners are approved; scores are locked.", NotAllowed
        )
        await stages.require_reviews_open(round_id)  # a decided stage's scores never change
        await stages.enter_reviewing(round_id, judge_id)  # the first review freezes the rubric
        old = await my_review(judge_id, round_id, entry_id)
        if private_comments is None:
            private_comments = old.private_comments if old else []
        new_values = {
            "scores": scores,
            "comments": clean_comments,
            "private_comments": sorted(set(private_comments)),
            "confidence": confidence,
            "total_centi": total_centi,
        }
        if old is None:
            review = Review(
                round=round_id,
                entry=entry_id,
                judge=judge_id,
                created_at=clock.now(),
                updated_at=clock.now(),
                **new_values,
            )
            await review.save()
            review_id = review.id
            await audit.record(
                "challenge.review.created",
                actor_id=judge_id,
                subject=f"review:{review_id}",
                old=None,
                new=new_values,
            )
        else:
            review_id = old.id
            await update_audited(
                Review,
                review_id,
                new_values,
                asdict(old),
                "challenge.review.changed",
                actor_id=judge_id,
                subject=f"review:{review_id}",
                also={Review.updated_at: clock.now()},
            )
    return review_id


# ---------------------------------------------------------------- calibration of the judges' scores


def calibrate_all(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The three calibrations side by side, one row per entry, ordered by the additive score."""
    reviews = [(r["entry_id"], r["judge_id"], float(r["score"])) for r in rows]
    methods = calibration.compare_methods(reviews)
    additive = methods["additive"]
    table = []
    for entry_id, item in additive.entries.items():
        table.append(
            {
                "entry_id": entry_id,
                "mean": methods["mean"].entries[entry_id].score,
                "zscore": methods["zscore"].entries[entry_id].score,
                "additive": item.score,
                "disagreement": item.disagreement,
                "reviews": item.reviews,
                "raw_scores": list(item.raw_scores),
            }
        )
    table.sort(key=lambda r: (-r["additive"], r["entry_id"]))
    return {
        "rows": table,
        "judge_offsets": dict(additive.judge_offsets),
        "components": additive.components,
    }


async def calibration_view(round_id: int) -> dict[str, Any]:
    """Raw mean, per-judge z-score and the additive model side by side, with disagreement and review counts."""
    sheet = await score_sheet(round_id)
    if not sheet.rows:
        return {"rows": [], "judge_offsets": {}}
    table = calibrate_all(sheet.rows)
    titles = {
        e["id"]: e["title"]
        for e in await Entry.select(Entry.id, Entry.title).where(
            Entry.id.is_in(list(sheet.entry_ids.values()))
        )
    }
    for row in table["rows"]:
        row["entry"] = sheet.entry_ids[row["entry_id"]]
        row["title"] = titles.get(row["entry"], "")
    emails = {
        u["id"]: u["email"]
        for u in await User.select(User.id, User.email).where(
            User.id.is_in(list(sheet.judge_ids.values()))
        )
    }
    table["judges"] = [
        {"judge_id": j, "email": emails.get(sheet.judge_ids[j], ""), "offset": off}
        for j, off in sorted(table["judge_offsets"].items(), key=lambda kv: kv[1])
    ]
    return table
