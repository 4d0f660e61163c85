"""Participation statistics frozen at close: online, tablet and paper participations across districts and
ages, the public page, its CSV and XLSX, no figure below 10 people, and no change after the close."""

from __future__ import annotations

import csv
import datetime as dt
import io

from openpyxl import load_workbook

from portal import clock
from portal.accounts import resident_identifier_hash
from portal.auth import to_current_user
from portal.tables import ResidentHash, User
from voting.compute.rules import BallotChoice
from voting.services import lifecycle
from voting.services.ballot_writer import Voter, write_ballot
from voting.services.check_in import CheckInForm, check_in
from voting.services.stations import StationInput, assign_worker, create_station
from voting.services.statistics import freeze_statistics
from voting.tables import Participation, ParticipationStats
from voting.testing import build_cycle

GANGNAM, JONGNO = "11680", "11110"


def born(age: int) -> dt.date:
    today = clock.now().date()
    return dt.date(today.year - age - 1, 1, 1)


async def _station(official_id: int, cycle_id: int, district: str, worker_email: str) -> int:
    now = clock.now()
    station_id = await create_station(
        None, cycle_id, StationInput(f"Station {district}", district, "", now - dt.timedelta(hours=1), now + dt.timedelta(hours=8))
    )
    await assign_worker(official_id, cycle_id, station_id, worker_email)
    return station_id


async def _check_in(worker, station_id: int, n: int, district: str, age: int, action: str) -> None:
    for i in range(n):
        identifier = f"{age:02d}{n:02d}{i:02d}-{district}{action[0]}"
        await ResidentHash.insert(
            ResidentHash(identifier_hash=resident_identifier_hash(identifier), district_code=district, imported_at=clock.now())
        )
        await check_in(worker, station_id, CheckInForm(identifier=identifier, birth_date=born(age).isoformat()), action)


async def _online(built, start: int, n: int, district: str, age: int | None) -> None:
    for i in range(n):
        voter = Voter(start + i, district, frozenset({None, district}), born(age) if age is not None else None)
        await write_ballot(voter, built.id, built.city_pot, BallotChoice(project_ids=tuple(built.projects[built.city_pot][:1])), "online")


async def test_statistics_are_frozen_at_close_with_small_cells_merged(official, users, client):
    built = await build_cycle(official.account.id, districts=(GANGNAM, JONGNO))
    worker_account = await users.create(["poll_worker"])
    worker = to_current_user(await User.select().where(User.id == worker_account.id).first())
    big = await _station(official.account.id, built.id, GANGNAM, worker_account.email)
    small = await _station(official.account.id, built.id, JONGNO, worker_account.email)
    # Gangnam: 28 online (12 in their twenties, 11 in their forties, 3 over 70, 2 without a birth date), 10 tablets (17).
    await _online(built, 900_000, 12, GANGNAM, 25)
    await _online(built, 900_100, 11, GANGNAM, 45)
    await _online(built, 900_200, 3, GANGNAM, 72)
    await _online(built, 900_300, 2, GANGNAM, None)
    await _check_in(worker, big, 10, GANGNAM, 17, "station")
    # Jongno: 8 online (30s), 3 paper at the Gangnam station and 2 at the Jongno one (60s): 13 in all.
    await _online(built, 900_400, 8, JONGNO, 33)
    await _check_in(worker, big, 3, JONGNO, 61, "paper")
    await _check_in(worker, small, 2, JONGNO, 62, "paper")
    assert await Participation.count() == 51
    assert await Participation.count().where(Participation.station == big) == 13

    hidden = await client.get(f"/pb/cycles/{built.id}/statistics")
    assert hidden.status_code == 404  # nothing before the close
    await lifecycle.close_early(official.account.id, built.id, "Statistics test")
    stored = await ParticipationStats.select().first()
    assert stored["cycle"] == built.id

    page = await client.get(f"/pb/cycles/{built.id}/statistics")
    assert page.status_code == 200
    text = page.text
    assert "51 people took part" in text and "<svg" in text and "<desc" in text
    assert "Online (phone-verified) + Paper ballot at a station" in text
    assert "40 or older / age unknown" in text and "30-69" in text
    assert "Station 11680 + Station 11110" in text
    results = await client.get(f"/pb/cycles/{built.id}/results")
    assert f"/pb/cycles/{built.id}/statistics" in results.text

    got = await client.get(f"/pb/cycles/{built.id}/statistics/participation.csv")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    counts = [int(r["participants"]) for r in rows]
    assert min(counts) >= 10
    cells = {(r["districts"], r["channels"], r["age_group"]): int(r["participants"]) for r in rows if r["table"] == "district-channel-age"}
    assert cells == {
        ("Gangnam-gu", "Online (phone-verified)", "20-29"): 12,
        ("Gangnam-gu", "Online (phone-verified)", "40 or older / age unknown"): 16,
        ("Gangnam-gu", "Voting station tablet", "19 or younger"): 10,
        ("Jongno-gu", "Online (phone-verified) + Paper ballot at a station", "30-69"): 13,
    }
    assert sum(cells.values()) == 51
    assert [int(r["participants"]) for r in rows if r["table"] == "station"] == [15]

    xlsx = await client.get(f"/pb/cycles/{built.id}/statistics/participation.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-1] == "Participants" and sum(v[-1] for v in values[1:] if v[0] == "district-channel-age") == 51

    korean = await client.get(f"/pb/cycles/{built.id}/statistics", headers={"Accept-Language": "ko"})
    assert korean.status_code == 200 and "참여 통계" in korean.text

    # Frozen: a late row (or a second freeze, or the scheduled step) changes nothing published.
    await Participation.insert(
        Participation(cycle=built.id, person_key="x" * 64, channel="online", recorded_on=clock.now(), district_code=JONGNO, age_band="20-29")
    )
    await freeze_statistics(built.id, clock.now())
    await lifecycle.advance_cycle(built.id)
    assert await ParticipationStats.select().first() == stored
    again = await client.get(f"/pb/cycles/{built.id}/statistics/participation.csv")
    assert again.content == got.content
    assert (await client.get(f"/pb/cycles/{built.id}/statistics/other.csv")).status_code == 404
