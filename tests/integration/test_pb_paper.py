"""Paper ballots of a station: double keying, a mismatch resolved by a third person, counting with
channel "paper", a tally sheet that must reconcile before the station closes, and no link between a
paper participation and a paper ballot."""

from __future__ import annotations

import json
import secrets

import pytest

from portal import accounts, clock
from portal.auth import to_current_user
from portal.db import raw
from portal.errors import Conflict, NotAllowed
from portal.tables import AuditEvent, User
from tests.helpers import PortalClient
from voting.compute import paper
from voting.compute.paper import TallySheet
from voting.services import paper as paper_service
from voting.services.lifecycle import close_early
from voting.services.results import compute_results
from voting.tables import Ballot, Participation, Station, StationCount, StationWorker
from voting.testing import DAY, build_cycle


async def _user(users, roles: list[str]):
    account = await users.create(roles=roles)
    row = await User.select().where(User.id == account.id).first()
    return to_current_user(row)


async def _station(users, official_id: int, *, paper_voters: int):
    """A cycle in voting with one Gangnam-gu station, three poll workers and ``paper_voters`` paper check-ins."""
    built = await build_cycle(official_id)
    now = clock.now()
    row = await Station.insert(
        Station(cycle=built.id, district_code="11680", name="강남구청", opens_at=now - DAY, closes_at=now + DAY, created_at=now)
    ).returning(Station.id)
    station_id = row[0]["id"]
    workers = [await _user(users, ["poll_worker"]) for _ in range(3)]
    for w in workers:
        await StationWorker.insert(StationWorker(station=station_id, user=w.id))
    for _ in range(paper_voters):  # as check_in records a paper ballot handed out at this station
        await Participation.insert(
            Participation(cycle=built.id, person_key=secrets.token_hex(32), channel="paper", recorded_on=clock.now())
        )
    await StationCount.insert(StationCount(station=station_id, paper_ballots=paper_voters))
    return built, station_id, workers


def _keying(*sheets: list[int]) -> dict[int, paper.Reading]:
    return {n: paper.reading_of(ticks) for n, ticks in enumerate(sheets, start=1)}


async def test_double_keying_that_agrees_is_counted_and_the_station_closes(users):
    official = await _user(users, ["official"])
    built, station_id, (a, b, _) = await _station(users, official.id, paper_voters=4)
    ids = built.projects[built.city_pot]
    batch_id = await paper_service.open_batch(a, station_id, built.city_pot, 1)
    keying = _keying([ids[0], ids[1]], [ids[2]], [])  # the third sheet is blank: spoiled
    assert (await paper_service.key_batch(a, station_id, batch_id, keying)).state == "keyed-once"
    assert (await paper_service.key_batch(b, station_id, batch_id, keying)).state == "keyed-twice"
    counted = await paper_service.count_batch(a, station_id, batch_id)
    assert (counted.state, counted.valid, counted.invalid) == ("counted", 2, 1)
    assert counted.spoiled_reasons["3"]["message"] == "Choose at least %(min)s projects."
    ballots = await Ballot.select().where(Ballot.pot == built.city_pot)
    assert sorted(json.loads(r["content"])["project_ids"] for r in ballots) == sorted([[ids[2]], sorted(ids[:2])])
    assert {r["channel"] for r in ballots} == {"paper"}
    # 4 handed out, 3 in the box (one voter left with theirs), 1 spoiled.
    result = await paper_service.enter_tally(a, station_id, TallySheet(4, 3, 1))
    assert result.reconciles and result.not_returned == 1
    assert (await Station.select().where(Station.id == station_id).first())["closed_at"] is not None
    with pytest.raises(Conflict):
        await paper_service.open_batch(a, station_id, built.city_pot, 2)
    actions = [r["action"] for r in await AuditEvent.select(AuditEvent.action)]
    for action in ("pb.paper.batch.opened", "pb.paper.batch.keyed", "pb.paper.batch.counted", "pb.paper.tally.entered", "pb.station.closed"):
        assert action in actions


async def test_a_mismatch_is_flagged_and_resolved_by_a_third_person(users):
    official = await _user(users, ["official"])
    built, station_id, (a, b, c) = await _station(users, official.id, paper_voters=3)
    ids = built.projects[built.city_pot]
    batch_id = await paper_service.open_batch(a, station_id, built.city_pot, 7)
    await paper_service.key_batch(a, station_id, batch_id, _keying([ids[0]], [ids[1]], [ids[2]]))
    batch = await paper_service.key_batch(b, station_id, batch_id, _keying([ids[0]], [ids[3]], [ids[2]]))
    assert batch.state == "mismatch"
    comparison = await paper_service.mismatches(station_id, batch_id)
    assert [(m.sheet, m.first, m.second) for m in comparison.mismatches] == [(2, ((ids[1], 1),), ((ids[3], 1),))]
    with pytest.raises(Conflict):  # not counted while a sheet is in doubt
        await paper_service.count_batch(a, station_id, batch_id)
    for keyer in (a, b):
        with pytest.raises(NotAllowed):
            await paper_service.resolve_batch(keyer, station_id, batch_id, {2: ((ids[3], 1),)})
    assert (await paper_service.resolve_batch(c, station_id, batch_id, {2: ((ids[3], 1),)})).state == "resolved"
    assert (await paper_service.count_batch(c, station_id, batch_id)).valid == 3
    contents = [json.loads(r["content"]) for r in await Ballot.select(Ballot.content).where(Ballot.pot == built.city_pot)]
    assert {"project_ids": [ids[3]]} in contents and {"project_ids": [ids[1]]} not in contents


async def test_the_same_worker_cannot_key_a_batch_twice_nor_an_unassigned_one(users):
    official = await _user(users, ["official"])
    built, station_id, (a, _, _) = await _station(users, official.id, paper_voters=1)
    ids = built.projects[built.city_pot]
    batch_id = await paper_service.open_batch(a, station_id, built.city_pot, 1)
    await paper_service.key_batch(a, station_id, batch_id, _keying([ids[0]]))
    with pytest.raises(Conflict, match="already keyed"):
        await paper_service.key_batch(a, station_id, batch_id, _keying([ids[0]]))
    stranger = await _user(users, ["poll_worker"])
    with pytest.raises(NotAllowed):
        await paper_service.key_batch(stranger, station_id, batch_id, _keying([ids[0]]))
    with pytest.raises(NotAllowed):  # officials resolve, they do not key
        await paper_service.key_batch(official, station_id, batch_id, _keying([ids[0]]))
    assert (await paper_service.get_batch(station_id, batch_id)).state == "keyed-once"


async def test_a_tally_that_does_not_reconcile_keeps_the_station_open(users):
    official = await _user(users, ["official"])
    built, station_id, (a, b, _) = await _station(users, official.id, paper_voters=2)
    ids = built.projects[built.city_pot]
    batch_id = await paper_service.open_batch(a, station_id, built.city_pot, 1)
    keying = _keying([ids[0]], [ids[1]])
    await paper_service.key_batch(a, station_id, batch_id, keying)
    result = await paper_service.enter_tally(a, station_id, TallySheet(2, 2, 0))
    assert [g.field for g in result.gaps] == ["form", "returned"]  # batch not counted yet
    await paper_service.key_batch(b, station_id, batch_id, keying)
    await paper_service.count_batch(b, station_id, batch_id)
    result = await paper_service.enter_tally(a, station_id, TallySheet(3, 3, 0))
    assert [g.field for g in result.gaps] == ["handed_out", "returned"]
    assert result.gaps[0].params == {"handed_out": 3, "participations": 2}
    station = await Station.select().where(Station.id == station_id).first()
    assert station["closed_at"] is None
    overview = await paper_service.station_paper(station_id)
    assert overview.tally.reconciled_at is None and not overview.reconciliation.reconciles
    assert (await paper_service.enter_tally(official, station_id, TallySheet(2, 2, 0))).reconciles


async def test_counted_paper_ballots_are_in_the_pots_results_and_link_to_no_participation(users):
    official = await _user(users, ["official"])
    built, station_id, (a, b, _) = await _station(users, official.id, paper_voters=3)
    ids = built.projects[built.city_pot]
    batch_id = await paper_service.open_batch(a, station_id, built.city_pot, 1)
    keying = _keying([ids[3]], [ids[3]], [ids[3], ids[0]])
    await paper_service.key_batch(a, station_id, batch_id, keying)
    await paper_service.key_batch(b, station_id, batch_id, keying)
    await paper_service.count_batch(b, station_id, batch_id)
    await close_early(official.id, built.id, "paper test")
    clock.advance(DAY)
    runs = await compute_results(built.id, official.id)
    official_run = next(r for r in runs if r["pot"] == built.city_pot and r["official"])
    outcome = json.loads(official_run["outcome"]) if isinstance(official_run["outcome"], str) else official_run["outcome"]
    assert ids[3] in outcome["selected"]
    channels = await raw("SELECT channel, COUNT(*) AS n FROM pb_ballot WHERE pot = {} GROUP BY channel", built.city_pot)
    assert [(r["channel"], r["n"]) for r in channels] == [("paper", 3)]
    # Nothing shared between a paper participation and a paper ballot: keys, days or ids.
    keys = {r["person_key"] for r in await Participation.select(Participation.person_key)}
    ballots = await Ballot.select().where(Ballot.pot == built.city_pot)
    assert not keys & {r["voter_key"] for r in ballots}
    columns = {c._meta.name for c in Ballot._meta.columns}
    assert not columns & {"person_key", "participation", "station", "batch", "user"}
    keyings = await raw("SELECT sheets FROM pb_paper_keying")
    assert not any(r["voter_key"] in k["sheets"] or r["receipt"] in k["sheets"] for r in ballots for k in keyings)


# ---------------------------------------------------------------- the pages


async def _worker_client(app, users, station_id: int) -> PortalClient:
    account = await users.create(roles=["poll_worker"])
    await StationWorker.insert(StationWorker(station=station_id, user=account.id))
    client = PortalClient.for_app(app)
    await client.login(account)
    return client


async def test_a_station_end_to_end_through_the_pages_in_both_languages(app, users, official):
    built, station_id, _ = await _station(users, official.account.id, paper_voters=2)
    ids = built.projects[built.city_pot]
    base = f"/pb/stations/{station_id}/paper"
    first, second, third = [await _worker_client(app, users, station_id) for _ in range(3)]
    try:
        assert (await first.get("/pb/stations/paper")).status_code == 200
        response = await first.post_form(f"{base}/batches", {"pot": built.city_pot, "number": "x1"})
        assert response.status_code == 422 and 'value="x1"' in response.text and 'id="f-number-error"' in response.text
        response = await first.post_form(f"{base}/batches", {"pot": built.city_pot, "number": "1"})
        assert response.status_code == 303
        batch_url = response.headers["location"]
        # Ticks without a sheet number: refused beside the row, the ticks kept.
        response = await first.post_form(f"{batch_url}/keying", {"rows": "2", "s1-marks": str(ids[0])})
        assert response.status_code == 422
        assert 'id="f-s1-sheet-error"' in response.text and f'value="{ids[0]}" checked' in response.text
        assert (await first.post_form(f"{batch_url}/keying", {"rows": "2", "s1-sheet": "1", "s1-marks": str(ids[0]), "s2-sheet": "2", "s2-marks": str(ids[1])})).status_code == 303
        again = await first.post_form(f"{batch_url}/keying", {"rows": "1", "s1-sheet": "1", "s1-marks": str(ids[0])})
        assert again.status_code == 409 and "already keyed" in again.text
        page_for_second = await second.get(batch_url)
        assert "Second keying" in page_for_second.text and f'value="{ids[0]}" checked' not in page_for_second.text
        await second.post_form(f"{batch_url}/keying", {"rows": "2", "s1-sheet": "1", "s1-marks": str(ids[0]), "s2-sheet": "2", "s2-marks": str(ids[2])})
        assert "Resolve the mismatched sheets" not in (await second.get(batch_url)).text  # a keyer sees no readings
        view = await third.get(batch_url)
        assert "Resolve the mismatched sheets" in view.text and "Sheet 2" in view.text
        await accounts.set_language(third.account.id, "ko")
        assert "불일치 투표지 확인" in (await third.get(batch_url)).text
        await accounts.set_language(third.account.id, "en")
        assert (await third.post_form(f"{batch_url}/resolution", {"r2-marks": str(ids[1])})).status_code == 303
        assert (await third.post_form(f"{batch_url}/count")).status_code == 303
        assert "Valid ballots: 2. Spoiled: 0." in (await first.get(batch_url)).text
        refused = await first.post_form(f"{base}/tally", {"handed_out": "3", "returned": "2", "spoiled": "0"})
        assert refused.status_code == 422 and "does not reconcile" in refused.text and 'value="3"' in refused.text
        assert "(2)" in refused.text  # the check-ins it must equal
        closed = await first.post_form(f"{base}/tally", {"handed_out": "2", "returned": "2", "spoiled": "0"})
        assert closed.status_code == 303
        assert "the station is closed" in (await first.get(base)).text
        listing = await official.get("/officials/pb/stations")
        assert listing.status_code == 200 and "Reconciled: station closed" in listing.text
    finally:
        for c in (first, second, third):
            await c.aclose()


async def test_a_poll_worker_of_another_station_is_refused(app, users, official):
    _, station_id, _ = await _station(users, official.account.id, paper_voters=0)
    outsider = await users.create(roles=["poll_worker"])
    async with PortalClient.for_app(app) as c:
        await c.login(outsider)
        assert (await c.get(f"/pb/stations/{station_id}/paper")).status_code == 403
    async with PortalClient.for_app(app) as c:
        await c.login(await users.create(roles=["citizen"], verified=True))
        assert (await c.get(f"/pb/stations/{station_id}/paper")).status_code == 403
