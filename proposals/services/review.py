"""Officials' feasibility review: a proposal is found feasible (it goes on the ballot) or not, or merged."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from portal import accounts, audit, clock
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput
from proposals.services import announcements
from proposals.services.browsing import ProposalRecord, find
from proposals.services.support import check_reviewable
from proposals.tables import Proposal
from voting.services import cycles as voting


async def _check_review_window(found: ProposalRecord) -> dict[str, Any]:
    cycle = await voting.get_cycle(found.cycle)
    if voting.phase_of(cycle) == "support":
        raise Conflict("Proposals are reviewed once the support phase has ended.")
    if cycle["rules_frozen_at"] is not None or voting.phase_of(cycle) not in (
        "proposals",
        "review",
    ):
        raise Conflict("The ballot is fixed once voting opens; reviews can no longer change.")
    return cycle


def _checked_reason(reason: str) -> str:
    reason = reason.strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("Give a reason of 5 to 2000 characters.", field="reason")
    return reason


async def _check_revised_cost(found: ProposalRecord, revised_cost: int | None) -> None:
    if revised_cost is None:
        return
    if revised_cost <= 0:
        raise InvalidInput("Enter the revised cost in whole won.", field="revised_cost")
    pot = await voting.get_pot(found.cycle, found.pot)
    if revised_cost > pot["amount"]:
        raise InvalidInput(
            "The revised cost is more than the pot's whole budget.", field="revised_cost"
        )


async def _record_decision(
    official_id: int,
    found: ProposalRecord,
    decision: dict[Column, Any],
    action: str,
    details: dict[str, Any],
    notice: str,
    link: str,
    **notice_params: str,
) -> None:
    """Write an official's decision on a proposal, audit it and tell the author, in one transaction."""
    async with write_transaction():
        now = clock.now()
        await Proposal.update(
            {**decision, Proposal.reviewed_by: official_id, Proposal.reviewed_at: now}
        ).where(Proposal.id == found.id)
        await audit.record(
            action, actor_id=official_id, subject=f"pb-proposal:{found.id}", **details
        )
        await announcements.decision_made(
            found, decision[Proposal.status], decision[Proposal.review_reason], now, decision.get(Proposal.merged_into)
        )
        if found.author:
            await accounts.notify_and_mail(
                found.author,
                "Decision on your proposal",
                notice,
                link,
                title=found.title,
                **notice_params,
            )


async def review(
    official_id: int, proposal_id: int, feasible: bool, reason: str, revised_cost: int | None
) -> None:
    """Mark a proposal feasible (it goes on the ballot) or not, with a reason; the author is told."""
    found = await find(proposal_id)
    if found.status in ("withdrawn", "merged"):
        raise Conflict("This proposal was withdrawn or merged.")
    await check_reviewable(found, await _check_review_window(found))
    reason = _checked_reason(reason)
    await _check_revised_cost(found, revised_cost)
    status = "feasible" if feasible else "infeasible"
    await _record_decision(
        official_id,
        found,
        {
            Proposal.status: status,
            Proposal.review_reason: reason,
            Proposal.revised_cost: revised_cost,
        },
        "pb.proposal.reviewed",
        {"status": status, "revised_cost": revised_cost},
        'Your proposal "%(title)s" was found feasible and will be on the ballot. Reason: %(reason)s'
        if feasible
        else 'Your proposal "%(title)s" was found not feasible. Reason: %(reason)s',
        f"/pb/proposals/{proposal_id}",
        reason=reason,
    )


async def merge(official_id: int, proposal_id: int, into_id: int, reason: str) -> None:
    """Merge a duplicate into another proposal of the same pot; the author is told."""
    found = await find(proposal_id)
    target = await find(into_id)
    if (
        proposal_id == into_id
        or target.pot != found.pot
        or target.status in ("withdrawn", "merged")
    ):
        raise InvalidInput("Merge into another open proposal of the same pot.", field="merged_into")
    await _check_review_window(found)
    reason = _checked_reason(reason)
    await _record_decision(
        official_id,
        found,
        {Proposal.status: "merged", Proposal.merged_into: into_id, Proposal.review_reason: reason},
        "pb.proposal.merged",
        {"into": into_id},
        'Your proposal "%(title)s" was merged with a similar proposal, "%(other)s". Reason: %(reason)s',
        f"/pb/proposals/{into_id}",
        other=target.title,
        reason=reason,
    )
