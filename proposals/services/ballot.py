"""What voting asks of proposals (the contract in voting/projects.py): the projects on its ballots."""

from __future__ import annotations

from typing import Any

from portal import clock
from portal.db import raw, write_transaction
from proposals.tables import Proposal
from voting.projects import BallotProject, NewProject

# The review reason shown on a project that came onto a ballot without a review (demo data, imported elections).
IMPORTED = (
    "실제 참여예산 투표(pabulib)의 사업을 옮긴 데모 사업입니다. "
    "Imported from a real participatory budgeting election (pabulib)."
)
_COLUMNS = (
    Proposal.id,
    Proposal.pot,
    Proposal.title,
    Proposal.summary,
    Proposal.category,
    Proposal.estimated_cost,
    Proposal.revised_cost,
    Proposal.location,
)


def _ballot_project(row: dict[str, Any]) -> BallotProject:
    cost = row["revised_cost"] if row["revised_cost"] is not None else row["estimated_cost"]
    return BallotProject(
        id=row["id"],
        pot_id=row["pot"],
        title=row["title"],
        summary=row["summary"],
        category=row["category"],
        cost=cost,
        location=row["location"],
    )


async def pot_projects(pot_id: int) -> list[BallotProject]:
    """The projects on a pot's ballot: its feasible proposals, by title."""
    # A plain statement (the same rows as ``Proposal.select(*_COLUMNS)``): every tablet ballot and paper batch
    # reads it, and building the ORM query was a visible share of a worker's CPU (bench/vote_day.py).
    rows = await raw(
        "SELECT id, pot, title, summary, category, estimated_cost, revised_cost, location FROM pb_proposal "
        "WHERE pot = {} AND status = 'feasible' ORDER BY title",
        pot_id,
    )
    return [_ballot_project(row) for row in rows]


async def cycle_projects(cycle_id: int) -> list[BallotProject]:
    """Every proposal of a cycle, whatever its status, by id (results and exports name them)."""
    rows = await Proposal.select(*_COLUMNS).where(Proposal.cycle == cycle_id).order_by(Proposal.id)
    return [_ballot_project(row) for row in rows]


async def _insert(projects: list[NewProject]) -> list[int]:
    now = clock.now()
    ids = []
    for project in projects:  # one row at a time, so the ids come back in the callers' order
        rows = await Proposal.insert(
            Proposal(
                cycle=project.cycle_id,
                pot=project.pot_id,
                author=None,
                title=project.title,
                summary=project.summary,
                description=project.description,
                category=project.category,
                estimated_cost=project.cost,
                location=project.location,
                status="feasible",
                review_reason=IMPORTED,
                created_at=now,
                updated_at=now,
            )
        ).returning(Proposal.id)
        ids.append(rows[0]["id"])
    return ids


async def import_projects(projects: list[NewProject]) -> list[int]:
    """Put projects straight on their pots' ballots, as feasible and without an author; ids in order.

    Joins the caller's write transaction when there is one (the demo imports an election's projects and
    ballots in one commit); SQLite's writer lock is not reentrant, so a nested one would wait forever.
    """
    if Proposal._meta.db.transaction_exists():
        return await _insert(projects)
    async with write_transaction():
        return await _insert(projects)
