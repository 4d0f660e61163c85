"""PB cycles and their pots: reading, setting up, ballot rules and pot amounts.

The steps of a cycle's lifecycle (the schedule and the steps it makes due) are in ``lifecycle.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from portal import audit, clock, i18n
from portal.db import raw, write_transaction
from portal.districts import DISTRICTS, POPULATION, district_name
from portal.errors import Conflict, InvalidInput, NotFoundError
from voting.categories import CATEGORIES
from voting.compute.rules import BallotRules, Schedule, split_by_population
from voting.services.lifecycle import RULE_FIELDS, advance_cycle, schedule_of, take_due_steps
from voting.tables import Cycle, Pot

# ---------------------------------------------------------------- reading cycles


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
    # Plain statements (the same rows as ``Cycle.select()``): every station and ballot page reads the cycle
    # and its pots, and building the ORM queries was a visible share of a worker's CPU (bench/vote_day.py).
    rows = await raw("SELECT * FROM pb_cycle WHERE id = {}", cycle_id)
    if not rows:
        raise NotFoundError("We could not find that budgeting cycle.")
    return dict(rows[0])


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
    pots = [dict(r) for r in await raw("SELECT * FROM pb_pot WHERE cycle = {} ORDER BY id", cycle_id)]
    return sorted(pots, key=lambda p: (p["district_code"] is not None, p["district_code"] or ""))


async def get_pot(cycle_id: int, pot_id: int) -> dict[str, Any]:
    rows = await raw("SELECT * FROM pb_pot WHERE id = {} AND cycle = {}", pot_id, cycle_id)
    if not rows:
        raise NotFoundError("We could not find that budget pot.")
    return dict(rows[0])



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
        if cycle["state"] not in ("proposals", "support", "review"):
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
        if cycle["state"] not in ("proposals", "support", "review"):
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
