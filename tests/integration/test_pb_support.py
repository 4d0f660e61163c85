"""The support phase (공감, issue #14): supports once per person, withdrawable until the phase ends,
an exact shortlist when it closes, counts public and supporters never shown."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from portal import clock
from portal.errors import Conflict, NotAllowed
from portal.tables import AuditEvent
from proposals.community_tables import ProposalSupport, ShortlistEntry
from proposals.services import review, support
from proposals.testing import as_resident, build_support_cycle
from voting.services import lifecycle
from voting.tables import Cycle


async def _residents(users, n: int, district: str = "11680") -> list:
    return [await as_resident((await users.create(district=district, verified=True)).id) for _ in range(n)]


async def _support_times(proposal_id: int, people: list) -> None:
    for person in people:
        await support.support(person, proposal_id)


async def test_threshold_shortlists_exactly_from_the_boundary_up(official, users):
    built = await build_support_cycle(
        official.account.id,
        rule="threshold",
        cutoff=2,
        proposals={"Three": None, "Two": None, "One": None, "Gangnam two": "11680"},
    )
    people = await _residents(users, 3)
    await _support_times(built.proposals["Three"], people)
    await _support_times(built.proposals["Two"], people[:2])
    await _support_times(built.proposals["One"], people[:1])
    await _support_times(built.proposals["Gangnam two"], people[1:])
    preview = await support.shortlist_preview(built.id)
    assert {r.title: r.shortlisted for pot in preview for r in pot.rows} == {
        "Three": True, "Two": True, "One": False, "Gangnam two": True,
    }
    await lifecycle.close_support_now(official.account.id, built.id)
    cycle = await Cycle.select().where(Cycle.id == built.id).first()
    assert cycle["state"] == "review"
    drawn = {r["proposal"]: (r["supports"], r["shortlisted"]) for r in await ShortlistEntry.select()}
    assert drawn == {
        built.proposals["Three"]: (3, True),
        built.proposals["Two"]: (2, True),
        built.proposals["One"]: (1, False),
        built.proposals["Gangnam two"]: (2, True),
    }
    actions = [e["action"] for e in await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)]
    assert actions[-3:] == ["pb.support.closed_now", "pb.support.shortlisted", "pb.cycle.state"]
    # Only the shortlist is reviewed.
    with pytest.raises(Conflict):
        await review.review(official.account.id, built.proposals["One"], True, "Looks fine", None)
    await review.review(official.account.id, built.proposals["Two"], True, "Looks fine", None)


async def test_top_n_takes_ties_at_the_boundary_when_the_schedule_ends_the_phase(official, users):
    built = await build_support_cycle(
        official.account.id,
        rule="top",
        cutoff=2,
        proposals={"A": None, "B": None, "C": None, "D": None, "Quiet": "11680"},
    )
    people = await _residents(users, 3)
    await _support_times(built.proposals["A"], people)
    await _support_times(built.proposals["B"], people[:2])
    await _support_times(built.proposals["C"], people[1:])
    await _support_times(built.proposals["D"], people[:1])
    clock.advance(dt.timedelta(days=15))  # past the support phase's end: the housekeeping step moves it
    assert await lifecycle.advance_due_cycles() >= 1
    shortlisted = {
        r["proposal"] for r in await ShortlistEntry.select().where(ShortlistEntry.shortlisted.eq(True))
    }
    assert shortlisted == {built.proposals[t] for t in ("A", "B", "C")}  # B and C tie at 2: both in
    state = await Cycle.select(Cycle.state).where(Cycle.id == built.id).first()
    assert state["state"] == "review"


async def test_one_support_per_person_even_on_a_double_click(official, citizen):
    built = await build_support_cycle(official.account.id)
    proposal = built.proposals["Shade trees"]
    me = await as_resident(citizen.account.id)
    outcomes = await asyncio.gather(
        support.support(me, proposal), support.support(me, proposal), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "int"]
    assert await ProposalSupport.count().where(ProposalSupport.proposal == proposal) == 1
    again = await citizen.post_form(f"/pb/proposals/{proposal}/support")
    assert again.status_code == 409
    assert "You already support this proposal" in again.text
    assert 'id="f-support-error"' in again.text


async def test_supports_are_withdrawn_only_while_the_phase_lasts(official, citizen):
    built = await build_support_cycle(official.account.id)
    proposal = built.proposals["Shade trees"]
    page = await citizen.get(f"/pb/proposals/{proposal}")
    assert "Support this proposal" in page.text
    assert (await citizen.post_form(f"/pb/proposals/{proposal}/support")).status_code == 303
    assert "1 supports" in (await citizen.get(f"/pb/proposals/{proposal}")).text
    assert (await citizen.post_form(f"/pb/proposals/{proposal}/support/withdraw")).status_code == 303
    assert await ProposalSupport.count() == 0
    assert (await citizen.post_form(f"/pb/proposals/{proposal}/support")).status_code == 303
    await lifecycle.close_support_now(official.account.id, built.id)
    late = await citizen.post_form(f"/pb/proposals/{proposal}/support/withdraw")
    assert late.status_code == 409 and "can no longer be withdrawn" in late.text
    assert (await citizen.post_form(f"/pb/proposals/{proposal}/support")).status_code == 409
    assert await ProposalSupport.count() == 1


async def test_only_verified_residents_of_the_pot_support(official, users):
    built = await build_support_cycle(official.account.id, proposals={"Gangnam": "11680"})
    unverified = await as_resident((await users.create(district="11680", verified=False)).id)
    mapo = await as_resident((await users.create(district="11440", verified=True)).id)
    for person in (unverified, mapo):
        with pytest.raises(NotAllowed):
            await support.support(person, built.proposals["Gangnam"])


async def test_supporters_are_never_shown(app, official, citizen, client, users):
    built = await build_support_cycle(official.account.id)
    proposal = built.proposals["Shade trees"]
    await citizen.post_form(f"/pb/proposals/{proposal}/support")
    me = citizen.account
    other = await users.create(district="11680", verified=True)
    from tests.helpers import PortalClient

    async with PortalClient.for_app(app) as neighbour:
        await neighbour.login(other)
        pages = [
            await client.get(f"/pb/proposals/{proposal}"),
            await neighbour.get(f"/pb/proposals/{proposal}"),
            await neighbour.get("/pb/my/supports"),
            await official.get(f"/officials/pb/cycles/{built.id}/support"),
        ]
        assert "1 supports" in pages[0].text
        assert "Shade trees" not in pages[2].text  # another person's list is theirs alone
    for response in pages:
        assert me.email not in response.text
        assert f"user:{me.id}" not in response.text
    # No audit event (officials read the chain) names a supporter.
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_id)
    assert not [e for e in events if "support" in e["action"] and e["actor_id"] == me.id]
    mine = await citizen.get("/pb/my/supports")
    assert "Shade trees" in mine.text


async def test_officials_set_open_and_preview_the_support_phase(official, citizen):
    from voting.testing import build_cycle

    built = await build_cycle(official.account.id, phase="proposals")
    path = f"/officials/pb/cycles/{built.id}/support"
    bad = await official.post_form(
        path, {"support_close_at": "2001-01-01T10:00", "support_rule": "top", "support_cutoff": "3"}
    )
    assert bad.status_code == 422 and 'id="f-support_close_at-error"' in bad.text
    assert 'value="3"' in bad.text
    cycle = await Cycle.select().where(Cycle.id == built.id).first()
    close_at = (cycle["proposals_close_at"] + dt.timedelta(days=2)).astimezone(clock.SEOUL)
    saved = await official.post_form(
        path,
        {"support_close_at": close_at.strftime("%Y-%m-%dT%H:%M"), "support_rule": "top", "support_cutoff": "3"},
    )
    assert saved.status_code == 303
    assert (await official.post_form(path + "/open")).status_code == 303
    page = await official.get(path)
    assert "Close the support phase now" in page.text
    refused = await citizen.post_form(path + "/close")
    assert refused.status_code in (401, 403)
    events = [e["action"] for e in await AuditEvent.select(AuditEvent.action)]
    assert "pb.support.set" in events and "pb.support.opened_now" in events


async def test_the_demo_cycle_is_in_its_support_phase_with_supports_and_comments(official, citizen, users):
    from proposals.community_tables import Comment
    from proposals.demo_support import SUPPORT_CYCLE, load_support_demo

    await load_support_demo({"official": official.account.id, "citizen": citizen.account.id})
    cycle = await Cycle.select().where(Cycle.name == SUPPORT_CYCLE).first()
    assert cycle["state"] == "support"
    assert await ProposalSupport.count() > 0 and await Comment.count() >= 3
    preview = await support.shortlist_preview(cycle["id"])
    assert any(r.shortlisted for pot in preview for r in pot.rows)
    assert any(not r.shortlisted for pot in preview for r in pot.rows)
