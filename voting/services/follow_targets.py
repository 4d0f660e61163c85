"""What a followed cycle or pot is called and where it lives (``follow.cycle``, ``follow.pot`` services)."""

from __future__ import annotations

from portal.notifications import FollowTarget
from voting.services.cycles import pot_name
from voting.tables import Cycle, Pot


async def describe_cycle(cycle_id: int) -> FollowTarget | None:
    row = await Cycle.select(Cycle.id, Cycle.name).where(Cycle.id == cycle_id).first()
    return FollowTarget(row["name"], f"/pb/cycles/{cycle_id}") if row else None


async def describe_pot(pot_id: int) -> FollowTarget | None:
    row = await Pot.select(*Pot.all_columns(), Pot.cycle.name).where(Pot.id == pot_id).first()
    if row is None:
        return None
    return FollowTarget(f"{row['cycle.name']} · {pot_name(row)}", f"/pb/cycles/{row['cycle']}")
