"""The PB cycle lifecycle: the schedule and the steps it makes due.

proposals -> [support] -> review -> voting -> closed -> approved (``voting.compute.rules.CYCLE_STATES``).
The schedule says when each step is due; the step itself is taken here, by an official's action or by
the housekeeping step (``lifecycle_loop``), never by a page read. Every step is audited.

The support (공감) phase is optional: a cycle has it when officials set its closing date. Leaving it
shortlists each pot's proposals for review, in the step's transaction, through the service
``pb.shortlist_supported`` that ``proposals`` provides (voting never imports proposals).
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
from portal.manifest import domain_service
from voting.compute.rules import SUPPORT_RULES, Schedule, next_state, states_between
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
        **{name: cycle[name] for name in DATE_FIELDS},
        closed_early_at=cycle["closed_early_at"],
        support_close_at=cycle.get("support_close_at"),
    )


def has_support_phase(cycle: dict[str, Any]) -> bool:
    return cycle.get("support_close_at") is not None


# ---------------------------------------------------------------- the steps


async def enter_state(
    cycle: dict[str, Any], state: str, actor_id: int | None, at: dt.datetime, **details: Any
) -> dict[str, Any]:
    """Take one step of the lifecycle inside the caller's transaction; returns the updated row."""
    if next_state(cycle["state"], has_support_phase(cycle)) != state:
        raise Conflict("This step does not follow from the cycle's current phase.")
    values: dict[Any, Any] = {Cycle.state: state, Cycle.state_changed_at: at}
    if state == "voting":
        values.update(await _rules_snapshot(cycle, at))
    await Cycle.update(values).where(Cycle.id == cycle["id"])
    if cycle["state"] == "support":
        # The support phase ends: the supported proposals are shortlisted for review, with this step.
        await domain_service("pb.shortlist_supported")(cycle, actor_id, at)
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
    for state in states_between(cycle["state"], schedule.due_state(now), has_support_phase(cycle)):
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
        behind = states_between(
            cycle["state"], schedule_of(cycle).due_state(now), has_support_phase(cycle)
        )
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


# ---------------------------------------------------------------- the support phase


def _checked_support_rule(rule: str, cutoff: int | None) -> None:
    if rule not in SUPPORT_RULES:
        raise InvalidInput(
            "Choose a threshold of supports or the most supported proposals.", field="support_rule"
        )
    if cutoff is None or not 1 <= cutoff <= 100_000:
        raise InvalidInput("Enter a whole number from 1 to 100,000.", field="support_cutoff")


async def set_support_phase(
    official_id: int,
    cycle_id: int,
    close_at: dt.datetime | None,
    rule: str = "threshold",
    cutoff: int | None = None,
) -> None:
    """Give a cycle a support phase (from the end of intake to ``close_at``) and its shortlist rule,
    or remove it (``close_at`` None); only while intake is open, so the rule is known in advance."""
    if close_at is not None:
        _checked_support_rule(rule, cutoff)
    await advance_cycle(cycle_id, official_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle["state"] != "proposals":
            raise Conflict(
                "The support phase can only be set while proposals are being taken.",
                field="support_close_at",
            )
        if close_at is not None:
            schedule = schedule_of({**cycle, "support_close_at": close_at})
            try:
                schedule.check()
            except InvalidInput as exc:
                raise InvalidInput(
                    "The support phase must end after intake closes and before voting opens.",
                    field="support_close_at",
                ) from exc
        values = {
            Cycle.support_close_at: close_at,
            Cycle.support_rule: rule if close_at is not None else "",
            Cycle.support_cutoff: cutoff if close_at is not None else None,
        }
        await Cycle.update(values).where(Cycle.id == cycle_id)
        await audit.record(
            "pb.support.set",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            close_at=close_at,
            rule=values[Cycle.support_rule],
            cutoff=values[Cycle.support_cutoff],
        )


async def open_support_now(official_id: int, cycle_id: int) -> None:
    """End intake now and open the support phase the cycle has (an official's step, audited)."""
    await _move_date_to_now(
        official_id, cycle_id, "proposals", Cycle.proposals_close_at, "pb.support.opened_now"
    )


async def close_support_now(official_id: int, cycle_id: int) -> None:
    """End the support phase now: the shortlist is drawn and review starts (audited)."""
    await _move_date_to_now(
        official_id, cycle_id, "support", Cycle.support_close_at, "pb.support.closed_now"
    )


async def _move_date_to_now(
    official_id: int, cycle_id: int, state: str, column: Any, action: str
) -> None:
    await advance_cycle(cycle_id, official_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if not has_support_phase(cycle):
            raise Conflict("This cycle has no support phase.")
        if cycle["state"] != state:
            raise Conflict("This step does not follow from the cycle's current phase.")
        now = clock.now()
        await Cycle.update({column: now}).where(Cycle.id == cycle_id)
        await audit.record(action, actor_id=official_id, subject=f"pb-cycle:{cycle_id}", at=now)
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        await take_due_steps(cycle, official_id)
