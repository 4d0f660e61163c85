"""PB cycles and their pots: reading, setting up, ballot rules, pot amounts, and the lifecycle.

proposals -> review -> voting -> closed -> approved (``voting.compute.rules.CYCLE_STATES``). The
schedule says when each step is due; the step itself is taken here, by an official's action or by
the housekeeping step (``lifecycle_loop``), never by a page read. Every step is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from portal import audit, clock, i18n
from portal.canonical import canonical_json
from portal.db import write_transaction
from portal.districts import DISTRICTS, POPULATION, district_name
from portal.errors import Conflict, InvalidInput, NotFoundError
from voting.categories import CATEGORIES
from voting.compute.rules import (
    NEXT_STATE,
    BallotRules,
    Schedule,
    split_by_population,
    states_between,
)
from voting.tables import Cycle, Pot

log = logging.getLogger("hangang.voting")
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
)
DATE_FIELDS = (
    "proposals_open_at",
    "proposals_close_at",
    "voting_open_at",
    "voting_close_at",
    "publish_at",
)


# ---------------------------------------------------------------- reading cycles


def schedule_of(cycle: dict[str, Any]) -> Schedule:
    return Schedule(
        **{name: cycle[name] for name in DATE_FIELDS}, closed_early_at=cycle["closed_early_at"]
    )


def rules_of(cycle: dict[str, Any]) -> BallotRules:
    return BallotRules(**{name: cycle[name] for name in RULE_FIELDS})


def phase_of(cycle: dict[str, Any], now: dt.datetime | None = None) -> str:
    return schedule_of(cycle).phase(now or clock.now())


def is_closed(cycle: dict[str, Any]) -> bool:
    return phase_of(cycle) in ("closed", "published")


def pot_name(pot: dict[str, Any], language: str | None = None) -> str:
    """The city-wide pot by its name, a district pot by its district's name."""
    if pot["district_code"] is None:
        return i18n.translate("City-wide", language)
    return district_name(pot["district_code"], language or i18n.current_language.get())


async def get_cycle(cycle_id: int) -> dict[str, Any]:
    """One cycle as stored (a read never moves its state; see ``advance_cycle``)."""
    cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
    if cycle is None:
        raise NotFoundError("We could not find that budgeting cycle.")
    return cycle


async def list_cycles() -> list[dict[str, Any]]:
    """Every cycle, newest first, each with its pots."""
    cycles = await Cycle.select().order_by(Cycle.id, ascending=False)
    pots = await Pot.select().order_by(Pot.id)
    by_cycle: dict[int, list[dict]] = {}
    for pot in pots:
        by_cycle.setdefault(pot["cycle"], []).append(pot)
    for cycle in cycles:
        cycle["pots"] = sorted(
            by_cycle.get(cycle["id"], []),
            key=lambda p: (p["district_code"] is not None, p["district_code"] or ""),
        )
        cycle["phase"] = phase_of(cycle)
    return cycles


async def pots_of(cycle_id: int) -> list[dict[str, Any]]:
    pots = await Pot.select().where(Pot.cycle == cycle_id).order_by(Pot.id)
    return sorted(pots, key=lambda p: (p["district_code"] is not None, p["district_code"] or ""))


async def get_pot(cycle_id: int, pot_id: int) -> dict[str, Any]:
    pot = await Pot.select().where((Pot.id == pot_id) & (Pot.cycle == cycle_id)).first()
    if pot is None:
        raise NotFoundError("We could not find that budget pot.")
    return pot



# ---------------------------------------------------------------- cycles


@dataclass
class CycleInput:
    """What an official enters to create a cycle."""

    name: str
    fiscal_year: int
    city_amount: int
    proposals_open_at: dt.datetime
    proposals_close_at: dt.datetime
    voting_open_at: dt.datetime
    voting_close_at: dt.datetime
    publish_at: dt.datetime
    rules: BallotRules = field(default_factory=BallotRules)
    district_amounts: dict[str, int] | None = None  # entered per district ...
    district_total: int | None = None  # ... or split by population with a floor
    district_floor: int = 0
    categories: tuple[str, ...] = CATEGORIES


def district_amounts_for(data: CycleInput) -> dict[str, int]:
    """The 25 district pots: as entered, or split by the population formula."""
    if data.district_amounts is not None:
        codes = {d.code for d in DISTRICTS}
        if set(data.district_amounts) != codes:
            raise InvalidInput(
                "Enter an amount for each of the 25 districts.", field="district_amounts"
            )
        if any(a < 0 for a in data.district_amounts.values()):
            raise InvalidInput("Amounts cannot be negative.", field="district_amounts")
        return dict(data.district_amounts)
    if data.district_total is None:
        raise InvalidInput(
            "Enter the district amounts or a total to split by population.", field="district_total"
        )
    return split_by_population(data.district_total, data.district_floor, POPULATION)


async def create_cycle(official_id: int | None, data: CycleInput) -> int:
    """Create a cycle with its city-wide pot and 25 district pots."""
    name = data.name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("The name must have 1 to 200 characters.", field="name")
    if not 2000 <= data.fiscal_year <= 2100:
        raise InvalidInput("Enter a fiscal year between 2000 and 2100.", field="fiscal_year")
    if data.city_amount < 0:
        raise InvalidInput("Amounts cannot be negative.", field="city_amount")
    unknown = [c for c in data.categories if c not in CATEGORIES]
    if unknown or not data.categories:
        raise InvalidInput("Choose categories from the list.", field="categories")
    schedule = Schedule(
        data.proposals_open_at,
        data.proposals_close_at,
        data.voting_open_at,
        data.voting_close_at,
        data.publish_at,
    )
    schedule.check()
    data.rules.check()
    amounts = district_amounts_for(data)
    total = data.city_amount + sum(amounts.values())
    async with write_transaction(lock_key="pb-cycles"):
        rows = await Cycle.insert(
            Cycle(
                name=name,
                fiscal_year=data.fiscal_year,
                total_budget=total,
                categories=",".join(data.categories),
                proposals_open_at=data.proposals_open_at,
                proposals_close_at=data.proposals_close_at,
                voting_open_at=data.voting_open_at,
                voting_close_at=data.voting_close_at,
                publish_at=data.publish_at,
                created_by=official_id or None,
                created_at=clock.now(),
                **data.rules.as_dict(),
            )
        ).returning(Cycle.id)
        cycle_id = rows[0]["id"]
        pots = [Pot(cycle=cycle_id, district_code=None, amount=data.city_amount)]
        pots += [
            Pot(cycle=cycle_id, district_code=code, amount=amounts[code])
            for code in sorted(amounts)
        ]
        await Pot.insert(*pots)
        await audit.record(
            "pb.cycle.created",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            name=name,
            total=total,
        )
        # Dates already past (a cycle entered late) are walked through now, each step audited.
        await take_due_steps(await Cycle.select().where(Cycle.id == cycle_id).first(), official_id)
    return cycle_id


async def update_rules(official_id: int, cycle_id: int, rules: BallotRules) -> None:
    """Change the ballot and results rules; refused once voting has opened (V3)."""
    rules.check()
    await advance_cycle(cycle_id, official_id)  # a change at the opening instant meets frozen rules
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle is None:
            raise NotFoundError("We could not find that budgeting cycle.")
        if cycle["state"] not in ("proposals", "review"):
            raise Conflict("The ballot rules are frozen once voting opens.", field="ballot_kind")
        old = {name: cycle[name] for name in RULE_FIELDS}
        await Cycle.update(rules.as_dict()).where(Cycle.id == cycle_id)
        await audit.record(
            "pb.rules.changed",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            old=old,
            new=rules.as_dict(),
        )


async def update_pot_amounts(official_id: int, cycle_id: int, amounts: dict[int, int]) -> None:
    """Set pot amounts (whole KRW) before voting opens."""
    await advance_cycle(cycle_id, official_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle is None:
            raise NotFoundError("We could not find that budgeting cycle.")
        if cycle["state"] not in ("proposals", "review"):
            raise Conflict("The pots are frozen once voting opens.", field="amount")
        for pot_id, amount in amounts.items():
            if amount < 0:
                raise InvalidInput("Amounts cannot be negative.", field="amount")
            await Pot.update({Pot.amount: amount}).where(
                (Pot.id == pot_id) & (Pot.cycle == cycle_id)
            )
        total = sum(p["amount"] for p in await Pot.select(Pot.amount).where(Pot.cycle == cycle_id))
        await Cycle.update({Cycle.total_budget: total}).where(Cycle.id == cycle_id)
        await audit.record(
            "pb.pots.changed", actor_id=official_id, subject=f"pb-cycle:{cycle_id}", total=total
        )


async def cycles_open_for_envelopes() -> list[dict[str, Any]]:
    """PB cycles whose pots may still change (voting has not opened), newest first."""
    return await (
        Cycle.select(Cycle.id, Cycle.name, Cycle.fiscal_year)
        .where(Cycle.rules_frozen_at.is_null())
        .order_by(Cycle.id, ascending=False)
        .limit(50)
    )


async def cycle_fiscal_year(cycle_id: int) -> int:
    """The fiscal year a cycle spends (the city's envelopes are per year)."""
    cycle = await Cycle.select(Cycle.fiscal_year).where(Cycle.id == cycle_id).first()
    if cycle is None:
        raise NotFoundError("We could not find that budgeting cycle.")
    return cycle["fiscal_year"]


async def set_district_pot_amounts(
    official_id: int, cycle_id: int, amounts_by_district: dict[str, int]
) -> dict[str, int]:
    """Set district pots from amounts keyed by district code (the city's envelopes); returns what was set.

    Goes through ``update_pot_amounts`` so the cycle total follows its pots.
    """
    pots = await Pot.select(Pot.id, Pot.district_code).where(Pot.cycle == cycle_id)
    changed = {
        pot["district_code"]: amounts_by_district[pot["district_code"]]
        for pot in pots
        if pot["district_code"] in amounts_by_district
    }
    by_pot = {pot["id"]: changed[pot["district_code"]] for pot in pots if pot["district_code"] in changed}
    await update_pot_amounts(official_id, cycle_id, by_pot)
    return changed



# ---------------------------------------------------------------- lifecycle


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
