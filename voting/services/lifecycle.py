"""The PB cycle lifecycle: the schedule and the steps it makes due.

proposals -> review -> voting -> closed -> approved (``voting.compute.rules.CYCLE_STATES``). The
schedule says when each step is due; the step itself is taken here, by an official's action or by
the housekeeping step (``lifecycle_loop``), never by a page read. Every step is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from portal import audit, clock
from portal.canonical import canonical_json
from portal.db import write_transaction
from portal.errors import Conflict, InvalidInput, NotFoundError
from voting.compute.rules import NEXT_STATE, Schedule, states_between
from voting.services.announcements import cycle_state_entered
from voting.tables import Cycle, Pot

log = logging.getLogger("hangang.voting")
# The cycle's rule columns: frozen together when voting opens.
RULE_FIELDS = (
    "ballot_kind",
    "min_projects",
    "max_projects",
    "min_share_percent",
    "total_points",
    "max_points_per_project",
    "results_rule",
    "vote_threshold",
    "tie_break",
    "tie_seed",
    "channel_weights",
    "stations_with_online",
)
DATE_FIELDS = (
    "proposals_open_at",
    "proposals_close_at",
    "voting_open_at",
    "voting_close_at",
    "publish_at",
)


# ---------------------------------------------------------------- the schedule


def schedule_of(cycle: dict[str, Any]) -> Schedule:
    """The cycle's dates, and an early close if there was one."""
    return Schedule(
        **{name: cycle[name] for name in DATE_FIELDS}, closed_early_at=cycle["closed_early_at"]
    )


# ---------------------------------------------------------------- the steps


async def enter_state(
    cycle: dict[str, Any], state: str, actor_id: int | None, at: dt.datetime, **details: Any
) -> dict[str, Any]:
    """Take one step of the lifecycle inside the caller's transaction; returns the updated row."""
    if NEXT_STATE.get(cycle["state"]) != state:
        raise Conflict("This step does not follow from the cycle's current phase.")
    values: dict[Any, Any] = {Cycle.state: state, Cycle.state_changed_at: at}
    if state == "voting":
        values.update(await _rules_snapshot(cycle, at))
    await Cycle.update(values).where(Cycle.id == cycle["id"])
    if state == "closed":
        # Imported here: the statistics read cycles, and only this step reaches back.
        from voting.services.statistics import freeze_statistics

        await freeze_statistics(cycle["id"], at)  # in the close's transaction: frozen with it, once
    await cycle_state_entered(cycle, state)  # followers hear of it in this transaction, once
    await audit.record(
        "pb.cycle.state",
        actor_id=actor_id,
        subject=f"pb-cycle:{cycle['id']}",
        old=cycle["state"],
        new=state,
        at=at,
        **details,
    )
    return await Cycle.select().where(Cycle.id == cycle["id"]).first()


async def _rules_snapshot(cycle: dict[str, Any], at: dt.datetime) -> dict[Any, Any]:
    """Freezing the rules is the step into voting: the rules and pot amounts as they stand."""
    pots = await Pot.select(Pot.id, Pot.amount).where(Pot.cycle == cycle["id"])
    snapshot = {
        "rules": {name: cycle[name] for name in RULE_FIELDS},
        "pots": {str(p["id"]): p["amount"] for p in pots},
    }
    await audit.record(
        "pb.rules.frozen", subject=f"pb-cycle:{cycle['id']}", rules=snapshot["rules"], at=at
    )
    return {Cycle.rules_frozen_at: at, Cycle.frozen_rules: canonical_json(snapshot)}


async def take_due_steps(cycle: dict[str, Any], actor_id: int | None = None) -> dict[str, Any]:
    """Take every step the schedule has made due, in order, inside the caller's transaction.

    Each step is dated when the schedule made it due (not when it was noticed), and never
    before the cycle existed: rules that could not change after voting opened were frozen then.
    """
    schedule = schedule_of(cycle)
    now = clock.now()
    for state in states_between(cycle["state"], schedule.due_state(now)):
        # (an early close can make a step due before its own date: never date it in the future)
        at = min(max(schedule.starts(state), cycle["created_at"]), now)
        cycle = await enter_state(cycle, state, actor_id, at, by="schedule")
    return cycle


async def advance_cycle(cycle_id: int, actor_id: int | None = None) -> str:
    """Bring one cycle up to the state its schedule has reached; returns that state.

    Closing counts the votes at once, so that reading the results never has to write them.
    """
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle is None:
            raise NotFoundError("We could not find that budgeting cycle.")
        before = cycle["state"]
        state = (await take_due_steps(cycle, actor_id))["state"]
    if state == "closed" and before != "closed":
        await _count_votes(cycle_id, actor_id)
    return state


async def _count_votes(cycle_id: int, actor_id: int | None) -> None:
    """Store the result runs right after the close (the close itself is already committed)."""
    # Imported here: results reads cycles, and only this step of the lifecycle reaches back.
    from voting.services.results import compute_results

    try:
        await compute_results(cycle_id, actor_id)
    except Exception:  # the first results read computes them instead
        log.exception("counting after the close failed", extra={"cycle": cycle_id})


async def advance_due_cycles() -> int:
    """The housekeeping step: move every cycle whose schedule has moved on. Returns the steps taken."""
    now = clock.now()
    steps = 0
    for cycle in await Cycle.select().where(Cycle.state.not_in(["closed", "approved"])):
        behind = states_between(cycle["state"], schedule_of(cycle).due_state(now))
        if behind:
            await advance_cycle(cycle["id"])
            steps += len(behind)
    return steps


LIFECYCLE_INTERVAL_SECONDS = 60


async def lifecycle_loop(stop: asyncio.Event) -> None:
    """The scheduled step: every minute, take the lifecycle steps the cycles' dates have made due."""
    while not stop.is_set():
        try:
            steps = await advance_due_cycles()
            if steps:
                log.info("pb lifecycle took %s scheduled steps", steps)
        except Exception:  # a busy database must not kill the worker
            log.exception("pb lifecycle step failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=LIFECYCLE_INTERVAL_SECONDS)


async def freeze_rules(cycle_id: int) -> None:
    """Open voting if its time has come (freezing the rules is that step)."""
    await advance_cycle(cycle_id)


async def close_early(official_id: int, cycle_id: int, reason: str) -> None:
    """End voting now, with a recorded reason: only while voting is open."""
    reason = reason.strip()
    if not 5 <= len(reason) <= 1000:
        raise InvalidInput("Give a reason of 5 to 1000 characters.", field="reason")
    state = await advance_cycle(cycle_id, official_id)
    if state in ("closed", "approved"):
        raise Conflict("Voting in this cycle is already closed.")
    if state != "voting":
        raise Conflict("Voting has not opened yet; only open voting can be closed early.")
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle["state"] != "voting":  # closed meanwhile by another official
            raise Conflict("Voting in this cycle is already closed.")
        now = clock.now()
        await Cycle.update({Cycle.closed_early_at: now, Cycle.close_reason: reason}).where(
            Cycle.id == cycle_id
        )
        await audit.record(
            "pb.cycle.closed_early",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            reason=reason,
        )
        await enter_state(cycle, "closed", official_id, now, by="official")
    await _count_votes(cycle_id, official_id)
