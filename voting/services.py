"""PB services: cycles and pots, secret ballots, results, approvals and the city push.

The only place in ``voting`` with transactions. Time comes from ``portal.clock``; money is int KRW.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from portal import audit, clock, i18n
from portal.db import is_postgres, raw, write_transaction
from portal.districts import DISTRICTS, POPULATION, district_name
from portal.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotFoundError,
    Unauthenticated,
)
from portal.identity import CurrentUser
from portal.mail import send_mail
from portal.settings import get_settings
from proposals.tables import CATEGORIES, Proposal
from voting.compute import results as results_mod
from voting.compute.rules import (
    CITY_WIDE_CODE,
    NEXT_STATE,
    BallotChoice,
    BallotRules,
    Schedule,
    ballot_day,
    ballots_sha256,
    canonical_json,
    new_ballot_id,
    new_receipt,
    split_by_population,
    states_between,
    validate_ballot,
    voter_key,
)
from voting.mixer import mix_pending
from voting.tables import Ballot, Cycle, Pot, ResultApproval, ResultRun

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


def may_vote_in(user: CurrentUser | None, pot: dict[str, Any]) -> bool:
    """Verified residents vote in the city-wide pot and in their own district's pot."""
    if user is None or not user.residency_verified or not user.district_code:
        return False
    return pot["district_code"] is None or pot["district_code"] == user.district_code


@dataclass(frozen=True)
class ProjectRow:
    """A feasible proposal as it stands on the ballot."""

    id: int
    title: str
    summary: str
    category: str
    cost: int
    location: str


async def projects_of(pot_id: int) -> list[ProjectRow]:
    """The projects on a pot's ballot: its feasible proposals, by title."""
    rows = (
        await Proposal.select(
            Proposal.id,
            Proposal.title,
            Proposal.summary,
            Proposal.category,
            Proposal.estimated_cost,
            Proposal.revised_cost,
            Proposal.location,
        )
        .where((Proposal.pot == pot_id) & (Proposal.status == "feasible"))
        .order_by(Proposal.title)
    )
    return [
        ProjectRow(
            r["id"],
            r["title"],
            r["summary"],
            r["category"],
            r["revised_cost"] if r["revised_cost"] is not None else r["estimated_cost"],
            r["location"],
        )
        for r in rows
    ]


# Ballot costs per pot, kept while the rules are frozen (the list cannot change then).
_costs_cache: dict[tuple[int, str], tuple[float, dict[int, int]]] = {}
_COSTS_TTL = 30.0


async def _ballot_costs(pot_id: int, frozen_at: dt.datetime | None) -> dict[int, int]:
    key = (pot_id, frozen_at.isoformat() if frozen_at else "")
    hit = _costs_cache.get(key)
    if hit is not None and frozen_at is not None and hit[0] > time.monotonic():
        return hit[1]
    costs = {p.id: p.cost for p in await projects_of(pot_id)}
    if frozen_at is not None:
        if len(_costs_cache) > 1000:
            _costs_cache.clear()
        _costs_cache[key] = (time.monotonic() + _COSTS_TTL, costs)
    return costs


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
        await _advance(await Cycle.select().where(Cycle.id == cycle_id).first(), official_id)
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
# proposals -> review -> voting -> closed -> approved (voting.compute.rules.CYCLE_STATES). The schedule
# says when each step is due; the step itself is taken here, by an official's action or by the
# housekeeping step (``advance_due_cycles``), never by a page read. Every step is audited.


async def _enter(
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


async def _advance(cycle: dict[str, Any], actor_id: int | None = None) -> dict[str, Any]:
    """Take every step the schedule has made due, in order, inside the caller's transaction.

    Each step is dated when the schedule made it due (not when it was noticed), and never
    before the cycle existed: rules that could not change after voting opened were frozen then.
    """
    schedule = schedule_of(cycle)
    now = clock.now()
    for state in states_between(cycle["state"], schedule.due_state(now)):
        # (an early close can make a step due before its own date: never date it in the future)
        at = min(max(schedule.starts(state), cycle["created_at"]), now)
        cycle = await _enter(cycle, state, actor_id, at, by="schedule")
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
        state = (await _advance(cycle, actor_id))["state"]
    if state == "closed" and before != "closed":
        await _count_votes(cycle_id, actor_id)
    return state


async def _count_votes(cycle_id: int, actor_id: int | None) -> None:
    """Store the result runs right after the close (the close itself is already committed)."""
    try:
        await compute_results(cycle_id, actor_id)
    except Exception:  # noqa: BLE001 - the first results read computes them instead
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
        except Exception:  # noqa: BLE001 - a busy database must not kill the worker
            log.exception("pb lifecycle step failed; will retry")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=LIFECYCLE_INTERVAL_SECONDS)


async def freeze_rules(cycle_id: int) -> None:
    """Open voting if its time has come (freezing the rules is that step); kept for callers."""
    await advance_cycle(cycle_id)


async def _freeze(cycle_id: int, cycle: dict[str, Any]) -> None:
    """The steps up to voting, inside the caller's transaction (a cast at the opening instant)."""
    await _advance(cycle)


async def close_early(official_id: int, cycle_id: int, reason: str) -> None:
    """End voting now, with a recorded reason: only while voting is open."""
    reason = reason.strip()
    if not 5 <= len(reason) <= 1000:
        raise InvalidInput("Give a reason of 5 to 1000 characters.", field="reason")
    state = await advance_cycle(cycle_id, official_id)
    if state in ("closed", "approved"):
        raise Conflict("Voting in this cycle is already closed.")
    if state != "voting":
        raise Conflict(
            "Voting has not opened yet; only open voting can be closed early."
        )
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
        await _enter(cycle, "closed", official_id, now, by="official")
    await _count_votes(cycle_id, official_id)


# ---------------------------------------------------------------- ballots


@dataclass(frozen=True)
class CastReceipt:
    receipt: str
    version: int
    changed: bool  # False when an identical ballot was already stored (a retry or double click)


@dataclass
class _CastJob:
    """One voter's cast waiting for the next group commit."""

    user: CurrentUser
    cycle_id: int
    pot_id: int
    choice: BallotChoice
    future: asyncio.Future
    cycle: dict | None = None
    pot: dict | None = None


@dataclass
class _WriterState:
    queue: list[_CastJob] = field(default_factory=list)
    busy: bool = False
    task: asyncio.Task | None = None


# One ballot writer per event loop (tests run many loops in one process).
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WriterState] = (
    weakref.WeakKeyDictionary()
)
MAX_BATCH = 64


async def cast_ballot(
    user: CurrentUser | None, cycle_id: int, pot_id: int, choice: BallotChoice
) -> CastReceipt:
    """Store (or replace) the voter's ballot and return its receipt once it is committed.

    Casts that arrive while a commit is in progress are written together in the next
    transaction (group commit: one fsync for many ballots); each reply waits for its COMMIT (A2).
    Per cast: the window, eligibility and rules are checked inside that transaction, then one
    upsert on the (pot, voter_key) unique index and an insert-if-absent of the voter record, so
    racing requests by one voter end in one ballot and one record, never an error (V1). The same
    content again returns the stored receipt without writing (idempotent retries).
    """
    if user is None:
        raise Unauthenticated("Please log in to continue.")
    loop = asyncio.get_running_loop()
    job = _CastJob(user, cycle_id, pot_id, choice, loop.create_future())
    state = _writers.get(loop)
    if state is None:
        state = _writers[loop] = _WriterState()
    state.queue.append(job)
    if not state.busy:
        state.busy = True
        state.task = loop.create_task(_drain(state))
    result: CastReceipt = await asyncio.shield(job.future)
    if result.changed:
        await _mail_receipt(user, job.cycle or {}, job.pot or {}, result)
    return result


async def _drain(state: _WriterState) -> None:
    try:
        while state.queue:
            batch, state.queue = state.queue[:MAX_BATCH], state.queue[MAX_BATCH:]
            try:
                await _write_batch(batch)
            except Exception:  # noqa: BLE001 - one bad cast must not sink the others: retry alone
                for job in batch:
                    if job.future.done():
                        continue
                    try:
                        await _write_batch([job])
                    except Exception as exc:  # noqa: BLE001 - reported to that request only
                        if not job.future.done():
                            job.future.set_exception(exc)
    finally:
        state.busy = False


async def _write_batch(batch: list[_CastJob]) -> None:
    """Write a group of casts in one transaction; resolve each future only after COMMIT."""
    outcomes: dict[int, CastReceipt | DomainError] = {}
    secret = get_settings().secret_key
    async with write_transaction():  # on SQLite: writers of all workers take turns on a file lock
        now = clock.now()
        contexts: dict[tuple[int, int], tuple[dict, dict, dict[int, int]] | DomainError] = {}
        ready: list[tuple[int, _CastJob, str, str]] = []  # (index, job, content, voter key)
        for index, job in enumerate(batch):
            try:
                ctx = contexts.get((job.cycle_id, job.pot_id))
                if ctx is None:
                    try:
                        ctx = await _cast_context(job.cycle_id, job.pot_id, now)
                    except DomainError as exc:
                        ctx = exc
                    contexts[(job.cycle_id, job.pot_id)] = ctx
                if isinstance(ctx, DomainError):
                    raise ctx
                cycle, pot, costs = ctx
                job.cycle, job.pot = cycle, pot
                if not may_vote_in(job.user, pot):
                    raise NotAllowed("Only verified residents of this pot's area can vote in it.")
                content = canonical_json(
                    validate_ballot(rules_of(cycle), pot["amount"], costs, job.choice)
                )
                ready.append((index, job, content, voter_key(secret, job.user.id, job.pot_id)))
            except DomainError as exc:
                outcomes[index] = exc
        if ready:
            outcomes.update(await _store_ballots(ready, now))
    for index, job in enumerate(batch):
        outcome = outcomes[index]
        if job.future.done():
            continue
        if isinstance(outcome, DomainError):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)


async def _store_ballots(
    ready: list[tuple[int, _CastJob, str, str]], now: dt.datetime
) -> dict[int, CastReceipt]:
    """Upsert the batch's ballots in as few statements as possible (inside the transaction).

    Voters with one cast in the batch share one multi-row upsert; a voter who cast twice in
    the same batch is written cast by cast, in order, so the later cast wins. Nothing about
    the voter is written beside the ballot: a first ballot only adds one to its district's
    turnout count (a number shared by every voter of that district and pot).
    """
    results: dict[int, CastReceipt] = {}
    day = ballot_day(now)  # a ballot keeps no time finer than the day
    seen: dict[str, int] = {}
    for _, _, _, key in ready:
        seen[key] = seen.get(key, 0) + 1
    singles = [item for item in ready if seen[item[3]] == 1]
    if singles:
        values = ", ".join("({}, {}, {}, {}, {}, 1, {})" for _ in singles)
        args: list[object] = []
        for _, job, content, key in singles:
            args += [new_ballot_id(), job.pot_id, key, new_receipt(), content, day]
        rows = await raw(
            # Only placeholders are interpolated into these statements; every value is a parameter.
            f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at) VALUES {values} "  # noqa: S608
            "ON CONFLICT (pot, voter_key) DO UPDATE SET content = excluded.content, receipt = excluded.receipt, "
            "version = pb_ballot.version + 1, cast_at = excluded.cast_at WHERE pb_ballot.content <> excluded.content "
            "RETURNING voter_key, receipt, version",
            *args,
        )
        written = {r["voter_key"]: r for r in rows}
        unchanged = [key for _, _, _, key in singles if key not in written]
        if unchanged:
            marks = ", ".join("{}" for _ in unchanged)
            query = (
                f"SELECT voter_key, receipt, version FROM pb_ballot WHERE voter_key IN ({marks})"  # noqa: S608
            )
            for r in await raw(query, *unchanged):
                written[r["voter_key"]] = {**r, "unchanged": True}
        for index, _, _, key in singles:
            row = written[key]
            results[index] = CastReceipt(
                row["receipt"], row["version"], not row.get("unchanged", False)
            )
    for index, job, content, key in ready:
        if seen[key] > 1:
            results[index] = await _store_ballot(job, content, key, day)
    # Turnout: one more voter of this district in this pot, for each first ballot.
    firsts: dict[tuple[int, int, str], int] = {}
    for index, job, _, _ in ready:
        if results[index].changed and results[index].version == 1:
            slot = (job.cycle_id, job.pot_id, job.user.district_code or "")
            firsts[slot] = firsts.get(slot, 0) + 1
    if firsts:
        values = ", ".join("({}, {}, {}, {})" for _ in firsts)
        args = [value for slot, n in sorted(firsts.items()) for value in (*slot, n)]
        await raw(
            f"INSERT INTO pb_voter_record (cycle, pot, district_code, voters) VALUES {values} "  # noqa: S608
            "ON CONFLICT (pot, district_code) DO UPDATE SET voters = pb_voter_record.voters + excluded.voters",
            *args,
        )
    return results


async def _cast_context(
    cycle_id: int, pot_id: int, now: dt.datetime
) -> tuple[dict, dict, dict[int, int]]:
    """Cycle, pot and ballot costs, read inside the writing transaction (404/409 checks, V3)."""
    pot = await Pot.select().where((Pot.id == pot_id) & (Pot.cycle == cycle_id)).first()
    if pot is None:
        raise NotFoundError("We could not find that budget pot.")
    cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
    if cycle is None:
        raise NotFoundError("We could not find that budgeting cycle.")
    if phase_of(cycle, now) != "voting":
        raise Conflict("Voting is not open in this cycle.")
    if cycle["rules_frozen_at"] is None:
        await _freeze(cycle_id, cycle)
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
    return cycle, pot, await _ballot_costs(pot_id, cycle["rules_frozen_at"])


async def _store_ballot(job: _CastJob, content: str, key: str, day: dt.datetime) -> CastReceipt:
    rows = await raw(
        "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at) VALUES ({}, {}, {}, {}, {}, 1, {}) "
        "ON CONFLICT (pot, voter_key) DO UPDATE SET content = excluded.content, receipt = excluded.receipt, "
        "version = pb_ballot.version + 1, cast_at = excluded.cast_at WHERE pb_ballot.content <> excluded.content "
        "RETURNING receipt, version",
        new_ballot_id(),
        job.pot_id,
        key,
        new_receipt(),
        content,
        day,
    )
    changed = bool(rows)
    if not rows:
        rows = await raw(
            "SELECT receipt, version FROM pb_ballot WHERE pot = {} AND voter_key = {}",
            job.pot_id,
            key,
        )
    return CastReceipt(rows[0]["receipt"], rows[0]["version"], changed)


async def _mail_receipt(user: CurrentUser, cycle: dict, pot: dict, receipt: CastReceipt) -> None:
    """Email the receipt (after COMMIT; a mail failure never undoes a stored ballot)."""
    language = user.language
    body = i18n.translate(
        "Your ballot in %(cycle)s (%(pot)s) was stored. Your receipt is %(receipt)s. After voting closes, find it in the published list of receipts to check that your ballot was counted.",
        language,
        cycle=cycle["name"],
        pot=pot_name(pot, language),
        receipt=receipt.receipt,
    )
    try:
        await send_mail(user.email, i18n.translate("Your ballot receipt", language), body)
    except Exception:  # noqa: BLE001 - the ballot is stored; the receipt stays on screen
        log.warning("receipt mail failed", extra={"cycle": cycle["id"]})


@dataclass(frozen=True)
class MyBallot:
    receipt: str
    version: int
    cast_at: dt.datetime
    content: dict


async def my_ballot(user: CurrentUser, cycle_id: int, pot_id: int) -> MyBallot | None:
    """The caller's own current ballot in a pot (found by the keyed HMAC; S14)."""
    await get_pot(cycle_id, pot_id)
    key = voter_key(get_settings().secret_key, user.id, pot_id)
    row = (
        await Ballot.select(Ballot.receipt, Ballot.version, Ballot.cast_at, Ballot.content)
        .where((Ballot.pot == pot_id) & (Ballot.voter_key == key))
        .first()
    )
    if row is None:
        return None
    return MyBallot(row["receipt"], row["version"], row["cast_at"], json.loads(row["content"]))


async def pots_voted(user: CurrentUser, cycle_id: int) -> set[int]:
    """The pots of a cycle the user has a ballot in, found by the keyed HMAC (no voter rows)."""
    secret = get_settings().secret_key
    keys = {
        voter_key(secret, user.id, pot["id"]): pot["id"]
        for pot in await pots_of(cycle_id)
        if may_vote_in(user, pot)
    }
    if not keys:
        return set()
    pots = sorted(set(keys.values()))
    rows = await raw(
        f"SELECT voter_key FROM pb_ballot WHERE pot IN ({', '.join('{}' for _ in pots)}) "  # noqa: S608
        f"AND voter_key IN ({', '.join('{}' for _ in keys)})",
        *pots,
        *keys,
    )
    return {keys[r["voter_key"]] for r in rows}


# ---------------------------------------------------------------- results


def _require_closed(cycle: dict[str, Any]) -> None:
    """Results do not exist for anyone, officials included, until voting closes (V4)."""
    if not is_closed(cycle):
        raise NotFoundError("We could not find that page.")


async def _pot_input(cycle: dict, pot: dict) -> tuple[results_mod.PotInput, list[str]]:
    costs = {p.id: p.cost for p in await projects_of(pot["id"])}
    contents = [
        r["content"] for r in await Ballot.select(Ballot.content).where(Ballot.pot == pot["id"])
    ]
    data = results_mod.PotInput(
        budget=pot["amount"],
        costs=costs,
        ballots=[json.loads(c) for c in contents],
        ballot_kind=cycle["ballot_kind"],
        tie_break=cycle["tie_break"],
        tie_seed=cycle["tie_seed"],
        vote_threshold=cycle["vote_threshold"],
    )
    return data, contents


async def compute_results(cycle_id: int, actor_id: int | None = None) -> list[dict[str, Any]]:
    """Count every pot with the cycle's rule and the comparison rule; store immutable runs.

    A run whose inputs (rule, parameters, ballots hash) match a stored run is not stored again,
    so recomputing yields the same runs. Returns the current runs.
    """
    cycle = await get_cycle(cycle_id)
    _require_closed(cycle)
    # Voting is over: mix the last ballots now rather than at the mixer's next round.
    await mix_pending([p["id"] for p in await pots_of(cycle_id)])
    async with write_transaction(lock_key=f"pb-results-{cycle_id}"):
        for pot in await pots_of(cycle_id):
            data, contents = await _pot_input(cycle, pot)
            digest = ballots_sha256(contents)
            for rule, official in (
                (cycle["results_rule"], True),
                (results_mod.comparison_rule(cycle["results_rule"]), False),
            ):
                params = results_mod.parameters(rule, data)
                params["projects"] = {str(pid): cost for pid, cost in sorted(data.costs.items())}
                current = (
                    await ResultRun.select(
                        ResultRun.id, ResultRun.parameters, ResultRun.ballots_sha256
                    )
                    .where(
                        (ResultRun.pot == pot["id"])
                        & (ResultRun.rule == rule)
                        & ResultRun.superseded.eq(False)
                    )
                    .first()
                )
                if (
                    current
                    and current["ballots_sha256"] == digest
                    and current["parameters"] == canonical_json(params)
                ):
                    continue
                _, outcome = results_mod.run_rule(rule, data)
                if current:
                    await ResultRun.update({ResultRun.superseded: True}).where(
                        ResultRun.id == current["id"]
                    )
                await ResultRun.insert(
                    ResultRun(
                        cycle=cycle_id,
                        pot=pot["id"],
                        rule=rule,
                        official=official,
                        parameters=canonical_json(params),
                        ballots_sha256=digest,
                        outcome=canonical_json(outcome),
                        computed_at=clock.now(),
                    )
                )
                await audit.record(
                    "pb.results.computed",
                    actor_id=actor_id,
                    subject=f"pb-pot:{pot['id']}",
                    rule=rule,
                    ballots_sha256=digest,
                    selected=outcome["selected"],
                )
    return await current_runs(cycle_id)


async def current_runs(cycle_id: int) -> list[dict[str, Any]]:
    rows = (
        await ResultRun.select()
        .where((ResultRun.cycle == cycle_id) & ResultRun.superseded.eq(False))
        .order_by(ResultRun.id)
    )  # noqa: E712
    for row in rows:
        row["outcome"] = json.loads(row["outcome"])
        row["parameters"] = json.loads(row["parameters"])
    return rows


async def results_of(cycle_id: int) -> tuple[dict, list[dict], list[dict]]:
    """(cycle, pots, runs) after close (404 before).

    The close counts the votes; only a cycle closed by its dates before the scheduled step ran
    gets its runs computed here.
    """
    cycle = await get_cycle(cycle_id)
    _require_closed(cycle)
    runs = await current_runs(cycle_id)
    pots = await pots_of(cycle_id)
    if len(runs) < 2 * len(pots):
        runs = await compute_results(cycle_id)
    return cycle, pots, runs


async def titles_of(cycle_id: int) -> dict[int, dict[str, Any]]:
    rows = await Proposal.select(
        Proposal.id, Proposal.title, Proposal.category, Proposal.pot
    ).where(Proposal.cycle == cycle_id)
    return {r["id"]: r for r in rows}


async def receipts_of(pot_id: int) -> list[str]:
    """Every counted ballot's receipt, sorted (the order says nothing about who or when)."""
    rows = await Ballot.select(Ballot.receipt).where(Ballot.pot == pot_id).order_by(Ballot.receipt)
    return [r["receipt"] for r in rows]


async def turnout(cycle_id: int) -> list[dict[str, Any]]:
    """Per district: ballots in its pot, its residents' city-wide votes, and its population."""
    pots = await pots_of(cycle_id)
    by_district = {p["district_code"]: p for p in pots}
    ballots = await raw(
        "SELECT pot, COUNT(*) AS n FROM pb_ballot WHERE pot IN (SELECT id FROM pb_pot WHERE cycle = {}) GROUP BY pot",
        cycle_id,
    )
    per_pot = {r["pot"]: r["n"] for r in ballots}
    city = by_district.get(None)
    city_votes = await raw(
        "SELECT district_code, SUM(voters) AS n FROM pb_voter_record WHERE pot = {} GROUP BY district_code",
        city["id"] if city else 0,
    )
    city_by_district = {r["district_code"]: r["n"] for r in city_votes}
    rows = []
    for district in DISTRICTS:
        pot = by_district.get(district.code)
        rows.append(
            {
                "district_code": district.code,
                "population": POPULATION[district.code],
                "district_ballots": per_pot.get(pot["id"], 0) if pot else 0,
                "city_wide_voters": city_by_district.get(district.code, 0),
            }
        )
    rows.append(
        {
            "district_code": None,
            "population": sum(POPULATION.values()),
            "district_ballots": sum(r["district_ballots"] for r in rows),
            "city_wide_voters": per_pot.get(city["id"], 0) if city else 0,
        }
    )
    return rows


# ---------------------------------------------------------------- approval and the city push


async def approvals_of(cycle_id: int) -> list[dict[str, Any]]:
    return (
        await ResultApproval.select(
            ResultApproval.official,
            ResultApproval.approved_at,
            ResultApproval.official.display_name,
        )
        .where(ResultApproval.cycle == cycle_id)
        .order_by(ResultApproval.id)
    )


async def approve_results(cycle_id: int, official_id: int) -> int:
    """Record an official's approval; the second different official's approval enqueues the city push (V8).

    Returns the number of approvals. The outbox row is written in the same transaction (A5).
    """
    await advance_cycle(cycle_id, official_id)
    cycle, _, _ = await results_of(cycle_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        existing = await ResultApproval.select(ResultApproval.official).where(
            ResultApproval.cycle == cycle_id
        )
        if any(r["official"] == official_id for r in existing):
            raise Conflict(
                "You have already approved these results; a different official must approve them too."
            )
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle["state"] != "closed":
            raise Conflict("These results are already approved.")
        await ResultApproval.insert(
            ResultApproval(cycle=cycle_id, official=official_id, approved_at=clock.now())
        )
        count = len(existing) + 1
        await audit.record(
            "pb.results.approved",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            approvals=count,
        )
        if count == 2:
            cycle = await _enter(cycle, "approved", official_id, clock.now(), by="official")
            payload = await allocation_batch_payload(cycle_id)
            if payload is not None:
                from portal.connector.services import enqueue_batch

                await enqueue_batch(
                    "allocation",
                    payload,
                    title=cycle["name"],
                    source=f"pb-cycle:{cycle_id}",
                    actor_id=official_id,
                )
    return count


def batch_id_of(cycle: dict[str, Any]) -> str:
    return f"seoul-pb-{cycle['fiscal_year']}-c{cycle['id']}"


async def allocation_batch_payload(cycle_id: int) -> dict[str, Any] | None:
    """The contract v1 allocation batch of a closed, approved cycle (None if nothing was funded).

    Shared with the connector so both build the same body. ``revision`` is left to the outbox.
    """
    from portal.connector.batches import AllocationLine, BatchHeader, allocation_batch

    cycle = await get_cycle(cycle_id)
    _require_closed(cycle)
    approvals = (
        await ResultApproval.select()
        .where(ResultApproval.cycle == cycle_id)
        .order_by(ResultApproval.id)
    )
    if len(approvals) < 2:
        raise Conflict("Two different officials must approve the results first.")
    runs = [r for r in await current_runs(cycle_id) if r["official"]]
    pots = {p["id"]: p for p in await pots_of(cycle_id)}
    titles = await titles_of(cycle_id)
    lines = []
    for run in runs:
        pot = pots[run["pot"]]
        code = pot["district_code"] or CITY_WIDE_CODE
        name = district_name(code, "en") or "Seoul Metropolitan Government (city-wide)"
        votes = {p["id"]: p["votes"] for p in run["outcome"]["projects"]}
        costs = {p["id"]: p["cost"] for p in run["outcome"]["projects"]}
        for rank, pid in enumerate(run["outcome"]["selected"], start=1):
            lines.append(
                AllocationLine(
                    line_id=f"{cycle['fiscal_year']}-{pid:05d}",
                    project_code=f"PB-{pid:05d}",
                    title=titles[pid]["title"][:300] if pid in titles else f"PB-{pid}",
                    district_code=code,
                    district_name=name,
                    category=titles[pid]["category"] if pid in titles else "other",
                    amount=costs[pid],
                    votes=votes[pid],
                    rank=rank,
                    rule=run["rule"],
                )
            )
    if not lines:
        return None
    digest = ballots_sha256([canonical_json(r["outcome"]) for r in runs])
    header = BatchHeader(
        batch_id=batch_id_of(cycle),
        revision=1,
        fiscal_year=cycle["fiscal_year"],
        cycle=cycle["name"][:300],
        approvals=[(f"u-{a['official']}", a["approved_at"]) for a in approvals],
        generated_at=clock.now(),
        closed_at=cycle["closed_early_at"] or cycle["voting_close_at"],
        results_sha256=digest,
        audit_head=await audit.head(),
    )
    payload = allocation_batch(header, lines)
    payload["revision"] = None
    return payload


def engine_name() -> str:
    return "postgres" if is_postgres() else "sqlite"
