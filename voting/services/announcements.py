"""What PB tells the people who follow a cycle, a pot or a proposal (``portal.notifications``).

Each announcement runs inside the transaction of the step it tells about, with an event key that names
the step once and for all, so a retried or repeated step tells nobody twice. Event keys:
``pb-cycle-{id}:voting-opens``, ``pb-cycle-{id}:closing-soon``, ``pb-cycle-{id}:results-published`` and
``pb-proposal-{id}:funded`` (docs/notifications.md).
"""

from __future__ import annotations

from typing import Any

from portal import clock
from portal.notifications import announce, announced
from voting.tables import Pot


async def _targets(cycle_id: int) -> list[tuple[str, int]]:
    pots = await Pot.select(Pot.id).where(Pot.cycle == cycle_id)
    return [("cycle", cycle_id), *(("pot", p["id"]) for p in pots)]


async def cycle_state_entered(cycle: dict[str, Any], state: str) -> None:
    """Tell followers that voting opened, or that the results are approved and published."""
    cycle_id = cycle["id"]
    link = f"/pb/cycles/{cycle_id}"
    if state == "voting":
        await announce(
            f"pb-cycle-{cycle_id}:voting-opens",
            "voting-opens",
            "Voting has opened in %(cycle)s. It closes on %(closes)s.",
            targets=await _targets(cycle_id),
            params={"cycle": cycle["name"], "closes": clock.format_datetime(cycle["voting_close_at"])},
            link=link,
        )
    elif state == "approved":
        await announce(
            f"pb-cycle-{cycle_id}:results-published",
            "results-published",
            "The results of %(cycle)s are approved and published.",
            targets=await _targets(cycle_id),
            params={"cycle": cycle["name"]},
            link=f"{link}/results",
        )
        await _funded(cycle)


async def _funded(cycle: dict[str, Any]) -> None:
    """Each project the approved results fund: its followers hear it."""
    # Imported here: results reads cycles, whose lifecycle step calls this module.
    from voting.projects import project_titles
    from voting.services.results import current_runs

    titles = await project_titles(cycle["id"])
    for run in await current_runs(cycle["id"]):
        if not run["official"]:
            continue
        for project_id in run["outcome"]["selected"]:
            await announce(
                f"pb-proposal-{project_id}:funded",
                "proposal-funded",
                'A proposal you follow, "%(title)s", is funded in the approved results of %(cycle)s.',
                targets=[("proposal", project_id)],
                params={"title": titles.get(project_id, f"PB-{project_id}"), "cycle": cycle["name"]},
                link=f"/pb/proposals/{project_id}",
            )


async def remind_closing(cycle: dict[str, Any]) -> bool:
    """Remind followers once that voting closes soon; False when they were reminded already."""
    key = f"pb-cycle-{cycle['id']}:closing-soon"
    if await announced(key):
        return False
    await announce(
        key,
        "voting-closing",
        "Voting in %(cycle)s closes on %(closes)s. You can vote or change your ballot until then.",
        targets=await _targets(cycle["id"]),
        params={"cycle": cycle["name"], "closes": clock.format_datetime(cycle["voting_close_at"])},
        link=f"/pb/cycles/{cycle['id']}",
    )
    return True
