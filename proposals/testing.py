"""Builders for tests, the crawler and the demo: a cycle in its support phase with residents' proposals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal import clock
from portal.auth import to_current_user
from portal.db import write_transaction
from portal.identity import CurrentUser
from portal.tables import User
from proposals.tables import Proposal
from voting.services import lifecycle
from voting.testing import BuiltCycle, build_cycle


@dataclass
class SupportCycle:
    cycle: BuiltCycle
    proposals: dict[str, int] = field(default_factory=dict)  # title -> proposal id

    @property
    def id(self) -> int:
        return self.cycle.id


async def as_resident(user_id: int) -> CurrentUser:
    """The account as a signed-in request would see it."""
    row = await User.select().where(User.id == user_id).first()
    return to_current_user(row)


async def add_submitted(
    cycle_id: int,
    pot_id: int,
    author_id: int | None,
    title: str,
    cost: int = 500_000_000,
    summary: str | None = None,
) -> int:
    """A resident's proposal waiting for review (as intake leaves it)."""
    now = clock.now()
    async with write_transaction():
        rows = await Proposal.insert(
            Proposal(
                cycle=cycle_id,
                pot=pot_id,
                author=author_id,
                title=title,
                summary=summary or f"{title}: a proposal from the neighbourhood",
                category="climate",
                estimated_cost=cost,
                status="submitted",
                created_at=now,
                updated_at=now,
            )
        ).returning(Proposal.id)
    return rows[0]["id"]


async def build_support_cycle(
    official_id: int,
    *,
    rule: str = "threshold",
    cutoff: int = 2,
    proposals: dict[str, str | None] | None = None,
    author_id: int | None = None,
    name: str = "Seoul PB 2027 support",
    open_now: bool = True,
) -> SupportCycle:
    """A cycle whose support phase is open (or set and not yet open) with submitted proposals.

    ``proposals`` maps titles to a district code (None: the city-wide pot).
    """
    built = await build_cycle(official_id, phase="proposals", name=name, project_costs=[1_000_000_000])
    found = SupportCycle(built)
    for title, district in (proposals or {"Shade trees": None}).items():
        pot = built.city_pot if district is None else built.pots[district]
        found.proposals[title] = await add_submitted(built.id, pot, author_id, title)
    close_at = clock.now() + dt.timedelta(days=14)  # between intake's end and voting (schedule_for)
    await lifecycle.set_support_phase(official_id, built.id, close_at, rule, cutoff)
    if open_now:
        await lifecycle.open_support_now(official_id, built.id)
    return found
