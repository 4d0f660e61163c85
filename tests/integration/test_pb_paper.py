"""Paper ballots of a station: double keying, a mismatch resolved by a third person, counting with
channel "paper", a tally sheet that must reconcile before the station closes, and no link between a
paper participation and a paper ballot."""

from __future__ import annotations

import json
import secrets

import pytest

from portal import clock
from portal.auth import to_current_user
from portal.db import raw
from portal.errors import Conflict, NotAllowed
from portal.tables import AuditEvent, User
from voting.compute import paper
from voting.compute.paper import TallySheet
from voting.services import paper as paper_service
from voting.services.lifecycle import close_early
from voting.services.results import compute_results
from voting.tables import Ballot, Participation, Station, StationWorker
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
    for _ in range(paper_voters):
        await Participation.insert(
            Participation(cycle=built.id, person_key=secrets.token_hex(32), channel="paper", recorded_on=clock.now())
        )
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
