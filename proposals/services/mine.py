"""A citizen's own pages: the proposals they wrote and the proposals they support (paginated)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.identity import CurrentUser
from proposals.community_tables import ProposalSupport
from proposals.services.browsing import ProposalRecord
from proposals.services.support import counts_of
from proposals.tables import Proposal

PAGE_SIZE = 20


@dataclass(frozen=True)
class MyPage:
    """One page of a person's proposals, with each one's public support count."""

    proposals: list[ProposalRecord]
    supports: dict[int, int]
    page: int
    pages: int
    total: int


async def _page_of(where, page: int) -> MyPage:
    total = await Proposal.count().where(where)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = (
        await Proposal.select()
        .where(where)
        .order_by(Proposal.id, ascending=False)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    found = [ProposalRecord(**row) for row in rows]
    return MyPage(found, await counts_of([p.id for p in found]), page, pages, total)


async def my_proposals(user: CurrentUser, page: int = 1) -> MyPage:
    """The proposals the person wrote, withdrawn ones included, newest first."""
    return await _page_of(Proposal.author == user.id, page)


async def my_supports(user: CurrentUser, page: int = 1) -> MyPage:
    """The proposals the person supports, newest first (only the person sees this list)."""
    rows = await ProposalSupport.select(ProposalSupport.proposal).where(
        ProposalSupport.supporter == user.id
    )
    return await _page_of(Proposal.id.is_in([r["proposal"] for r in rows] or [0]), page)
