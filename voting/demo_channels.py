"""Demo of the vote as Seoul runs it: voting stations with a poll worker, a cycle weighing its channels,
and the published cycle's participation statistics (issue #12; docs/demo.md).

The past cycle's ballots are real (pabulib), but a .pb file says nothing about who voted where: the
district, age band and channel of each of its participations are drawn here from a fixed seed, with
Seoul's district populations as weights, so the statistics page has something true to its shape to show.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from portal import clock
from portal.db import write_transaction
from portal.districts import POPULATION
from portal.tables import User
from voting.compute.rules import ballot_day
from voting.projects import pot_projects
from voting.services import channels, stations
from voting.services.statistics import freeze_statistics
from voting.tables import CommitteeMember, Participation, ParticipationStats, StationCount

DAY = dt.timedelta(days=1)
SEED = 2025
# Seoul 2019: online citizens 50, participation committee 30, district assembly 10, stations 10.
WEIGHTS = '{"assembly":10,"committee":30,"online":50,"stations":10}'
STATIONS = (
    ("강남구청 현장전자투표소", "11680", "서울 강남구 학동로 426 강남구청 1층"),
    ("종로구청 현장전자투표소", "11110", "서울 종로구 삼봉로 43 종로구청 본관"),
    ("마포구청 현장전자투표소", "11440", "서울 마포구 월드컵로 212 마포구청 1층"),
)
# Shares of the past cycle's participations: (channel, at a station?) -> weight.
CHANNEL_SHARES = {"online": 80, "station": 12, "paper": 8}
AGE_SHARES = {"-19": 4, "20-29": 16, "30-39": 19, "40-49": 21, "50-59": 18, "60-69": 14, "70+": 8}


async def add_stations(official: int, cycle_id: int, opens: dt.datetime, closes: dt.datetime) -> list[int]:
    """The demo's voting stations in a cycle, open daily from 09:00 to 18:00 KST over its voting days."""
    ids = []
    for name, district, address in STATIONS:
        data = stations.StationInput(name, district, address, opens, closes)
        ids.append(await stations.create_station(official, cycle_id, data))
    return ids


async def staff_weighted_cycle(official: int, cycle_id: int, pot_id: int, users: dict[str, int]) -> list[str]:
    """The weighted cycle's committee member, its stations with the poll worker, and assembly counts."""
    emails = {
        r["id"]: r["email"]
        for r in await User.select(User.id, User.email).where(
            User.id.is_in([users["committee"], users["pollworker"]])
        )
    }
    now = clock.now()
    # The demo cycle is created already in voting, when the service no longer takes members: it was
    # appointed before voting opened, as a real one would have been.
    await CommitteeMember.insert(
        CommitteeMember(cycle=cycle_id, user=users["committee"], added_by=official, added_at=now - 10 * DAY)
    )
    station_ids = await add_stations(official, cycle_id, now - 3 * DAY, now + 14 * DAY)
    for station_id in station_ids:
        await stations.assign_worker(official, cycle_id, station_id, emails[users["pollworker"]])
    projects = sorted(p.id for p in await pot_projects(pot_id))
    rng = random.Random(SEED)
    counts = {pid: rng.randint(0, 40) for pid in projects[:12]}
    await channels.save_assembly_counts(official, cycle_id, pot_id, counts)
    return [
        f"    weights online 50 / committee 30 / assembly 10 / stations 10; {len(station_ids)} stations"
        f" staffed by {emails[users['pollworker']]}; committee member {emails[users['committee']]}"
    ]


async def past_participations(official: int, cycle_id: int, voters: int, closed_at: dt.datetime) -> None:
    """Participations for the past cycle's ``voters`` (synthetic facts, see the module doc), and its
    statistics frozen from them.

    The demo creates the past cycle already closed (its dates are a year ago), so its close froze
    statistics of no one; history is being written here, so that empty snapshot is replaced once.
    """
    station_ids = await add_stations(official, cycle_id, closed_at - 17 * DAY, closed_at)
    station_district = {
        sid: district for sid, (_, district, _) in zip(station_ids, STATIONS, strict=True)
    }
    rng = random.Random(SEED)
    districts = sorted(POPULATION)
    day = ballot_day(closed_at - DAY)
    rows = []
    for _ in range(voters):
        channel = rng.choices(list(CHANNEL_SHARES), weights=list(CHANNEL_SHARES.values()))[0]
        station = None if channel == "online" else rng.choice(station_ids)
        district = (
            station_district[station]
            if station
            else rng.choices(districts, weights=[POPULATION[d] for d in districts])[0]
        )
        band = rng.choices(list(AGE_SHARES), weights=list(AGE_SHARES.values()))[0]
        rows.append(
            Participation(
                cycle=cycle_id,
                person_key=secrets.token_hex(32),
                channel=channel,
                recorded_on=day,
                district_code=district,
                age_band=band,
                station=station,
            )
        )
    async with write_transaction():
        for start in range(0, len(rows), 400):
            await Participation.insert(*rows[start : start + 400])
        for station_id in station_ids:
            handed = sum(1 for r in rows if r.station == station_id and r.channel == "paper")
            await StationCount.update({StationCount.paper_ballots: handed}).where(
                StationCount.station == station_id
            )
        await ParticipationStats.delete().where(ParticipationStats.cycle == cycle_id)
        await freeze_statistics(cycle_id, closed_at)

