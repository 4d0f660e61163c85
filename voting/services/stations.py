"""Voting stations (현장전자투표소) of a cycle and the poll workers assigned to them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal import audit, clock
from portal.db import raw, write_transaction
from portal.districts import DISTRICTS_BY_CODE
from portal.errors import Conflict, InvalidInput, NotFoundError
from portal.identity import CurrentUser
from portal.tables import User
from voting.services.cycles import get_cycle
from voting.tables import Station, StationCount, StationWorker


@dataclass(frozen=True)
class StationInput:
    """A station as officials enter it."""

    name: str
    district_code: str
    address: str
    opens_at: dt.datetime
    closes_at: dt.datetime


@dataclass(frozen=True)
class PollWorker:
    id: int
    email: str
    display_name: str


@dataclass(frozen=True)
class StationView:
    """A station with its cycle, workers and counts of ballots issued."""

    id: int
    cycle: int
    cycle_name: str
    name: str
    district_code: str
    address: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    closed_at: dt.datetime | None
    tablet_ballots: int
    paper_ballots: int
    workers: tuple[PollWorker, ...]

    def is_open(self, now: dt.datetime) -> bool:
        """Within its opening hours and not closed by reconciliation."""
        return self.closed_at is None and self.opens_at <= now < self.closes_at


def _checked(data: StationInput) -> StationInput:
    name, address = data.name.strip(), data.address.strip()
    if not name or len(name) > 200:
        raise InvalidInput("Enter the station's name (at most 200 characters).", field="name")
    if data.district_code not in DISTRICTS_BY_CODE:
        raise InvalidInput("Choose the station's district.", field="district_code")
    if len(address) > 300:
        raise InvalidInput("The address is too long (at most 300 characters).", field="address")
    if data.closes_at <= data.opens_at:
        raise InvalidInput("The station must close after it opens.", field="closes_at")
    return StationInput(name, data.district_code, address, data.opens_at, data.closes_at)


async def create_station(official_id: int, cycle_id: int, data: StationInput) -> int:
    """Add a station to a cycle (audited)."""
    await get_cycle(cycle_id)
    data = _checked(data)
    async with write_transaction():
        row = await Station.insert(
            Station(
                cycle=cycle_id,
                district_code=data.district_code,
                name=data.name,
                address=data.address,
                opens_at=data.opens_at,
                closes_at=data.closes_at,
                created_at=clock.now(),
            )
        ).returning(Station.id)
        station_id = row[0]["id"]
        await StationCount.insert(StationCount(station=station_id))
        await audit.record(
            "pb.station.created",
            actor_id=official_id,
            subject=f"pb-station:{station_id}",
            cycle=cycle_id,
            name=data.name,
            district=data.district_code,
        )
    return station_id


async def update_station(official_id: int, cycle_id: int, station_id: int, data: StationInput) -> None:
    """Change a station's name, district, address or hours (audited with old and new values)."""
    old = await station_of_cycle(cycle_id, station_id)
    data = _checked(data)
    async with write_transaction():
        await Station.update(
            {
                Station.name: data.name,
                Station.district_code: data.district_code,
                Station.address: data.address,
                Station.opens_at: data.opens_at,
                Station.closes_at: data.closes_at,
            }
        ).where(Station.id == station_id)
        await audit.record(
            "pb.station.updated",
            actor_id=official_id,
            subject=f"pb-station:{station_id}",
            old={"name": old.name, "district": old.district_code, "address": old.address,
                 "opens_at": old.opens_at.isoformat(), "closes_at": old.closes_at.isoformat()},
            new={"name": data.name, "district": data.district_code, "address": data.address,
                 "opens_at": data.opens_at.isoformat(), "closes_at": data.closes_at.isoformat()},
        )


async def assign_worker(official_id: int, cycle_id: int, station_id: int, email: str) -> None:
    """Assign a poll worker (an account holding the ``poll_worker`` role) to a station (audited)."""
    await station_of_cycle(cycle_id, station_id)
    user = await User.select(User.id, User.roles).where(User.email == email.strip().lower()).first()
    if user is None:
        raise InvalidInput("No account with this email address.", field="email")
    if "poll_worker" not in user["roles"].split(","):
        raise InvalidInput("This account is not a poll worker. An administrator gives the role first.", field="email")
    async with write_transaction():
        known = StationWorker.exists().where(
            (StationWorker.station == station_id) & (StationWorker.user == user["id"])
        )
        if await known:
            raise Conflict("This poll worker is already assigned to the station.", field="email")
        await StationWorker.insert(StationWorker(station=station_id, user=user["id"]))
        await audit.record(
            "pb.station.worker_assigned", actor_id=official_id, subject=f"pb-station:{station_id}", user=user["id"]
        )


async def remove_worker(official_id: int, cycle_id: int, station_id: int, user_id: int) -> None:
    """Take a poll worker off a station (audited)."""
    await station_of_cycle(cycle_id, station_id)
    async with write_transaction():
        removed = await StationWorker.delete().where(
            (StationWorker.station == station_id) & (StationWorker.user == user_id)
        ).returning(StationWorker.id)
        if not removed:
            raise NotFoundError("This poll worker is not assigned to the station.")
        await audit.record(
            "pb.station.worker_removed", actor_id=official_id, subject=f"pb-station:{station_id}", user=user_id
        )


async def _views(where) -> list[StationView]:
    rows = await Station.select(
        Station.all_columns(), Station.cycle.name.as_alias("cycle_name")
    ).where(where).order_by(Station.district_code).order_by(Station.name)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    counts = {
        c["station"]: c for c in await StationCount.select().where(StationCount.station.is_in(ids))
    }
    workers: dict[int, list[PollWorker]] = {}
    for w in await StationWorker.select(
        StationWorker.station, StationWorker.user.id, StationWorker.user.email, StationWorker.user.display_name
    ).where(StationWorker.station.is_in(ids)):
        workers.setdefault(w["station"], []).append(
            PollWorker(w["user.id"], w["user.email"], w["user.display_name"])
        )
    return [
        StationView(
            id=r["id"], cycle=r["cycle"], cycle_name=r["cycle_name"], name=r["name"],
            district_code=r["district_code"], address=r["address"], opens_at=r["opens_at"],
            closes_at=r["closes_at"], closed_at=r["closed_at"],
            tablet_ballots=counts.get(r["id"], {}).get("tablet_ballots", 0),
            paper_ballots=counts.get(r["id"], {}).get("paper_ballots", 0),
            workers=tuple(workers.get(r["id"], ())),
        )
        for r in rows
    ]


async def _views_of(ids: list[int]) -> list[StationView]:
    """``_views`` for a list of station ids, in three plain statements (the same rows and order)."""
    if not ids:
        return []
    marks = ", ".join("{}" for _ in ids)
    # Only placeholders are interpolated into these statements; every value is a parameter.
    rows = await raw(
        "SELECT s.id, s.cycle, c.name AS cycle_name, s.name, s.district_code, s.address, s.opens_at, "  # noqa: S608
        f"s.closes_at, s.closed_at FROM pb_station s JOIN pb_cycle c ON c.id = s.cycle WHERE s.id IN ({marks}) "
        "ORDER BY s.district_code, s.name",
        *ids,
    )
    if not rows:
        return []
    found = [r["id"] for r in rows]
    marks = ", ".join("{}" for _ in found)
    counts = {
        c["station"]: c
        for c in await raw(
            f"SELECT station, tablet_ballots, paper_ballots FROM pb_station_count WHERE station IN ({marks})",  # noqa: S608
            *found,
        )
    }
    workers: dict[int, list[PollWorker]] = {}
    for w in await raw(
        "SELECT w.station, u.id, u.email, u.display_name FROM pb_station_worker w "  # noqa: S608
        f'JOIN portal_user u ON u.id = w."user" WHERE w.station IN ({marks}) ORDER BY w.id',
        *found,
    ):
        workers.setdefault(w["station"], []).append(PollWorker(w["id"], w["email"], w["display_name"]))
    return [
        StationView(
            id=r["id"], cycle=r["cycle"], cycle_name=r["cycle_name"], name=r["name"],
            district_code=r["district_code"], address=r["address"], opens_at=r["opens_at"],
            closes_at=r["closes_at"], closed_at=r["closed_at"],
            tablet_ballots=counts[r["id"]]["tablet_ballots"] if r["id"] in counts else 0,
            paper_ballots=counts[r["id"]]["paper_ballots"] if r["id"] in counts else 0,
            workers=tuple(workers.get(r["id"], ())),
        )
        for r in rows
    ]


async def stations_of(cycle_id: int) -> list[StationView]:
    """Every station of a cycle, by district and name."""
    await get_cycle(cycle_id)
    return await _views(Station.cycle == cycle_id)


async def station_of_cycle(cycle_id: int, station_id: int) -> StationView:
    """One station of a cycle; a station of another cycle is not found (404)."""
    found = await _views((Station.id == station_id) & (Station.cycle == cycle_id))
    if not found:
        raise NotFoundError("We could not find that voting station.")
    return found[0]


async def stations_of_worker(user: CurrentUser) -> list[StationView]:
    """The stations a poll worker is assigned to (an administrator sees every station)."""
    if user.has_role("admin"):
        return await _views(Station.id > 0)
    ids = [r["station"] for r in await raw('SELECT station FROM pb_station_worker WHERE "user" = {}', user.id)]
    return await _views_of(ids)


async def station_for_worker(user: CurrentUser, station_id: int) -> StationView:
    """A station the poll worker is assigned to; any other is not found (404).

    Every station page and check-in asks this, so it reads only that station, in plain statements
    (bench/vote_day.py: building the ORM queries for all of the worker's stations cost a tenth of a
    worker's CPU on a voting day)."""
    if user.has_role("admin") or await raw(
        'SELECT 1 FROM pb_station_worker WHERE station = {} AND "user" = {}', station_id, user.id
    ):
        for station in await _views_of([station_id]):
            return station
    raise NotFoundError("We could not find that voting station.")
