"""A round's score sheet with pseudonymous ids: what ``hangang challenge rank`` reads, what the stage's
standings, the blend and the selection rank, and the pseudonyms every export uses."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from judging.compute.rubric import DEFAULT_SCALE, scale_text
from judging.services.editions import get_round
from judging.tables import Review
from portal.settings import get_settings


def pseudonym(kind: str, edition_id: int, object_id: int) -> str:
    """A stable pseudonymous id for exports (keyed by the server secret, so not reversible by guessing)."""
    digest = hmac.new(
        get_settings().secret_key.encode(),
        f"{kind}:{edition_id}:{object_id}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"{kind[0].upper()}-{digest[:10]}"


@dataclass
class Sheet:
    """A round's score sheet with pseudonymous ids, and the maps back to database ids."""

    rows: list[dict[str, str]]
    entry_ids: dict[str, int]
    judge_ids: dict[str, int]
    scale: tuple[int, int] = DEFAULT_SCALE

    def csv_text(self, with_scale: bool = False) -> str:
        """The CSV ``hangang challenge rank`` reads; its ``scale`` column records the rubric's scale
        (always with ``with_scale``; otherwise only off the default 1-10, so older sheets hash as before)."""
        scale = scale_text(self.scale) if with_scale or self.scale != DEFAULT_SCALE else ""
        lines = ["entry_id,judge_id,score,category,organization" + (",scale" if scale else "")]
        lines += [
            f"{r['entry_id']},{r['judge_id']},{r['score']},{r['category']},{r['organization']}"
            + (f",{scale}" if scale else "")
            for r in self.rows
        ]
        return "\n".join(lines) + "\n"


async def score_sheet(round_id: int) -> Sheet:
    """Every review of screened-in entries in the round (conflicted pairs never have reviews)."""
    rnd = await get_round(round_id)
    edition_id = rnd["edition"]
    reviews = (
        await Review.select(
            Review.entry,
            Review.judge,
            Review.total_centi,
            Review.entry.category.as_alias("category"),
            Review.entry.organization.as_alias("organization"),
            Review.entry.status.as_alias("status"),
        )
        .where(Review.round == round_id)
        .order_by(Review.entry, Review.judge)
    )
    rows: list[dict[str, str]] = []
    entry_ids: dict[str, int] = {}
    judge_ids: dict[str, int] = {}
    for r in reviews:
        if r["status"] != "screened-in":
            continue
        e, j = (
            pseudonym("entry", edition_id, r["entry"]),
            pseudonym("judge", edition_id, r["judge"]),
        )
        entry_ids[e], judge_ids[j] = r["entry"], r["judge"]
        rows.append(
            {
                "entry_id": e,
                "judge_id": j,
                "score": f"{r['total_centi'] // 100}.{r['total_centi'] % 100:02d}",
                "category": r["category"],
                "organization": pseudonym("org", edition_id, r["organization"]),
            }
        )
    rows.sort(key=lambda row: (row["entry_id"], row["judge_id"]))
    return Sheet(rows, entry_ids, judge_ids, (rnd["scale_min"], rnd["scale_max"]))
