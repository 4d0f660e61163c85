"""The awards of an approved selection: its winners, the contract v1 award batch for the city's
connector, and the message to every screened-in organization."""

from __future__ import annotations

from typing import Any

from judging.services.editions import entries_of, get_edition
from judging.services.selection import approvals_of, get_selection
from judging.tables import Entry, OrganizationMember
from portal import accounts, audit, clock
from portal.connector.batches import AwardLine, BatchHeader, award_batch
from portal.connector.services import enqueue_batch


async def enqueue_award_batch(selection_id: int, official_id: int) -> None:
    """The one place that hands the awards to the connector's outbox (inside the approval transaction)."""
    payload = await award_batch_payload(selection_id)
    await enqueue_batch(
        "award",
        payload,
        title=payload["source"]["cycle"],
        source=f"selection:{selection_id}",
        actor_id=official_id,
    )
    await audit.record(
        "challenge.award_batch.queued",
        subject=f"selection:{selection_id}",
        batch_id=payload["batch_id"],
    )


async def winners_of(selection_id: int) -> list[dict[str, Any]]:
    """The approved winners in rank order with their entries and organizations."""
    selection = await get_selection(selection_id)
    result = selection["result"]
    entry_ids: dict[str, int] = result["entry_ids"]
    scores = {r["entry_id"]: r for r in result["ranking"]}
    ids = [entry_ids[p] for p in result["winners"]]
    rows = {
        r["id"]: r
        for r in await Entry.select(
            Entry.id,
            Entry.title,
            Entry.category,
            Entry.organization,
            Entry.organization.name.as_alias("organization_name"),
            Entry.organization.registration_number.as_alias("registration_number"),
        ).where(Entry.id.is_in(ids or [0]))
    }
    ordered = sorted(result["winners"], key=lambda p: scores[p]["rank"])
    return [
        {
            **rows[entry_ids[p]],
            "pseudonym": p,
            "rank": scores[p]["rank"],
            "score": scores[p]["score"],
        }
        for p in ordered
    ]


async def award_batch_payload(selection_id: int) -> dict[str, Any]:
    """The contract v1 award batch for an approved selection (``POST /v1/award-batches``)."""
    selection = await get_selection(selection_id)
    edition = await get_edition(selection["edition"])
    approvals = await approvals_of(selection_id)
    winners = await winners_of(selection_id)
    year = edition["intake_closes_at"].year
    lines = [
        AwardLine(
            line_id=f"{year}-{w['rank']:04d}",
            award_code=f"AI50-{year}-{w['id']:05d}",
            title=w["title"][:300],
            recipient_id=w["registration_number"],
            recipient_name=w["organization_name"],
            category=w["category"],
            amount=edition["award_amount"],
            rank=w["rank"],
            score=f"{w['score']:.4f}",
        )
        for w in winners
    ]
    header = BatchHeader(
        batch_id=f"seoul-ai50-{year}-e{edition['id']}",
        revision=selection_id,
        fiscal_year=year,
        cycle=edition["name"][:300],
        approvals=[(f"u-{a['official']}", a["approved_at"]) for a in approvals],
        generated_at=selection["approved_at"] or clock.now(),
        closed_at=selection["computed_at"],
        results_sha256=selection["sheet_sha256"],
        audit_head=await audit.head(),
    )
    return award_batch(header, lines)


async def notify_outcome(selection_id: int) -> None:
    """Tell every organization with a screened-in entry whether it won."""
    selection = await get_selection(selection_id)
    edition = await get_edition(selection["edition"])
    winning = {w["id"] for w in await winners_of(selection_id)}
    entries = await entries_of(edition["id"], ("screened-in",))
    for entry in entries:
        won = entry["id"] in winning
        members = await OrganizationMember.select(OrganizationMember.user).where(
            OrganizationMember.organization == entry["organization"]
        )
        for member in members:
            await accounts.notify_and_mail(
                member["user"],
                "AI 50 Challenge result",
                'Congratulations: your entry "%(title)s" is one of the winners of %(edition)s.'
                if won
                else 'Thank you for taking part: your entry "%(title)s" was not selected among the winners of %(edition)s.',
                f"/challenge/entries/{entry['id']}",
                title=entry["title"],
                edition=edition["name"],
            )
