"""Builders for tests, the demo and the benchmark: a cycle in a given phase with projects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal import clock
from voting.compute.rules import BallotRules
from voting.projects import NewProject, import_projects
from voting.services import cycles

DAY = dt.timedelta(days=1)


def schedule_for(phase: str, now: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """Dates that put a new cycle in ``phase`` now (proposals, review or voting)."""
    now = now or clock.now()
    starts = {"proposals": -1, "review": -11, "voting": -21}[phase]
    opened = now + starts * DAY
    return {
        "proposals_open_at": opened,
        "proposals_close_at": opened + 10 * DAY,
        "voting_open_at": opened + 20 * DAY,
        "voting_close_at": opened + 30 * DAY,
        "publish_at": opened + 35 * DAY,
    }


@dataclass
class BuiltCycle:
    id: int
    city_pot: int
    pots: dict[str, int]  # district code -> pot id
    projects: dict[int, list[int]] = field(default_factory=dict)  # pot id -> project ids


async def add_projects(
    cycle_id: int,
    pot_id: int,
    costs: list[int],
    *,
    prefix: str = "Project",
    category: str = "climate",
) -> list[int]:
    """Feasible projects straight onto a pot's ballot (no author), as a review would leave them."""
    return await import_projects(
        [
            NewProject(
                cycle_id=cycle_id,
                pot_id=pot_id,
                title=f"{prefix} {i + 1}",
                summary=f"{prefix} {i + 1} for the neighbourhood",
                category=category,
                cost=cost,
            )
            for i, cost in enumerate(costs)
        ]
    )


async def build_cycle(
    official_id: int | None,
    *,
    phase: str = "voting",
    rules: BallotRules | None = None,
    city_amount: int = 10_000_000_000,
    district_total: int = 50_000_000_000,
    district_floor: int = 1_000_000_000,
    project_costs: list[int] | None = None,
    districts: tuple[str, ...] = ("11680",),
    name: str = "Seoul PB 2027",
    fiscal_year: int = 2027,
) -> BuiltCycle:
    """A cycle in ``phase`` with projects in the city-wide pot and the listed districts' pots."""
    cycle_id = await cycles.create_cycle(
        official_id,
        cycles.CycleInput(
            name=name,
            fiscal_year=fiscal_year,
            city_amount=city_amount,
            district_total=district_total,
            district_floor=district_floor,
            rules=rules or BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
            **schedule_for(phase),
        ),
    )
    pots = await cycles.pots_of(cycle_id)
    built = BuiltCycle(
        id=cycle_id,
        city_pot=next(p["id"] for p in pots if p["district_code"] is None),
        pots={p["district_code"]: p["id"] for p in pots if p["district_code"]},
    )
    costs = project_costs or [
        3_000_000_000,
        2_000_000_000,
        4_000_000_000,
        1_000_000_000,
        5_000_000_000,
    ]
    for pot_id in [built.city_pot, *(built.pots[d] for d in districts)]:
        built.projects[pot_id] = await add_projects(cycle_id, pot_id, costs)
    return built


async def seed_load(voters: int, projects: int) -> dict:
    """A cycle in voting with ``projects`` projects in the city-wide pot and ``voters`` verified
    voters, each with a ready session (inserted directly: thousands of argon2 logins would
    dominate a benchmark). Returns the cycle, pot, project ids and session keys.
    """
    import json
    import secrets

    from portal.db import write_transaction
    from portal.passwords import hash_password
    from portal.tables import SessionRecord, User

    built = await build_cycle(
        None,
        rules=BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
        city_amount=50_000_000_000,
        project_costs=[1_000_000_000 + 100_000_000 * i for i in range(projects)],
    )
    password_hash = await hash_password(secrets.token_urlsafe(24))
    now = clock.now()
    codes = list(built.pots)
    sessions: list[str] = []
    async with write_transaction():
        for start in range(0, voters, 500):
            rows = await User.insert(
                *[
                    User(
                        email=f"voter{i}@load.hangang.kr",
                        display_name=f"Voter {i}",
                        password_hash=password_hash,
                        language="en",
                        district_code=codes[i % len(codes)],
                        roles="citizen",
                        residency_verified=True,
                        residency_verified_at=now,
                        created_at=now,
                    )
                    for i in range(start, min(voters, start + 500))
                ]
            ).returning(User.id)
            records = []
            for row in rows:
                key = secrets.token_hex(32)
                stamp = int(now.timestamp())
                data = {
                    "uid": row["id"],
                    "gen": 0,
                    "stage": "full",
                    "created": stamp,
                    "seen": stamp,
                }
                records.append(
                    SessionRecord(
                        key=key,
                        data=json.dumps(data).encode(),
                        expires_at=now + dt.timedelta(hours=2),
                    )
                )
                sessions.append(key)
            await SessionRecord.insert(*records)
    return {
        "cycle": built.id,
        "pot": built.city_pot,
        "projects": built.projects[built.city_pot],
        "sessions": sessions,
    }
