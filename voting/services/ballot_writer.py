"""The group-commit ballot writer behind ``ballots.cast_ballot``.

Casts that arrive while a commit is in progress are written together in the next transaction (one
fsync for many ballots); each cast's reply waits for its COMMIT (A2). Per cast: the window, the
voter's areas and the rules are checked inside that transaction, then one upsert on the
(pot, voter_key) unique index and an insert-if-absent of the turnout count, so racing requests by
one voter end in one ballot, never an error (V1).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from portal import clock
from portal.ages import age_on, seoul_date
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.errors import Conflict, DomainError, NotAllowed, NotFoundError
from portal.settings import get_settings
from voting.compute.rules import (
    BallotChoice,
    ballot_day,
    new_ballot_id,
    new_receipt,
    validate_ballot,
    voter_key,
)
from voting.compute.statistics import age_band_of
from voting.projects import pot_projects
from voting.services.cycles import phase_of, rules_of
from voting.services.lifecycle import take_due_steps
from voting.services.participation import (
    VOTED_IN_PERSON,
    Facts,
    person_key,
    persons_of_accounts,
    take_part,
)
from voting.tables import Cycle, Pot


@dataclass(frozen=True)
class CastReceipt:
    receipt: str
    version: int
    changed: bool  # False when an identical ballot was already stored (a retry or double click)


@dataclass(frozen=True)
class Voter:
    """Who casts, as the writer needs them: no more than the keyed HMAC and the turnout count use."""

    id: int
    district_code: str  # "" when unknown: the turnout count's district
    areas: frozenset[str | None]  # the pots' areas they may vote in (None: city-wide)
    birth_date: dt.date | None = None  # verified by phone; None: unknown, no age check


@dataclass(frozen=True)
class StoredCast:
    """A committed cast, with the cycle and pot it was checked against (for the receipt mail)."""

    receipt: CastReceipt
    cycle: dict[str, Any]
    pot: dict[str, Any]


@dataclass
class _CastJob:
    """One voter's cast waiting for the next group commit."""

    voter: Voter
    cycle_id: int
    pot_id: int
    choice: BallotChoice
    future: asyncio.Future
    channel: str = "online"  # voting.channels.CHANNELS
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
# Before a batch, wait this long for more casts to join it (like PostgreSQL's commit_delay): a batch costs
# the same seven round trips whatever its size, and without the wait a busy writer fell into small
# batches and spent a fifth more CPU per cast (bench/vote_day.py, docs/pb.md "Fourth round").
GATHER_SECONDS = 0.003


async def write_ballot(
    voter: Voter, cycle_id: int, pot_id: int, choice: BallotChoice, channel: str = "online"
) -> StoredCast:
    """Queue the cast for the next group commit and wait for its COMMIT.

    The same content again returns the stored receipt without writing (idempotent retries).
    ``channel`` is stored on the ballot (how it was cast, never by whom).
    """
    loop = asyncio.get_running_loop()
    job = _CastJob(voter, cycle_id, pot_id, choice, loop.create_future(), channel)
    state = _writers.get(loop)
    if state is None:
        state = _writers[loop] = _WriterState()
    state.queue.append(job)
    if not state.busy:
        state.busy = True
        state.task = loop.create_task(_drain(state))
    receipt: CastReceipt = await asyncio.shield(job.future)
    return StoredCast(receipt, job.cycle or {}, job.pot or {})


async def _drain(state: _WriterState) -> None:
    try:
        while state.queue:
            if len(state.queue) < MAX_BATCH:
                await asyncio.sleep(GATHER_SECONDS)
            batch, state.queue = state.queue[:MAX_BATCH], state.queue[MAX_BATCH:]
            try:
                await _write_batch(batch)
            except Exception:  # one bad cast must not sink the others: retry each alone
                for job in batch:
                    if job.future.done():
                        continue
                    try:
                        await _write_batch([job])
                    except Exception as exc:  # reported to that request only
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
                        ctx = await cast_context(job.cycle_id, job.pot_id, now)
                    except DomainError as exc:
                        ctx = exc
                    contexts[(job.cycle_id, job.pot_id)] = ctx
                if isinstance(ctx, DomainError):
                    raise ctx
                cycle, pot, costs = ctx
                job.cycle, job.pot = cycle, pot
                if pot["district_code"] not in job.voter.areas:
                    raise NotAllowed("Only verified residents of this pot's area can vote in it.")
                check_voting_age(job.voter.birth_date, cycle, now)
                content = canonical_json(
                    validate_ballot(rules_of(cycle), pot["amount"], costs, job.choice)
                )
                ready.append((index, job, content, voter_key(secret, job.voter.id, job.pot_id)))
            except DomainError as exc:
                outcomes[index] = exc
        if ready:
            refused = await _take_part_online(ready, now)
            outcomes.update(dict.fromkeys(refused, Conflict(VOTED_IN_PERSON)))
            ready = [item for item in ready if item[0] not in refused]
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


async def _take_part_online(ready: list[tuple[int, _CastJob, str, str]], now: dt.datetime) -> set[int]:
    """Record each caster's participation in the cycle; the indexes of those who took part another way."""
    secret = get_settings().secret_key
    persons = await persons_of_accounts([job.voter.id for _, job, _, _ in ready])
    keys = {index: person_key(secret, job.cycle_id, persons[job.voter.id]) for index, job, _, _ in ready}
    facts = {
        keys[index]: Facts(job.voter.district_code or None, age_band_of(job.voter.birth_date, seoul_date(now)))
        for index, job, _, _ in ready
    }
    refused: set[int] = set()
    # Committee members' casts come through here too: their participation is the committee channel's.
    for cycle_id, channel in {(job.cycle_id, job.channel) for _, job, _, _ in ready}:
        mine = [index for index, job, _, _ in ready if (job.cycle_id, job.channel) == (cycle_id, channel)]
        channels = await take_part(cycle_id, [keys[i] for i in mine], channel, now, facts)
        refused.update(i for i in mine if channels.get(keys[i]) != channel)
    return refused


def check_voting_age(birth_date: dt.date | None, cycle: dict[str, Any], now: dt.datetime) -> None:
    """Refuse a voter under the cycle's minimum age on the Seoul calendar day of the cast (known ages only)."""
    minimum = cycle.get("min_voting_age") or 0
    if birth_date is not None and age_on(birth_date, seoul_date(now)) < minimum:
        raise NotAllowed("You must be at least %(age)s to vote in this cycle.", age=minimum)


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
        values = ", ".join("({}, {}, {}, {}, {}, 1, {}, {})" for _ in singles)
        args: list[object] = []
        for _, job, content, key in singles:
            args += [new_ballot_id(), job.pot_id, key, new_receipt(), content, day, job.channel]
        rows = await raw(
            # Only placeholders are interpolated into these statements; every value is a parameter.
            f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at, channel) VALUES {values} "  # noqa: S608
            "ON CONFLICT (pot, voter_key) DO UPDATE SET content = excluded.content, receipt = excluded.receipt, "
            "version = pb_ballot.version + 1, cast_at = excluded.cast_at, channel = excluded.channel "
            "WHERE pb_ballot.content <> excluded.content "
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
            slot = (job.cycle_id, job.pot_id, job.voter.district_code)
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


_POT_COLUMNS = tuple(c._meta.db_column_name for c in Pot._meta.columns)
_CYCLE_COLUMNS = tuple(c._meta.db_column_name for c in Cycle._meta.columns)
# One statement for both rows (each round trip inside the batch's transaction holds every cast of it).
_POT_AND_CYCLE_COLUMNS = ", ".join([f"p.{c} AS p_{c}" for c in _POT_COLUMNS] + [f"c.{c} AS c_{c}" for c in _CYCLE_COLUMNS])
_POT_AND_CYCLE = f"SELECT {_POT_AND_CYCLE_COLUMNS} FROM pb_pot p JOIN pb_cycle c ON c.id = p.cycle WHERE p.id = {{}} AND p.cycle = {{}}"  # noqa: S608


async def cast_context(
    cycle_id: int, pot_id: int, now: dt.datetime
) -> tuple[dict, dict, dict[int, int]]:
    """Cycle, pot and ballot costs, read inside the writing transaction (404/409 checks, V3)."""
    # Plain statements (the same rows Piccolo's select().first() gives): building those queries cost
    # about a tenth of a worker's CPU on a voting day (bench/cast_cost.py --py-spy).
    rows = await raw(_POT_AND_CYCLE, pot_id, cycle_id)
    if not rows:  # a pot of a cycle that does not exist does not exist either
        raise NotFoundError("We could not find that budget pot.")
    pot = {name: rows[0][f"p_{name}"] for name in _POT_COLUMNS}
    cycle = {name: rows[0][f"c_{name}"] for name in _CYCLE_COLUMNS}
    if phase_of(cycle, now) != "voting":
        raise Conflict("Voting is not open in this cycle.")
    if cycle["rules_frozen_at"] is None:
        await take_due_steps(cycle)  # a cast at the opening instant opens voting
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
    return cycle, pot, await _ballot_costs(pot_id, cycle["rules_frozen_at"])


async def _store_ballot(job: _CastJob, content: str, key: str, day: dt.datetime) -> CastReceipt:
    rows = await raw(
        "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at, channel) "
        "VALUES ({}, {}, {}, {}, {}, 1, {}, {}) "
        "ON CONFLICT (pot, voter_key) DO UPDATE SET content = excluded.content, receipt = excluded.receipt, "
        "version = pb_ballot.version + 1, cast_at = excluded.cast_at, channel = excluded.channel "
        "WHERE pb_ballot.content <> excluded.content "
        "RETURNING receipt, version",
        new_ballot_id(),
        job.pot_id,
        key,
        new_receipt(),
        content,
        day,
        job.channel,
    )
    changed = bool(rows)
    if not rows:
        rows = await raw(
            "SELECT receipt, version FROM pb_ballot WHERE pot = {} AND voter_key = {}",
            job.pot_id,
            key,
        )
    return CastReceipt(rows[0]["receipt"], rows[0]["version"], changed)


# Ballot costs per pot, kept while the rules are frozen (the list cannot change then).
_costs_cache: dict[tuple[int, str], tuple[float, dict[int, int]]] = {}
_COSTS_TTL = 30.0


async def _ballot_costs(pot_id: int, frozen_at: dt.datetime | None) -> dict[int, int]:
    key = (pot_id, frozen_at.isoformat() if frozen_at else "")
    hit = _costs_cache.get(key)
    if hit is not None and frozen_at is not None and hit[0] > time.monotonic():
        return hit[1]
    costs = {p.id: p.cost for p in await pot_projects(pot_id)}
    if frozen_at is not None:
        if len(_costs_cache) > 1000:
            _costs_cache.clear()
        _costs_cache[key] = (time.monotonic() + _COSTS_TTL, costs)
    return costs
