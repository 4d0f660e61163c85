"""Paper ballots of a station: batches keyed twice, mismatches resolved by a third person, counting
into ``pb_ballot`` with channel "paper", and the tally sheet that must reconcile before the station
closes. The batch's state machine (``voting.compute.paper.BATCH_STEPS``) moves only here.

Nothing links a paper ballot to a person: a counted sheet gets a random voter key and receipt, and
the audit events carry sheet numbers and counts, never what a sheet says.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from portal import audit, clock
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.errors import Conflict, InvalidInput, NotAllowed, NotFoundError
from portal.identity import CurrentUser
from voting.compute import paper
from voting.compute.rules import ballot_day, new_ballot_id, new_receipt, validate_ballot
from voting.projects import pot_projects
from voting.services.cycles import get_cycle, rules_of
from voting.services.lifecycle import take_due_steps
from voting.tables import (
    PaperBatch,
    PaperKeying,
    Pot,
    Station,
    StationCount,
    StationTally,
    StationWorker,
)


@dataclass(frozen=True)
class Batch:
    id: int
    station_id: int
    pot_id: int
    number: int
    state: str
    keyers: tuple[int, ...]  # who keyed it (first, second): to refuse a third keying by them
    resolver: int | None
    valid: int
    invalid: int
    spoiled_reasons: dict[str, dict[str, Any]]  # sheet -> {"message", "params"}: why it did not count


@dataclass(frozen=True)
class Tally:
    handed_out: int
    returned: int
    spoiled: int
    reconciled_at: Any


@dataclass(frozen=True)
class StationPaper:
    """A station's paper ballots at a glance: its batches, its tally sheet and how it reconciles."""

    station: dict[str, Any]
    batches: list[Batch]
    tally: Tally | None
    reconciliation: paper.Reconciliation | None


# ---------------------------------------------------------------- reading


async def get_station(station_id: int) -> dict[str, Any]:
    # Plain statements here and below: every paper desk request asks them (bench/vote_day.py).
    rows = await raw("SELECT * FROM pb_station WHERE id = {}", station_id)
    if not rows:
        raise NotFoundError("We could not find that voting station.")
    return dict(rows[0])


async def is_station_worker(station_id: int, user_id: int) -> bool:
    return bool(await raw('SELECT 1 FROM pb_station_worker WHERE station = {} AND "user" = {}', station_id, user_id))


async def stations_of_worker(user_id: int) -> list[dict[str, Any]]:
    ids = [r["station"] for r in await StationWorker.select(StationWorker.station).where(StationWorker.user == user_id)]
    if not ids:
        return []
    return await Station.select().where(Station.id.is_in(ids)).order_by(Station.id)


async def all_stations() -> list[dict[str, Any]]:
    return await Station.select().order_by(Station.cycle, Station.id)


async def _batch_of(row: dict[str, Any]) -> Batch:
    keyings = await raw("SELECT worker, purpose FROM pb_paper_keying WHERE batch = {}", row["id"])
    by_purpose = {k["purpose"]: k["worker"] for k in keyings}
    return Batch(
        id=row["id"],
        station_id=row["station"],
        pot_id=row["pot"],
        number=row["number"],
        state=row["state"],
        keyers=tuple(by_purpose[p] for p in ("first", "second") if p in by_purpose),
        resolver=by_purpose.get("resolution"),
        valid=row["valid"],
        invalid=row["invalid"],
        spoiled_reasons=json.loads(row["spoiled_reasons"] or "{}"),
    )


async def get_batch(station_id: int, batch_id: int) -> Batch:
    rows = await raw("SELECT * FROM pb_paper_batch WHERE id = {} AND station = {}", batch_id, station_id)
    if not rows:
        raise NotFoundError("We could not find that batch of paper ballots.")
    return await _batch_of(dict(rows[0]))


async def station_paper(station_id: int) -> StationPaper:
    station = await get_station(station_id)
    rows = await PaperBatch.select().where(PaperBatch.station == station_id).order_by(PaperBatch.number)
    batches = [await _batch_of(r) for r in rows]
    tally_row = await StationTally.select().where(StationTally.station == station_id).first()
    tally = reconciliation = None
    if tally_row:
        tally = Tally(tally_row["handed_out"], tally_row["returned"], tally_row["spoiled"], tally_row["reconciled_at"])
        reconciliation = await _reconcile(station, tally_row)
    return StationPaper(station, batches, tally, reconciliation)


async def mismatches(station_id: int, batch_id: int) -> paper.Comparison:
    """Both readings of every mismatched sheet, for the third person (never for the keyers)."""
    first, second = await _keyings(batch_id)
    return paper.compare_keyings(first, second)


async def _keyings(batch_id: int) -> tuple[dict[int, paper.Reading], dict[int, paper.Reading]]:
    rows = await raw("SELECT purpose, sheets FROM pb_paper_keying WHERE batch = {}", batch_id)
    found = {r["purpose"]: paper.keying_from_data(json.loads(r["sheets"])) for r in rows}
    return found.get("first", {}), found.get("second", {})


# ---------------------------------------------------------------- the state machine


def _step(batch: Batch, event: str) -> str:
    try:
        return paper.next_batch_state(batch.state, event)
    except ValueError:
        raise Conflict("This batch is %(state)s: that step does not fit now.", state=batch.state) from None


async def _open_station(station_id: int) -> dict[str, Any]:
    station = await get_station(station_id)
    if station["closed_at"] is not None:
        raise Conflict("This station is closed: its paper ballots can no longer change.")
    return station


async def _require_worker(station_id: int, user: CurrentUser) -> None:
    if not await is_station_worker(station_id, user.id):
        raise NotAllowed("Only poll workers assigned to this station can do that.")


async def open_batch(user: CurrentUser, station_id: int, pot_id: int, number: int) -> int:
    """A new bundle of paper ballots for one pot, numbered within the station."""
    async with write_transaction(lock_key=f"pb-station-{station_id}"):
        station = await _open_station(station_id)
        if not (user.has_role("official") or await is_station_worker(station_id, user.id)):
            raise NotAllowed("Only poll workers assigned to this station can do that.")
        pot = await Pot.select().where((Pot.id == pot_id) & (Pot.cycle == station["cycle"])).first()
        if pot is None or pot["district_code"] not in (None, station["district_code"]):
            raise InvalidInput("Choose the city-wide pot or this station's district pot.", field="pot")
        if number < 1:
            raise InvalidInput("Enter a whole number.", field="number")
        if await PaperBatch.exists().where((PaperBatch.station == station_id) & (PaperBatch.number == number)):
            raise InvalidInput("This station already has a batch %(number)s.", field="number", number=number)
        row = await PaperBatch.insert(
            PaperBatch(station=station_id, pot=pot_id, number=number, state="open", opened_by=user.id, created_at=clock.now())
        ).returning(PaperBatch.id)
        batch_id = row[0]["id"]
        await audit.record_unlinked("pb.paper.batch.opened", actor_id=user.id, subject=f"pb-station:{station_id}", batch=batch_id, pot=pot_id, number=number)
    return batch_id


async def key_batch(user: CurrentUser, station_id: int, batch_id: int, keying: dict[int, paper.Reading]) -> Batch:
    """One poll worker's keying of the whole batch. The second keying, by another poll worker, is
    compared with the first: agreeing, the batch is keyed twice; else every differing sheet waits
    for a third person."""
    if not keying:
        raise InvalidInput("Key at least one sheet.", field="form")
    async with write_transaction(lock_key=f"pb-station-{station_id}"):
        await _open_station(station_id)
        await _require_worker(station_id, user)
        batch = await get_batch(station_id, batch_id)
        if user.id in batch.keyers:
            raise Conflict("You already keyed this batch: a second poll worker must key it independently.")
        if batch.state not in ("open", "keyed-once"):
            raise Conflict("This batch was already keyed twice.")
        purpose = "first" if batch.state == "open" else "second"
        await raw(
            "INSERT INTO pb_paper_keying (batch, worker, purpose, sheets, keyed_at) VALUES ({}, {}, {}, {}, {})",
            batch_id, user.id, purpose, canonical_json(paper.keying_as_data(keying)), clock.now(),
        )
        if purpose == "first":
            state = _step(batch, "keyed")
            details: dict[str, Any] = {}
        else:
            first, _ = await _keyings(batch_id)
            comparison = paper.compare_keyings(first, keying)
            state = _step(batch, "agreed" if comparison.agree else "differed")
            details = {"mismatched_sheets": [m.sheet for m in comparison.mismatches]}
        await raw("UPDATE pb_paper_batch SET state = {} WHERE id = {}", state, batch_id)
        await audit.record_unlinked("pb.paper.batch.keyed", actor_id=user.id, subject=f"pb-station:{station_id}", batch=batch_id, keying=purpose, sheets=len(keying), state=state, **details)
    return await get_batch(station_id, batch_id)


async def resolve_batch(user: CurrentUser, station_id: int, batch_id: int, resolution: dict[int, paper.Reading | None]) -> Batch:
    """A third person (another poll worker of the station, or an official) reads every mismatched
    sheet again; ``None`` says a sheet is not in the batch."""
    async with write_transaction(lock_key=f"pb-station-{station_id}"):
        await _open_station(station_id)
        if not (user.has_role("official") or await is_station_worker(station_id, user.id)):
            raise NotAllowed("Only a poll worker of this station or an official can resolve a batch.")
        batch = await get_batch(station_id, batch_id)
        if user.id in batch.keyers:
            raise NotAllowed("A mismatch is resolved by a third person, not by one of the two keyers.")
        state = _step(batch, "resolved")
        comparison = await mismatches(station_id, batch_id)
        try:
            paper.final_sheets(comparison, resolution)
        except ValueError:
            raise InvalidInput("Resolve every mismatched sheet.", field="form") from None
        data = {str(s): ({str(p): n for p, n in r} if r is not None else None) for s, r in resolution.items()}
        await PaperKeying.insert(
            PaperKeying(batch=batch_id, worker=user.id, purpose="resolution", sheets=canonical_json(data), keyed_at=clock.now())
        )
        await PaperBatch.update({PaperBatch.state: state}).where(PaperBatch.id == batch_id)
        await audit.record_unlinked("pb.paper.batch.resolved", actor_id=user.id, subject=f"pb-station:{station_id}", batch=batch_id, sheets=sorted(resolution), missing=sorted(s for s, r in resolution.items() if r is None))
    return await get_batch(station_id, batch_id)


async def _final_sheets(batch_id: int) -> dict[int, paper.Reading]:
    first, second = await _keyings(batch_id)
    comparison = paper.compare_keyings(first, second)
    rows = await raw("SELECT sheets FROM pb_paper_keying WHERE batch = {} AND purpose = 'resolution'", batch_id)
    row = rows[0] if rows else None
    resolution: dict[int, paper.Reading | None] = {}
    for sheet, marks in (json.loads(row["sheets"]) if row else {}).items():
        resolution[int(sheet)] = None if marks is None else paper.reading_of({int(p): int(n) for p, n in marks.items()})
    return paper.final_sheets(comparison, resolution)


async def count_batch(user: CurrentUser, station_id: int, batch_id: int) -> Batch:
    """Write an agreed (or resolved) batch as paper ballots. Each sheet is checked against the
    cycle's ballot rules; a sheet they refuse is counted as spoiled, with the reason."""
    async with write_transaction(lock_key=f"pb-station-{station_id}"):
        station = await _open_station(station_id)
        if not (user.has_role("official") or await is_station_worker(station_id, user.id)):
            raise NotAllowed("Only poll workers assigned to this station can do that.")
        batch = await get_batch(station_id, batch_id)
        state = _step(batch, "counted")
        cycle = await get_cycle(station["cycle"])
        if cycle["rules_frozen_at"] is None:
            cycle = await take_due_steps(cycle)
        if cycle["rules_frozen_at"] is None or cycle["state"] == "approved":
            raise Conflict("Paper ballots are counted only between the opening of voting and the approval of results.")
        pot = (await raw("SELECT * FROM pb_pot WHERE id = {}", batch.pot_id))[0]
        costs = {p.id: p.cost for p in await pot_projects(batch.pot_id)}
        rules = rules_of(cycle)
        contents: list[str] = []
        reasons: dict[str, dict[str, Any]] = {}
        for sheet, reading in (await _final_sheets(batch_id)).items():
            try:
                content = validate_ballot(rules, pot["amount"], costs, paper.choice_of(reading, rules.ballot_kind))
            except InvalidInput as exc:
                reasons[str(sheet)] = {"message": exc.message, "params": exc.params}
                continue
            contents.append(canonical_json(content))
        await _store_paper_ballots(cycle["id"], batch.pot_id, station["district_code"], contents)
        await raw(
            "UPDATE pb_paper_batch SET state = {}, counted_at = {}, valid = {}, invalid = {}, spoiled_reasons = {} "
            "WHERE id = {}",
            state, clock.now(), len(contents), len(reasons), canonical_json(reasons), batch_id,
        )
        await audit.record_unlinked("pb.paper.batch.counted", actor_id=user.id, subject=f"pb-station:{station_id}", batch=batch_id, valid=len(contents), invalid=len(reasons), invalid_sheets=sorted(int(s) for s in reasons))
    return await get_batch(station_id, batch_id)


PAPER_ROWS_PER_INSERT = 100


async def _store_paper_ballots(cycle_id: int, pot_id: int, district_code: str, contents: list[str]) -> None:
    """Paper ballots under random voter keys (there is no voter to find again), one turnout count each."""
    if not contents:
        return
    day = ballot_day(clock.now())
    for start in range(0, len(contents), PAPER_ROWS_PER_INSERT):  # one statement per 100 sheets, not one each
        part = contents[start : start + PAPER_ROWS_PER_INSERT]
        args: list[Any] = []
        for content in part:
            args += [new_ballot_id(), pot_id, secrets.token_hex(32), new_receipt(), content, day]
        values = ", ".join("({}, {}, {}, {}, {}, 'paper', 1, {})" for _ in part)
        await raw(
            # Only placeholders are interpolated; every value is a parameter.
            f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) VALUES {values}",  # noqa: S608
            *args,
        )
    await raw(
        "INSERT INTO pb_voter_record (cycle, pot, district_code, voters) VALUES ({}, {}, {}, {}) "
        "ON CONFLICT (pot, district_code) DO UPDATE SET voters = pb_voter_record.voters + excluded.voters",
        cycle_id, pot_id, district_code, len(contents),
    )


# ---------------------------------------------------------------- the tally sheet


async def _reconcile(station: dict[str, Any], tally_row: dict[str, Any]) -> paper.Reconciliation:
    """The tally sheet against the station's counted batches and the paper ballots its check-ins handed out."""
    batches = await PaperBatch.select(PaperBatch.state, PaperBatch.valid, PaperBatch.invalid).where(PaperBatch.station == station["id"])
    counted = [b for b in batches if b["state"] == "counted"]
    valid, invalid = sum(b["valid"] for b in counted), sum(b["invalid"] for b in counted)
    count = paper.StationCount(valid + invalid, valid, invalid, len(batches) - len(counted))
    # The paper ballots this station's check-ins handed out (voting.services.check_in counts them).
    handed = await StationCount.select(StationCount.paper_ballots).where(
        StationCount.station == station["id"]
    ).first()
    recorded = handed["paper_ballots"] if handed else 0
    tally = paper.TallySheet(tally_row["handed_out"], tally_row["returned"], tally_row["spoiled"])
    return paper.reconcile(tally, count, recorded, exact=True)


async def enter_tally(user: CurrentUser, station_id: int, sheet: paper.TallySheet) -> paper.Reconciliation:
    """Save the station's tally sheet; if it reconciles, the station closes (audited either way)."""
    for name in ("handed_out", "returned", "spoiled"):
        if getattr(sheet, name) < 0:
            raise InvalidInput("Enter a number of ballots, zero or more.", field=name)
    async with write_transaction(lock_key=f"pb-station-{station_id}"):
        station = await _open_station(station_id)
        if not (user.has_role("official") or await is_station_worker(station_id, user.id)):
            raise NotAllowed("Only poll workers assigned to this station can do that.")
        now = clock.now()
        values = {"handed_out": sheet.handed_out, "returned": sheet.returned, "spoiled": sheet.spoiled}
        if await StationTally.exists().where(StationTally.station == station_id):
            await StationTally.update({**values, "entered_by": user.id, "entered_at": now}).where(StationTally.station == station_id)
        else:
            await StationTally.insert(StationTally(station=station_id, entered_by=user.id, entered_at=now, **values))
        row = await StationTally.select().where(StationTally.station == station_id).first()
        result = await _reconcile(station, row)
        await audit.record(
            "pb.paper.tally.entered", actor_id=user.id, subject=f"pb-station:{station_id}", **values,
            reconciles=result.reconciles, gaps=[g.field for g in result.gaps], not_returned=result.not_returned,
        )
        if result.reconciles:
            await StationTally.update({StationTally.reconciled_at: now}).where(StationTally.station == station_id)
            await Station.update({Station.closed_at: now}).where(Station.id == station_id)
            await audit.record("pb.station.closed", actor_id=user.id, subject=f"pb-station:{station_id}", **values)
    return result
