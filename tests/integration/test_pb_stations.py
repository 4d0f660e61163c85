"""Voting stations: officials' set-up, poll workers' check-in, the tablet ballot, one vote per person."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal import clock
from portal.accounts import resident_identifier_hash
from portal.tables import AuditEvent, ResidentHash
from tests.helpers import PortalClient, field_error
from voting.tables import Ballot, KioskBallot, Participation, Station, StationCount
from voting.testing import build_cycle

IDENTIFIER = "900101-1234567"
ADULT = "1990-01-01"


async def add_station(cycle_id: int, district: str = "11680") -> int:
    from voting.services.stations import StationInput, create_station

    now = clock.now()
    return await create_station(
        None, cycle_id,
        StationInput("Gangnam-gu Office", district, "426 Hakdong-ro", now - dt.timedelta(hours=1), now + dt.timedelta(hours=8)),
    )


async def register(identifier: str = IDENTIFIER, district: str = "11680", claimed_by: int | None = None) -> str:
    digest = resident_identifier_hash(identifier)
    await ResidentHash.insert(
        ResidentHash(identifier_hash=digest, district_code=district, imported_at=clock.now(), claimed_by=claimed_by)
    )
    return digest


@pytest.fixture
async def station(official, users, app):
    """A cycle in voting, an open station in Gangnam-gu and a signed-in poll worker assigned to it."""
    built = await build_cycle(official.account.id)
    station_id = await add_station(built.id)
    account = await users.create(["poll_worker"])
    from voting.services.stations import assign_worker

    await assign_worker(official.account.id, built.id, station_id, account.email)
    async with PortalClient.for_app(app) as worker:
        await worker.login(account)
        yield built, station_id, worker


async def check_in(worker, station_id: int, action: str, *, identifier: str = "", email: str = "", birth_date: str = ADULT):
    return await worker.post_form(
        f"/pb/stations/{station_id}/check-in",
        {"identifier": identifier, "email": email, "birth_date": birth_date, "action": action},
    )


def kiosk_code(response) -> str:
    match = re.search(r'id="kiosk-code">([A-Z0-9-]+)<', response.text)
    assert match, response.text
    return match.group(1)


async def online_cast(citizen, built):
    url = f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    return await citizen.send_json("PUT", url, {"project_ids": built.projects[built.city_pot][:1]})


# ------------------------------------------------------------------ officials' pages


async def test_official_defines_a_station_and_assigns_a_poll_worker(official, users):
    built = await build_cycle(official.account.id)
    base = f"/officials/pb/cycles/{built.id}/stations"
    assert (await official.get(f"/officials/pb/cycles/{built.id}")).text.count(base) >= 1
    form = {"name": "Jongno-gu Office", "district_code": "11110", "address": "43 Samil-daero",
            "opens_at": "2026-12-07T09:00", "closes_at": "2026-12-07T08:00"}
    bad = await official.post_form(base, form)
    assert bad.status_code == 422 and "close after" in field_error(bad) and "Jongno-gu Office" in bad.text
    created = await official.post_form(base, {**form, "closes_at": "2026-12-07T18:00"})
    assert created.status_code == 303
    station_id = (await Station.select(Station.id).first())["id"]
    assert (await StationCount.select().first())["station"] == station_id
    citizen = await users.create()
    refused = await official.post_form(f"{base}/{station_id}/workers", {"email": citizen.email})
    assert refused.status_code == 422 and "not a poll worker" in field_error(refused) and citizen.email in refused.text
    worker = await users.create(["poll_worker"])
    assert (await official.post_form(f"{base}/{station_id}/workers", {"email": worker.email})).status_code == 303
    again = await official.post_form(f"{base}/{station_id}/workers", {"email": worker.email})
    assert again.status_code == 409
    page = await official.get(f"{base}/{station_id}")
    assert page.status_code == 200 and worker.email in page.text
    other = await build_cycle(official.account.id, name="Other")
    assert (await official.get(f"/officials/pb/cycles/{other.id}/stations/{station_id}")).status_code == 404
    actions = {r["action"] for r in await AuditEvent.select(AuditEvent.action)}
    assert {"pb.station.created", "pb.station.worker_assigned"} <= actions
    removed = await official.post_form(f"{base}/{station_id}/workers/remove", {"user": str(worker.id)})
    assert removed.status_code == 303


async def test_poll_worker_sees_only_assigned_stations(station, official):
    built, station_id, worker = station
    assert "Gangnam-gu Office" in (await worker.get("/pb/stations")).text
    other = await add_station(built.id, "11110")
    assert (await worker.get(f"/pb/stations/{other}")).status_code == 404
    assert (await official.get(f"/pb/stations/{station_id}")).status_code == 403


# ------------------------------------------------------------------ check-in and the tablet


async def test_check_in_by_register_then_tablet_ballot_once(station, client):
    built, station_id, worker = station
    await register()
    looked = await check_in(worker, station_id, "check", identifier=IDENTIFIER)
    assert looked.status_code == 200 and "This person may vote." in looked.text
    assert await Participation.count() == 0
    opened = await check_in(worker, station_id, "station", identifier=IDENTIFIER)
    assert opened.status_code == 200 and IDENTIFIER not in opened.text  # the form starts empty again
    code = kiosk_code(opened)
    assert (await KioskBallot.select(KioskBallot.token_hash).first())["token_hash"] != code
    ballot = await client.post_form("/pb/kiosk", {"code": code})
    assert ballot.status_code == 200 and f'name="project_ids-{built.city_pot}"' in ballot.text
    district_pot = built.pots["11680"]
    cast = await client.post_form(
        "/pb/kiosk/ballot",
        {"code": code, f"project_ids-{built.city_pot}": str(built.projects[built.city_pot][0]),
         f"project_ids-{district_pot}": str(built.projects[district_pot][1])},
    )
    assert cast.status_code == 200, cast.text
    assert len(re.findall(r'class="receipt">([A-Z0-9-]{14})<', cast.text)) == 2
    rows = await Ballot.select(Ballot.channel, Ballot.pot)
    assert sorted(r["pot"] for r in rows) == sorted([built.city_pot, district_pot])
    assert {r["channel"] for r in rows} == {"station"}
    assert await KioskBallot.count() == 0
    reused = await client.post_form("/pb/kiosk", {"code": code})
    assert reused.status_code == 404 and "expired or was already used" in field_error(reused)
    assert (await Participation.select(Participation.channel).first())["channel"] == "station"
    assert (await StationCount.select().first())["tablet_ballots"] == 1
    details = [r["details"] for r in await AuditEvent.select(AuditEvent.details).where(AuditEvent.action == "pb.station.check_in")]
    assert len(details) == 1 and IDENTIFIER not in str(details) and resident_identifier_hash(IDENTIFIER) not in str(details)


async def test_bad_check_ins_say_why_beside_the_field(station):
    built, station_id, worker = station
    await register()
    unknown = await check_in(worker, station_id, "station", identifier="000000-0000000")
    assert unknown.status_code == 422 and "not in the resident register" in field_error(unknown)
    assert "000000-0000000" in unknown.text
    young = (clock.now().astimezone(clock.SEOUL).date() - dt.timedelta(days=365 * 13)).isoformat()
    under = await check_in(worker, station_id, "station", identifier=IDENTIFIER, birth_date=young)
    assert under.status_code == 403 and "minimum voting age" in field_error(under) and young in under.text
    garbled = await check_in(worker, station_id, "paper", identifier=IDENTIFIER, birth_date="1990-13-45")
    assert garbled.status_code == 422 and "birth date" in field_error(garbled)
    nobody = await check_in(worker, station_id, "paper", email="nobody@example.kr")
    assert nobody.status_code == 422 and "No account" in field_error(nobody)
    assert await Participation.count() == 0 and await KioskBallot.count() == 0


async def test_tablet_ballot_expires_and_a_broken_rule_keeps_the_code(station, client):
    built, station_id, worker = station
    await register()
    code = kiosk_code(await check_in(worker, station_id, "station", identifier=IDENTIFIER))
    too_many = {"code": code, f"project_ids-{built.city_pot}": [str(p) for p in built.projects[built.city_pot]]}
    refused = await client.post_form("/pb/kiosk/ballot", {**too_many, f"project_ids-{built.city_pot}": "999999"})
    assert refused.status_code == 422 and await KioskBallot.count() == 1
    assert 'value="999999"' not in refused.text  # a project not on the ballot is not shown
    clock.advance(dt.timedelta(minutes=6))
    expired = await client.post_form("/pb/kiosk", {"code": code})
    assert expired.status_code == 404 and "expired" in field_error(expired)
    assert await Ballot.count() == 0


# ------------------------------------------------------------------ one person, one vote


async def test_online_then_station_or_paper_is_refused(station, citizen):
    built, station_id, worker = station
    assert (await online_cast(citizen, built)).status_code == 200
    for action in ("check", "station", "paper"):
        refused = await check_in(worker, station_id, action, email=citizen.account.email)
        assert refused.status_code == 409 and "already voted online" in field_error(refused), action
    assert await KioskBallot.count() == 0
    assert "pb.station.check_in_refused" in {r["action"] for r in await AuditEvent.select(AuditEvent.action)}


@pytest.mark.parametrize("channel", ["station", "paper"])
async def test_station_or_paper_then_online_is_refused(station, citizen, channel):
    built, station_id, worker = station
    # The citizen's account claimed a register entry: checked in by the register, refused online.
    await register(claimed_by=citizen.account.id)
    assert (await check_in(worker, station_id, channel, identifier=IDENTIFIER)).status_code == 200
    refused = await online_cast(citizen, built)
    assert refused.status_code == 409 and "voting station" in refused.text
    assert await Ballot.select().where(Ballot.channel == "online") == []
    assert (await Participation.select(Participation.channel).first())["channel"] == channel


@pytest.mark.parametrize(("first", "second"), [("station", "paper"), ("paper", "station"), ("station", "station")])
async def test_two_in_person_channels_are_refused(station, citizen, first, second):
    _, station_id, worker = station
    await register(claimed_by=citizen.account.id)
    assert (await check_in(worker, station_id, first, identifier=IDENTIFIER)).status_code == 200
    # Found the second time by the account that claimed the same register entry: the same person.
    refused = await check_in(worker, station_id, second, email=citizen.account.email)
    assert refused.status_code == 409 and "already" in field_error(refused)
    assert await Participation.count() == 1


async def test_online_voter_can_still_replace_their_online_ballot(station, citizen):
    built, _, _ = station
    assert (await online_cast(citizen, built)).status_code == 200
    url = f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    again = await citizen.send_json("PUT", url, {"project_ids": built.projects[built.city_pot][1:2]})
    assert again.status_code == 200 and again.json()["version"] == 2
    assert (await Participation.select(Participation.channel).first())["channel"] == "online"


async def test_two_check_ins_at_once_give_one_ballot(station, app, official, users):
    import asyncio

    built, station_id, worker = station
    await register()
    other = await users.create(["poll_worker"])
    from voting.services.stations import assign_worker

    await assign_worker(official.account.id, built.id, station_id, other.email)
    async with PortalClient.for_app(app) as second:
        await second.login(other)
        answers = await asyncio.gather(
            check_in(worker, station_id, "station", identifier=IDENTIFIER),
            check_in(second, station_id, "paper", identifier=IDENTIFIER),
        )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert await Participation.count() == 1
    counts = await StationCount.select().first()
    assert counts["tablet_ballots"] + counts["paper_ballots"] == 1


async def test_check_in_racing_an_online_cast_lets_exactly_one_through(station, citizen):
    import asyncio

    built, station_id, worker = station
    await register(claimed_by=citizen.account.id)
    cast, checked = await asyncio.gather(
        online_cast(citizen, built), check_in(worker, station_id, "station", identifier=IDENTIFIER)
    )
    assert sorted([cast.status_code, checked.status_code]) == [200, 409], (cast.text, checked.status_code)
    assert await Participation.count() == 1
    channel = (await Participation.select(Participation.channel).first())["channel"]
    assert (channel == "online") == (cast.status_code == 200)
    assert await Ballot.count() == (1 if cast.status_code == 200 else 0)
