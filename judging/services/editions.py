"""Editions and their rounds: create an edition, change its rules and its rounds until it is decided.

An edition is open until the second official approves its winners, then decided: its rules, screening,
rounds, assignments, reviews and results no longer change (V8). A round is open until its deadline,
then closed; approved once its edition is decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from judging.categories import CATEGORIES
from judging.compute import rubric
from judging.services.common import (
    require_undecided,
    rules_changed,
    selection_step,
    update_audited,
)
from judging.tables import DEFAULT_GATES, Edition, Entry, Round, Selection
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import InvalidInput, NotFoundError
from portal.tables import User

# The rounds judges score; the screening round has gates instead.
SCORING_KINDS = ("evaluation", "final")


def default_rubric() -> list[dict[str, Any]]:
    """The default rubric as stored in a round (criteria with weights and level descriptors)."""
    return [criterion.to_dict() for criterion in rubric.DEFAULT_CRITERIA]


def round_state(rnd: dict[str, Any], edition: dict[str, Any]) -> str:
    """``open`` until the deadline, then ``closed``; ``approved`` once the edition is decided."""
    if edition["state"] == "decided":
        return "approved"
    return "open" if clock.now() < rnd["deadline"] else "closed"


@dataclass
class EditionForm:
    name: str
    intake_opens_at: dt.datetime
    intake_closes_at: dt.datetime
    winners: int = 50
    categories: tuple[str, ...] = CATEGORIES
    quotas: dict[str, dict[str, int]] | None = None
    max_per_organization: int = 1
    seed: int | None = None
    award_amount: int = 10_000_000


def validate_quotas(quotas: Any, categories: list[str], winners: int) -> dict[str, dict[str, int]]:
    """``{category: {"min": a, "max": b}}`` with 0 <= a <= b, minimums summing to at most the winners."""
    if not isinstance(quotas, dict):
        raise InvalidInput("Quotas must be a JSON object of categories.", field="quotas")
    clean: dict[str, dict[str, int]] = {}
    for category, bounds in quotas.items():
        if category not in categories:
            raise InvalidInput(
                "Unknown category %(category)s in the quotas.",
                field="quotas",
                category=str(category)[:40],
            )
        if not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
            raise InvalidInput("Each quota needs min and max.", field="quotas")
        low, high = bounds.get("min", 0), bounds.get("max", winners)
        if (
            not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
            or not 0 <= low <= high
        ):
            raise InvalidInput("Each quota needs 0 <= min <= max.", field="quotas")
        clean[category] = {"min": low, "max": high}
    if sum(b["min"] for b in clean.values()) > winners:
        raise InvalidInput(
            "The category minimums add up to more than the number of winners.", field="quotas"
        )
    return clean


async def create_edition(official_id: int, form: EditionForm) -> int:
    """Create an edition with the default rounds (screening, evaluation, final) and rubric."""
    name = (form.name or "").strip()
    if not 1 <= len(name) <= 120:
        raise InvalidInput("Give the edition a name (up to 120 characters).", field="name")
    if form.intake_closes_at <= form.intake_opens_at:
        raise InvalidInput("The intake must close after it opens.", field="intake_closes_at")
    if not 1 <= form.winners <= 1000:
        raise InvalidInput("The number of winners must be between 1 and 1000.", field="winners")
    if not 1 <= form.max_per_organization <= 1000:
        raise InvalidInput(
            "At most per organization must be at least 1.", field="max_per_organization"
        )
    if not 0 <= form.award_amount <= 2_000_000_000:
        raise InvalidInput(
            "The award amount must be between 0 and 2,000,000,000 KRW.", field="award_amount"
        )
    categories = list(form.categories)
    quotas = validate_quotas(form.quotas or {}, categories, form.winners)
    seed = (
        form.seed
        if form.seed is not None
        else int.from_bytes(hashlib.sha256(name.encode()).digest()[:3], "big")
    )
    async with write_transaction():
        edition = Edition(
            name=name,
            intake_opens_at=form.intake_opens_at,
            intake_closes_at=form.intake_closes_at,
            winners=form.winners,
            categories=categories,
            quotas=quotas,
            max_per_organization=form.max_per_organization,
            gates=list(DEFAULT_GATES),
            seed=seed,
            award_amount=form.award_amount,
            blind_review=True,
            created_by=official_id,
            created_at=clock.now(),
        )
        await edition.save()
        for position, (kind, weeks) in enumerate(
            (("screening", 1), ("evaluation", 3), ("final", 5)), start=1
        ):
            await Round.insert(
                Round(
                    edition=edition.id,
                    kind=kind,
                    position=position,
                    deadline=form.intake_closes_at + dt.timedelta(weeks=weeks),
                    judges_per_entry=3,
                    judge_pool=[],
                    rubric=default_rubric() if kind in SCORING_KINDS else [],
                )
            )
        await audit.record(
            "challenge.edition.created",
            actor_id=official_id,
            subject=f"edition:{edition.id}",
            winners=form.winners,
            quotas=quotas,
            seed=seed,
        )
    return edition.id


async def update_edition_rules(
    official_id: int,
    edition_id: int,
    winners: int,
    quotas: Any,
    max_per_organization: int,
    seed: int,
) -> None:
    """Change winners, quotas, the per-organization cap and the seed until a selection is approved."""
    edition = await get_edition(edition_id)
    if not 1 <= winners <= 1000:
        raise InvalidInput("The number of winners must be between 1 and 1000.", field="winners")
    if not 1 <= max_per_organization <= 1000:
        raise InvalidInput(
            "At most per organization must be at least 1.", field="max_per_organization"
        )
    if not 0 <= seed < 2**31:
        raise InvalidInput("The seed must be a whole number from 0 to 2147483647.", field="seed")
    clean = validate_quotas(quotas, edition["categories"], winners)
    async with write_transaction(lock_key=f"challenge-edition-{edition_id}"):
        await require_undecided(
            edition_id, "The winners are approved; the rules can no longer change."
        )
        await update_audited(
            Edition,
            edition_id,
            {
                "winners": winners,
                "quotas": clean,
                "seed": seed,
                "max_per_organization": max_per_organization,
            },
            edition,
            "challenge.edition.rules",
            actor_id=official_id,
            subject=f"edition:{edition_id}",
        )
        # A computed selection keeps the rules it was computed with; if they differ now it is stale.
        updated = await get_edition(edition_id)
        for proposed in (
            await Selection.select()
            .output(load_json=True)
            .where((Selection.edition == edition_id) & (Selection.status == "proposed"))
            .order_by(Selection.id, ascending=False)
        ):
            if rules_changed(proposed, updated):
                await selection_step(proposed, "stale", official_id, reason="rules")


async def get_edition(edition_id: int) -> dict[str, Any]:
    edition = await Edition.select().output(load_json=True).where(Edition.id == edition_id).first()
    if edition is None:
        raise NotFoundError("We could not find that edition.")
    return edition


async def get_round(round_id: int) -> dict[str, Any]:
    row = await Round.select().output(load_json=True).where(Round.id == round_id).first()
    if row is None:
        raise NotFoundError("We could not find that round.")
    return row


async def entries_of(
    edition_id: int, statuses: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    query = (
        Entry.select(Entry.all_columns(), Entry.organization.name.as_alias("organization_name"))
        .where(Entry.edition == edition_id)
        .output(load_json=True)
    )
    if statuses:
        query = query.where(Entry.status.is_in(list(statuses)))
    return await query.order_by(Entry.id)


async def list_editions() -> list[dict[str, Any]]:
    return await Edition.select().output(load_json=True).order_by(Edition.id, ascending=False)


async def rounds_of(edition_id: int) -> list[dict[str, Any]]:
    return (
        await Round.select()
        .output(load_json=True)
        .where(Round.edition == edition_id)
        .order_by(Round.position)
    )


async def update_round(
    official_id: int,
    round_id: int,
    deadline: dt.datetime,
    judges_per_entry: int,
    judge_pool: list[int],
) -> None:
    """Set a round's deadline, reviews per entry and judge pool (judge accounts only)."""
    current = await get_round(round_id)
    if not 1 <= judges_per_entry <= 10:
        raise InvalidInput("Reviews per entry must be between 1 and 10.", field="judges_per_entry")
    pool = sorted(set(judge_pool))
    if pool:
        judges = await User.select(User.id, User.roles).where(User.id.is_in(pool))
        if len(judges) != len(pool) or any("judge" not in r["roles"].split(",") for r in judges):
            raise InvalidInput("The judge pool may only hold judge accounts.", field="judge_pool")
    async with write_transaction(lock_key=f"challenge-edition-{current['edition']}"):
        await require_undecided(
            current["edition"], "The winners are approved; this round can no longer change."
        )
        await update_audited(
            Round,
            round_id,
            {"deadline": deadline, "judges_per_entry": judges_per_entry, "judge_pool": pool},
            current,
            "challenge.round.updated",
            actor_id=official_id,
            subject=f"round:{round_id}",
        )
