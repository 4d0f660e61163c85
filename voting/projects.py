"""The projects on PB ballots, as voting sees them.

Projects are citizens' proposals that passed review; they live in ``proposals``, which voting never
imports. Voting asks for them through the services ``proposals`` declares in its manifest
(``pb.pot_projects``, ``pb.cycle_projects``, ``pb.import_projects``), so the arrow runs one way.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.manifest import domain_service


@dataclass(frozen=True)
class BallotProject:
    """One project as a ballot, a tally or a result shows it."""

    id: int
    pot_id: int
    title: str
    summary: str
    category: str
    cost: int  # whole KRW: the revised cost when the review set one, else the estimate
    location: str


@dataclass(frozen=True)
class NewProject:
    """A project that enters a pot's ballot directly (demo data and imported elections), already feasible."""

    cycle_id: int
    pot_id: int
    title: str
    summary: str
    category: str
    cost: int
    location: str = ""
    description: str = ""


async def pot_projects(pot_id: int) -> list[BallotProject]:
    """The projects on a pot's ballot (its feasible proposals), by title."""
    return await domain_service("pb.pot_projects")(pot_id)


async def cycle_projects(cycle_id: int) -> list[BallotProject]:
    """Every project proposed in a cycle, whatever its review said (results and exports name them)."""
    return await domain_service("pb.cycle_projects")(cycle_id)


async def import_projects(projects: list[NewProject]) -> list[int]:
    """Put projects straight on their pots' ballots; returns their ids in the same order."""
    return await domain_service("pb.import_projects")(projects)


async def project_titles(cycle_id: int) -> dict[int, str]:
    """Every project of a cycle by id, as results and receipts name them."""
    return {project.id: project.title for project in await cycle_projects(cycle_id)}
