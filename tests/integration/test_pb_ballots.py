"""PB ballots through the API and the pages: the three ballot kinds, replacement, receipts, V1-V3, S14."""

from __future__ import annotations

import asyncio
import datetime as dt

from portal import clock, notification_mail
from portal.mail import development_outbox
from portal.tables import MailOutboxItem
from tests.helpers import PortalClient
from voting.compute.rules import BallotRules
from voting.services import receipt_mail
from voting.tables import Ballot, Cycle, VoterRecord
from voting.testing import build_cycle

BALLOT = "/api/v1/pb/cycles/{c}/pots/{p}/ballot"


async def test_cycles_api_lists_phase_dates_rules_and_26_pots(client, official):
    built = await build_cycle(official.account.id)
    body = (await client.get("/api/v1/pb/cycles")).json()
    assert len(body) == 1
    cycle = body[0]
    assert cycle["id"] == built.id and cycle["phase"] == "voting" and cycle["state"] == "voting"
    assert {"voting_open_at", "voting_close_at", "proposals_open_at", "publish_at"} <= cycle.keys()
    assert (
        cycle["ballot_rules"]["ballot_kind"] == "approval"
        and cycle["ballot_rules"]["max_projects"] == 5
    )
    assert len(cycle["pots"]) == 26
    city = [p for p in cycle["pots"] if p["district_code"] is None]
    assert len(city) == 1 and city[0]["amount"] == 10_000_000_000
    assert {"id", "name", "district_code", "amount"} == set(cycle["pots"][0])
    assert sum(p["amount"] for p in cycle["pots"]) == cycle["total_budget"] == 60_000_000_000
    projects = (
        await client.get(f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/projects")
    ).json()
    assert len(projects) == 5 and {"id", "title", "cost", "category"} <= set(projects[0])


async def test_approval_ballot_cast_replace_and_read_back(citizen, official):
    receipt_mail.discard_pending()  # noted by earlier tests in this process
    built = await build_cycle(official.account.id)
    a, b, c, *_ = built.projects[built.city_pot]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    first = await citizen.send_json("PUT", url, {"project_ids": [a, b]})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and len(first.json()["receipt"]) == 14
    mine = (await citizen.get(url)).json()
    assert mine["project_ids"] == sorted([a, b]) and mine["receipt"] == first.json()["receipt"]
    # The receipt is mailed through the outbox, off the request path; the outbox row holds no receipt.
    assert not any(first.json()["receipt"] in mail.body for mail in development_outbox.sent)
    assert await receipt_mail.flush_receipt_mails() == 1
    queued = await MailOutboxItem.select().first()
    assert queued["user"] == citizen.account.id and queued["kind"] == "ballot-receipt"
    assert first.json()["receipt"] not in str(queued)
    assert (await notification_mail.send_due_mail()).sent == 1
    assert any(
        mail.to == citizen.account.email and first.json()["receipt"] in mail.body for mail in development_outbox.sent
    )
    second = await citizen.send_json("PUT", url, {"project_ids": [c]})
    assert second.status_code == 200 and second.json()["version"] == 2
    assert second.json()["receipt"] != first.json()["receipt"]
    assert (await citizen.get(url)).json()["project_ids"] == [c]
    assert await Ballot.count() == 1 and await VoterRecord.count() == 1
    # Same content again (a retry): same receipt and version, nothing written.
    again = await citizen.send_json("PUT", url, {"project_ids": [c]})
    assert again.json() == second.json()


async def test_knapsack_ballot_respects_the_cap_and_minimum_share(citizen, official):
    rules = BallotRules(ballot_kind="knapsack", min_share_percent=50)
    built = await build_cycle(official.account.id, rules=rules, city_amount=10_000_000_000)
    ids = built.projects[built.city_pot]  # costs 3, 2, 4, 1, 5 billion
    url = BALLOT.format(c=built.id, p=built.city_pot)
    over = await citizen.send_json("PUT", url, {"project_ids": [ids[0], ids[2], ids[4]]})  # 12 bn
    assert over.status_code == 422
    assert "more than" in over.json()["errors"][0]["message"]
    too_little = await citizen.send_json("PUT", url, {"project_ids": [ids[3]]})  # 1 bn < 5 bn
    assert (
        too_little.status_code == 422 and too_little.json()["errors"][0]["field"] == "project_ids"
    )
    fits = await citizen.send_json("PUT", url, {"project_ids": [ids[0], ids[2], ids[1]]})  # 9 bn
    assert fits.status_code == 200
    assert await Ballot.count() == 1


async def test_cumulative_ballot_points(citizen, official):
    rules = BallotRules(ballot_kind="cumulative", total_points=10, max_points_per_project=5)
    built = await build_cycle(official.account.id, rules=rules)
    ids = built.projects[built.city_pot]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    assert (await citizen.send_json("PUT", url, {"points": {str(ids[0]): 6}})).status_code == 422
    assert (
        await citizen.send_json(
            "PUT", url, {"points": {str(ids[0]): 5, str(ids[1]): 5, str(ids[2]): 1}}
        )
    ).status_code == 422
    assert (await citizen.send_json("PUT", url, {"project_ids": [ids[0]]})).status_code == 422
    ok = await citizen.send_json("PUT", url, {"points": {str(ids[0]): 5, str(ids[1]): 3}})
    assert ok.status_code == 200
    assert (await citizen.get(url)).json()["points"] == {str(ids[0]): 5, str(ids[1]): 3}


async def test_approval_limits_and_unknown_projects_are_422_with_reason(citizen, official):
    built = await build_cycle(
        official.account.id,
        rules=BallotRules(ballot_kind="approval", min_projects=2, max_projects=3),
    )
    ids = built.projects[built.city_pot]
    other = built.projects[built.pots["11680"]][0]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    for body in (
        {"project_ids": [ids[0]]},
        {"project_ids": ids[:4]},
        {"project_ids": [ids[0], other]},
        {"project_ids": [ids[0], ids[0]]},
    ):
        response = await citizen.send_json("PUT", url, body)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["message"]
    unknown_field = await citizen.send_json("PUT", url, {"project_ids": ids[:2], "user_id": 1})
    assert unknown_field.status_code == 400
    assert await Ballot.count() == 0


async def test_status_codes_401_403_409(client, citizen, users, app, official):
    built = await build_cycle(official.account.id)
    ids = built.projects[built.city_pot]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    assert (await client.send_json("PUT", url, {"project_ids": ids[:1]})).status_code == 401
    assert (await client.get(url)).status_code == 401
    # Not verified: 403. Verified in another district: 403 for the Gangnam pot, allowed city-wide.
    unverified = await users.create(district="11680", verified=False)
    mapo = await users.create(district="11440", verified=True)
    async with PortalClient.for_app(app) as c1, PortalClient.for_app(app) as c2:
        await c1.login(unverified)
        await c2.login(mapo)
        assert (await c1.send_json("PUT", url, {"project_ids": ids[:1]})).status_code == 403
        gangnam = BALLOT.format(c=built.id, p=built.pots["11680"])
        gangnam_ids = built.projects[built.pots["11680"]]
        assert (
            await c2.send_json("PUT", gangnam, {"project_ids": gangnam_ids[:1]})
        ).status_code == 403
        assert (await c2.send_json("PUT", url, {"project_ids": ids[:1]})).status_code == 200
    assert (
        await citizen.send_json(
            "PUT",
            BALLOT.format(c=built.id, p=built.pots["11680"]),
            {"project_ids": built.projects[built.pots["11680"]][:1]},
        )
    ).status_code == 200
    # Outside the voting phase: 409 (before opening and after close, on the server clock; V3).
    early = await build_cycle(official.account.id, phase="review", name="Next year")
    response = await citizen.send_json(
        "PUT",
        BALLOT.format(c=early.id, p=early.city_pot),
        {"project_ids": early.projects[early.city_pot][:1]},
    )
    assert response.status_code == 409
    clock.advance(dt.timedelta(days=30))
    await citizen.login(citizen.account)  # the old session timed out meanwhile
    gangnam = BALLOT.format(c=built.id, p=built.pots["11680"])
    after = await citizen.send_json(
        "PUT", gangnam, {"project_ids": built.projects[built.pots["11680"]][1:2]}
    )
    assert after.status_code == 409
    assert (await citizen.get(gangnam)).json()["project_ids"] == built.projects[
        built.pots["11680"]
    ][:1]


async def test_rules_are_frozen_once_voting_opens(official, official2):
    built = await build_cycle(official.account.id, phase="review")
    new_rules = {
        "ballot_kind": "knapsack",
        "min_projects": "1",
        "results_rule": "greedy",
        "tie_break": "city",
        "tie_seed": "0",
    }
    ok = await official.post_form(f"/officials/pb/cycles/{built.id}/rules", new_rules)
    assert ok.status_code == 303
    assert (await Cycle.select(Cycle.ballot_kind).first())["ballot_kind"] == "knapsack"
    clock.advance(dt.timedelta(days=11))  # voting opens
    await official.login(official.account)
    await official2.login(official2.account)
    assert (
        await official2.get(f"/officials/pb/cycles/{built.id}")
    ).status_code == 200  # a read only: the refused change below takes the due step
    refused = await official.post_form(
        f"/officials/pb/cycles/{built.id}/rules", {**new_rules, "ballot_kind": "approval"}
    )
    assert refused.status_code == 409
    row = await Cycle.select(Cycle.ballot_kind, Cycle.rules_frozen_at, Cycle.frozen_rules).first()
    assert (
        row["ballot_kind"] == "knapsack"
        and row["rules_frozen_at"] is not None
        and "knapsack" in row["frozen_rules"]
    )


async def test_v1_fifty_concurrent_casts_by_one_voter_make_one_ballot_and_no_5xx(citizen, official):
    built = await build_cycle(official.account.id)
    ids = built.projects[built.city_pot]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    await citizen.csrf_token()
    bodies = [{"project_ids": [ids[i % 5]]} for i in range(25)] + [
        {"project_ids": [ids[0], ids[1]]}
    ] * 25
    responses = await asyncio.gather(*(citizen.send_json("PUT", url, body) for body in bodies))
    assert all(r.status_code == 200 for r in responses), {r.status_code for r in responses}
    assert await Ballot.count() == 1
    assert await VoterRecord.count() == 1
    final = (await citizen.get(url)).json()
    assert final["receipt"] in {r.json()["receipt"] for r in responses}


async def test_v2_concurrent_knapsack_edits_never_exceed_the_cap(citizen, official):
    built = await build_cycle(
        official.account.id, rules=BallotRules(ballot_kind="knapsack"), city_amount=6_000_000_000
    )
    ids = built.projects[built.city_pot]  # 3, 2, 4, 1, 5 bn; cap 6 bn
    url = BALLOT.format(c=built.id, p=built.city_pot)
    await citizen.csrf_token()
    bodies = [
        {"project_ids": [ids[0], ids[1]]},
        {"project_ids": [ids[2], ids[3]]},
        {"project_ids": [ids[0], ids[2]]},
        {"project_ids": [ids[4], ids[3]]},
    ] * 6
    responses = await asyncio.gather(*(citizen.send_json("PUT", url, b) for b in bodies))
    assert {r.status_code for r in responses} <= {200, 422}
    costs = dict(zip(ids, [3, 2, 4, 1, 5], strict=True))
    stored = (await citizen.get(url)).json()["project_ids"]
    assert sum(costs[i] for i in stored) <= 6


async def test_s14_a_voter_reads_only_their_own_ballot(citizen, official, users, app):
    built = await build_cycle(official.account.id)
    ids = built.projects[built.city_pot]
    url = BALLOT.format(c=built.id, p=built.city_pot)
    await citizen.send_json("PUT", url, {"project_ids": ids[:2]})
    other = await users.create(district="11680", verified=True)
    async with PortalClient.for_app(app) as c:
        await c.login(other)
        assert (await c.get(url)).status_code == 404  # never someone else's ballot
        await c.send_json("PUT", url, {"project_ids": ids[2:3]})
        assert (await c.get(url)).json()["project_ids"] == ids[2:3]
    assert (await citizen.get(url)).json()["project_ids"] == sorted(ids[:2])
    assert await Ballot.count() == 2


async def test_ballot_page_without_javascript_casts_and_shows_receipt(citizen, official):
    built = await build_cycle(official.account.id, rules=BallotRules(ballot_kind="knapsack"))
    ids = built.projects[built.city_pot]
    page = await citizen.get(f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot")
    assert page.status_code == 200 and 'name="project_ids"' in page.text
    over = await citizen.post_form(
        f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot",
        {"project_ids": [ids[0], ids[2], ids[4]]},
    )
    assert over.status_code == 422 and "more than" in over.text
    response = await citizen.post_form(
        f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot", {"project_ids": [ids[0], ids[1]]}
    )
    assert response.status_code == 303
    receipt_page = await citizen.get(response.headers["location"])
    receipt = (await citizen.get(BALLOT.format(c=built.id, p=built.city_pot))).json()["receipt"]
    assert receipt in receipt_page.text


async def test_official_creates_a_cycle_with_population_split_pots(official, client):
    form = {
        "name": "Seoul PB 2028",
        "fiscal_year": "2028",
        "city_amount": "100,000,000,000",
        "district_total": "400000000000",
        "district_floor": "8000000000",
        "proposals_open_at": "2027-03-01T09:00",
        "proposals_close_at": "2027-04-01T09:00",
        "voting_open_at": "2027-05-01T09:00",
        "voting_close_at": "2027-05-15T18:00",
        "publish_at": "2027-05-20T09:00",
        "ballot_kind": "knapsack",
        "min_projects": "1",
        "results_rule": "equal-shares",
        "tie_break": "city",
        "categories": ["transportation", "climate"],
    }
    response = await official.post_form("/officials/pb/cycles", form)
    assert response.status_code == 303, response.text
    cycle = (await client.get("/api/v1/pb/cycles")).json()[0]
    assert cycle["phase"] == "proposals" and cycle["categories"] == ["transportation", "climate"]
    districts = [p for p in cycle["pots"] if p["district_code"]]
    assert len(districts) == 25 and sum(p["amount"] for p in districts) == 400_000_000_000
    assert min(p["amount"] for p in districts) >= 8_000_000_000
    songpa = next(p for p in districts if p["district_code"] == "11710")  # most populous
    jung = next(p for p in districts if p["district_code"] == "11140")  # least populous
    assert songpa["amount"] > jung["amount"]
    bad = await official.post_form(
        "/officials/pb/cycles", {**form, "voting_open_at": "2027-03-15T09:00"}
    )
    assert bad.status_code == 422 and "order" in bad.text


async def test_cumulative_ballot_page_without_javascript(citizen, official):
    rules = BallotRules(ballot_kind="cumulative", total_points=10, max_points_per_project=5)
    built = await build_cycle(official.account.id, rules=rules)
    ids = built.projects[built.city_pot]
    url = f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    page = await citizen.get(url)
    assert f'name="points-{ids[0]}"' in page.text
    too_many = await citizen.post_form(
        url, {f"points-{ids[0]}": "5", f"points-{ids[1]}": "5", f"points-{ids[2]}": "3"}
    )
    assert too_many.status_code == 422 and "you have 10" in too_many.text
    ok = await citizen.post_form(
        url, {f"points-{ids[0]}": "4", f"points-{ids[1]}": "", f"points-{ids[2]}": "3"}
    )
    assert ok.status_code == 303
    stored = (await citizen.get(BALLOT.format(c=built.id, p=built.city_pot))).json()
    assert stored["points"] == {str(ids[0]): 4, str(ids[2]): 3}


async def test_a_receipt_mail_without_a_ballot_behind_it_is_not_sent(citizen, official):
    """The outbox row names the pot only; at send time the voter's ballot is looked up, and none means no mail."""
    receipt_mail.discard_pending()
    built = await build_cycle(official.account.id)
    receipt_mail.note_receipt(citizen.account.id, built.id, built.city_pot)  # no ballot was cast
    receipt_mail.note_receipt(10_000_000, built.id, built.city_pot)  # an account that does not exist: dropped
    assert await receipt_mail.flush_receipt_mails() == 1
    report = await notification_mail.send_due_mail()
    assert (report.sent, report.failed) == (0, 1)
    assert (await MailOutboxItem.select(MailOutboxItem.last_error).first())["last_error"] == "nothing to tell any more"
    assert not [m for m in development_outbox.sent if m.to == citizen.account.email]
