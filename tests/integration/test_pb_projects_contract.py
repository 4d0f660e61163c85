"""The ballot's projects as voting asks proposals for them (voting/projects.py, through the manifest)."""

from __future__ import annotations

import asyncio

from portal import clock
from portal.db import write_transaction
from proposals.services import review
from proposals.tables import Proposal
from voting import projects
from voting.projects import BallotProject, NewProject
from voting.testing import build_cycle


def new_project(built, title: str, cost: int, **extra) -> NewProject:
    return NewProject(
        cycle_id=built.id,
        pot_id=built.city_pot,
        title=title,
        summary=f"{title} for the whole city",
        category="housing",
        cost=cost,
        **extra,
    )


async def add_proposal(built, author_id: int, title: str, cost: int) -> int:
    now = clock.now()
    rows = await Proposal.insert(
        Proposal(
            cycle=built.id,
            pot=built.city_pot,
            author=author_id,
            title=title,
            summary=f"{title}, proposed by a resident",
            category="welfare",
            estimated_cost=cost,
            created_at=now,
            updated_at=now,
        )
    ).returning(Proposal.id)
    return rows[0]["id"]


async def test_imported_projects_are_feasible_without_author_and_come_back_in_order(official):
    built = await build_cycle(official.account.id, phase="review", project_costs=[1_000_000_000])
    ids = await projects.import_projects(
        [
            new_project(built, "Zebra crossings", 300_000_000, location="Jongno-gu"),
            new_project(built, "Air purifiers", 200_000_000, description="In every library."),
        ]
    )
    rows = await Proposal.select().where(Proposal.id.is_in(ids))
    by_id = {row["id"]: row for row in rows}
    assert [by_id[i]["title"] for i in ids] == ["Zebra crossings", "Air purifiers"]
    assert {(r["status"], r["author"], r["cycle"], r["pot"]) for r in rows} == {
        ("feasible", None, built.id, built.city_pot)
    }
    assert by_id[ids[0]]["location"] == "Jongno-gu"
    assert by_id[ids[1]]["description"] == "In every library."
    assert by_id[ids[1]]["estimated_cost"] == 200_000_000


async def test_import_joins_the_callers_write_transaction(official):
    built = await build_cycle(official.account.id, phase="review", project_costs=[1_000_000_000])
    async with write_transaction():
        ids = await asyncio.wait_for(
            projects.import_projects([new_project(built, "Bus shelters", 100_000_000)]), 10
        )
    assert await Proposal.count().where(Proposal.id.is_in(ids)) == 1


async def test_pot_projects_are_the_feasible_ones_by_title_at_their_reviewed_cost(
    citizen, official
):
    built = await build_cycle(official.account.id, phase="review", project_costs=[1_000_000_000])
    on_ballot = await projects.pot_projects(built.city_pot)
    assert [p.title for p in on_ballot] == ["Project 1"]
    revised = await add_proposal(built, citizen.account.id, "Benches by the river", 900_000_000)
    refused = await add_proposal(built, citizen.account.id, "A second city hall", 900_000_000)
    waiting = await add_proposal(built, citizen.account.id, "Public toilets", 400_000_000)
    await review.review(official.account.id, revised, True, "Fits the plan, cheaper.", 700_000_000)
    await review.review(official.account.id, refused, False, "Not within the budget's remit.", None)

    on_ballot = await projects.pot_projects(built.city_pot)
    assert [p.title for p in on_ballot] == ["Benches by the river", "Project 1"]
    assert on_ballot[0] == BallotProject(
        id=revised,
        pot_id=built.city_pot,
        title="Benches by the river",
        summary="Benches by the river, proposed by a resident",
        category="welfare",
        cost=700_000_000,
        location="",
    )
    assert on_ballot[1].cost == 1_000_000_000
    assert await projects.pot_projects(built.pots["11680"]) == [
        p for p in await projects.cycle_projects(built.id) if p.pot_id == built.pots["11680"]
    ]

    in_cycle = {p.id: p for p in await projects.cycle_projects(built.id)}
    assert {revised, refused, waiting} <= set(in_cycle)
    assert in_cycle[refused].cost == 900_000_000
    assert in_cycle[waiting].title == "Public toilets"
    other = await build_cycle(
        official.account.id, phase="review", name="Seoul PB 2028", fiscal_year=2028
    )
    assert not set(in_cycle) & {p.id for p in await projects.cycle_projects(other.id)}
