"""Finding proposals: one proposal, or a cycle's proposals searched, filtered and sorted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.errors import DomainError, NotFoundError
from portal.identity import CurrentUser
from proposals.tables import Proposal
from voting.categories import CATEGORIES

SORTS = {
    "newest": (Proposal.id, False),
    "oldest": (Proposal.id, True),
    "cost": (Proposal.estimated_cost, True),
    "-cost": (Proposal.estimated_cost, False),
    "title": (Proposal.title, True),
}
PUBLIC_STATUSES = ("submitted", "feasible", "infeasible", "merged")


class BadQuery(DomainError):
    """A sort or filter outside the allowlist (S20)."""

    status_code = 400


@dataclass(frozen=True)
class ProposalRecord:
    """One proposal as pages show it (the columns of ``pb_proposal``)."""

    id: int
    cycle: int
    pot: int
    author: int | None
    title: str
    summary: str
    description: str
    category: str
    estimated_cost: int
    revised_cost: int | None
    location: str
    image_name: str | None
    status: str
    review_reason: str
    reviewed_by: int | None
    reviewed_at: dt.datetime | None
    merged_into: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


async def find(proposal_id: int) -> ProposalRecord:
    """Any proposal by id, whatever its status."""
    row = await Proposal.select().where(Proposal.id == proposal_id).first()
    if row is None:
        raise NotFoundError("We could not find that proposal.")
    return ProposalRecord(**row)


async def get(proposal_id: int, viewer: CurrentUser | None = None) -> ProposalRecord:
    """One proposal; withdrawn ones only for their author and officials."""
    found = await find(proposal_id)
    if found.status == "withdrawn" and not (
        viewer and (viewer.id == found.author or viewer.has_role("official", "admin"))
    ):
        raise NotFoundError("We could not find that proposal.")
    return found


def _check_query(category: str | None, status: str | None, sort: str | None) -> None:
    if sort not in (None, "", *SORTS):
        raise BadQuery("Sort by one of: %(options)s.", field="sort", options=", ".join(SORTS))
    if category not in (None, "") and category not in CATEGORIES:
        raise BadQuery("Filter by one of the categories.", field="category")
    if status not in (None, "") and status not in PUBLIC_STATUSES:
        raise BadQuery(
            "Filter by one of: %(options)s.", field="status", options=", ".join(PUBLIC_STATUSES)
        )


async def browse(
    cycle_id: int,
    *,
    q: str | None = None,
    pot_id: int | None = None,
    category: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    limit: int = 200,
) -> list[ProposalRecord]:
    """Search and filter a cycle's proposals; sort and filters come from allowlists (S20)."""
    _check_query(category, status, sort)
    column, ascending = SORTS[sort or "newest"]
    where = (Proposal.cycle == cycle_id) & (Proposal.status != "withdrawn")
    if pot_id:
        where &= Proposal.pot == pot_id
    if category:
        where &= Proposal.category == category
    if status:
        where &= Proposal.status == status
    if q and q.strip():
        needle = f"%{q.strip()[:100]}%"
        where &= Proposal.title.ilike(needle) | Proposal.summary.ilike(needle)
    rows = await Proposal.select().where(where).order_by(column, ascending=ascending).limit(limit)
    return [ProposalRecord(**row) for row in rows]
