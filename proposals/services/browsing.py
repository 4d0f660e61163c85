"""Finding proposals: one proposal, or a cycle's proposals searched, filtered and sorted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.districts import DISTRICTS_BY_CODE
from portal.errors import DomainError, NotFoundError
from portal.identity import CurrentUser
from portal.paging import PAGE_SIZE, Paged, window
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
    dong: str
    image_name: str | None
    image_alt: str
    thumb_name: str | None
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


def _check_query(
    category: str | None, status: str | None, sort: str | None, district: str | None = None
) -> None:
    if sort not in (None, "", *SORTS):
        raise BadQuery("Sort by one of: %(options)s.", field="sort", options=", ".join(SORTS))
    if category not in (None, "") and category not in CATEGORIES:
        raise BadQuery("Filter by one of the categories.", field="category")
    if status not in (None, "") and status not in PUBLIC_STATUSES:
        raise BadQuery(
            "Filter by one of: %(options)s.", field="status", options=", ".join(PUBLIC_STATUSES)
        )
    if district not in (None, "") and district not in DISTRICTS_BY_CODE:
        raise BadQuery("Choose one of Seoul's 25 districts.", field="district")


@dataclass(frozen=True)
class ProposalQuery:
    """A search of a cycle's proposals; every field comes from an allowlist or is matched as text."""

    q: str | None = None
    pot_id: int | None = None
    category: str | None = None
    status: str | None = None
    district: str | None = None
    sort: str | None = None


def _where(cycle_id: int, query: ProposalQuery):  # a Piccolo where clause
    _check_query(query.category, query.status, query.sort, query.district)
    where = (Proposal.cycle == cycle_id) & (Proposal.status != "withdrawn")
    if query.pot_id:
        where &= Proposal.pot == query.pot_id
    if query.category:
        where &= Proposal.category == query.category
    if query.status:
        where &= Proposal.status == query.status
    if query.district:
        # The district's own pot, and city-wide proposals placed in one of its neighbourhoods.
        where &= (Proposal.pot._.district_code == query.district) | Proposal.dong.like(
            f"{query.district}:%"
        )
    if query.q and query.q.strip():
        needle = f"%{query.q.strip()[:100]}%"
        where &= Proposal.title.ilike(needle) | Proposal.summary.ilike(needle)
    return where


async def search(
    cycle_id: int, query: ProposalQuery, page: int = 1, size: int = PAGE_SIZE
) -> Paged[ProposalRecord]:
    """One page of a cycle's proposals, searched, filtered and sorted (S20); past the end is the last page."""
    where = _where(cycle_id, query)
    total = await Proposal.count().where(where)
    number, offset = window(page, total, size)
    column, ascending = SORTS[query.sort or "newest"]
    rows = await (
        Proposal.select(*Proposal.all_columns())
        .where(where)
        .order_by(column, ascending=ascending)
        .order_by(Proposal.id, ascending=ascending)
        .offset(offset)
        .limit(size)
    )
    return Paged([ProposalRecord(**row) for row in rows], number, size, total)


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
    query = ProposalQuery(q=q, pot_id=pot_id, category=category, status=status, sort=sort)
    column, ascending = SORTS[sort or "newest"]
    rows = await (
        Proposal.select().where(_where(cycle_id, query)).order_by(column, ascending=ascending).limit(limit)
    )
    return [ProposalRecord(**row) for row in rows]
