"""The calibration minimum: judges with fewer reviews than an edition's minimum are flagged beside the
calibration (their offsets rest on too few scores), and officials set that minimum per edition."""

from __future__ import annotations

from dataclasses import dataclass

from judging.compute.calibration import sparse_judges
from judging.services.common import require_undecided, update_audited
from judging.services.editions import get_edition, get_round
from judging.tables import Edition, Review
from portal.db import write_transaction
from portal.errors import InvalidInput
from portal.tables import User

MAX_MIN_REVIEWS = 50


@dataclass(frozen=True)
class SparseJudge:
    judge: int
    email: str
    reviews: int


@dataclass(frozen=True)
class CalibrationCheck:
    min_reviews: int
    flagged: list[SparseJudge]


async def calibration_check(round_id: int) -> CalibrationCheck:
    """The judges of a round below its edition's minimum number of reviews."""
    rnd = await get_round(round_id)
    edition = await get_edition(rnd["edition"])
    minimum = edition["calibration_min_reviews"]
    rows = await Review.select(Review.entry, Review.judge, Review.total_centi).where(Review.round == round_id)
    flagged = sparse_judges([(r["entry"], r["judge"], r["total_centi"]) for r in rows], minimum)
    emails = {
        u["id"]: u["email"]
        for u in await User.select(User.id, User.email).where(User.id.is_in(list(flagged) or [0]))
    }
    return CalibrationCheck(
        minimum, [SparseJudge(j, emails.get(j, ""), n) for j, n in flagged.items()]
    )


async def set_min_reviews(official_id: int, edition_id: int, minimum: int) -> None:
    """Change the edition's calibration minimum (1 to 50), audited."""
    edition = await get_edition(edition_id)
    if not 1 <= minimum <= MAX_MIN_REVIEWS:
        raise InvalidInput(
            "The minimum number of reviews must be between 1 and %(max)s.",
            field="calibration_min_reviews",
            max=MAX_MIN_REVIEWS,
        )
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await require_undecided(edition_id, "The winners are approved; the rules can no longer change.")
        await update_audited(
            Edition,
            edition_id,
            {"calibration_min_reviews": minimum},
            edition,
            "challenge.edition.calibration_minimum",
            actor_id=official_id,
            subject=f"edition:{edition_id}",
        )
