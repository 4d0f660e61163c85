"""Issue 9 items 5 and 6 through HTTP: every KRW field reads Korean amounts and says what it read;
Korean pages write amounts in 억/만 with the exact figure kept; counts have separators; the results
chart scales; descriptions keep their line breaks."""

from __future__ import annotations

import datetime as dt
import re

from judging.tables import Edition
from portal import clock
from portal.canonical import canonical_json
from proposals.tables import Proposal
from tests.helpers import PortalClient, field_error
from tests.integration.test_pb_proposals import proposal_form, submit
from tests.integration.test_pb_results import _vote_and_close
from voting.compute.rules import BallotRules, new_receipt
from voting.tables import Ballot, Cycle, Pot
from voting.testing import build_cycle


async def test_proposal_cost_in_korean_units_is_read_echoed_and_shown_seoul_style(app, users, official):
    built = await build_cycle(official.account.id, phase="proposals")
    resident = await users.create(district="11680", verified=True, language="ko")
    async with PortalClient.for_app(app) as korean:
        await korean.login(resident)
        # Another field is wrong: the page comes back with the amount as typed and what it reads as.
        again = await submit(
            korean, built.id, proposal_form(built.city_pot, title="ab", estimated_cost="２억 5천만원")
        )
        assert again.status_code == 422
        assert 'value="２억 5천만원"' in again.text
        echo = re.search(r'<p class="hint amount-echo" id="f-estimated_cost-echo"[^>]*>(.*?)</p>', again.text, re.S)
        assert echo and "2억 5,000만 원" in echo.group(1) and "250,000,000원" in echo.group(1)
        # What is not an amount is refused beside the field, in Korean.
        bad = await submit(korean, built.id, proposal_form(built.city_pot, estimated_cost="2억 반"))
        assert bad.status_code == 422
        assert "금액을 원 단위로 입력하세요" in field_error(bad)
        assert await Proposal.count().where(Proposal.author == resident.id) == 0
        created = await submit(
            korean,
            built.id,
            proposal_form(
                built.city_pot, estimated_cost="２억 5천만원", description="첫째 줄\n둘째 줄 <b>굵게</b>"
            ),
        )
        assert created.status_code == 303, created.text
        row = await Proposal.select(Proposal.id, Proposal.estimated_cost).where(Proposal.author == resident.id).first()
        assert row["estimated_cost"] == 250_000_000
        detail = await korean.get(f"/pb/proposals/{row['id']}")
    assert '<data class="krw" value="250000000" title="250,000,000원">2억 5,000만 원</data>' in detail.text
    # The description keeps its line break (shown with white-space: pre-line) and stays escaped.
    assert '<p class="description">첫째 줄\n둘째 줄 &lt;b&gt;굵게&lt;/b&gt;</p>' in detail.text


async def test_officials_amount_fields_read_korean_units(official):
    form = {
        "name": "서울 주민참여예산 2028",
        "fiscal_year": "2028",
        "city_amount": "1,000억 원",
        "district_total": "４,０００억",
        "district_floor": "80억",
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
    wrong = await official.post_form("/officials/pb/cycles", {**form, "city_amount": "1e11"})
    assert wrong.status_code == 422 and field_error(wrong).startswith("Enter an amount in won")
    assert 'value="1e11"' in wrong.text
    huge = await official.post_form("/officials/pb/cycles", {**form, "district_floor": "9" * 19})
    assert huge.status_code == 422 and "at most" in field_error(huge)
    created = await official.post_form("/officials/pb/cycles", form)
    assert created.status_code == 303, created.text
    cycle = await Cycle.select(Cycle.id, Cycle.total_budget).first()
    assert cycle["total_budget"] == 500_000_000_000  # 1,000억 city-wide + 4,000억 for the districts
    city = await Pot.select(Pot.amount).where((Pot.cycle == cycle["id"]) & Pot.district_code.is_null()).first()
    assert city["amount"] == 100_000_000_000
    edition = {
        "name": "AI 50 Challenge 2027",
        "intake_opens_at": "2027-03-01T09:00",
        "intake_closes_at": "2027-04-30T18:00",
        "winners": "50",
        "max_per_organization": "1",
        "award_amount": "2천만 원",
        "seed": "",
        "quotas": "{}",
    }
    assert (await official.post_form("/officials/challenge", edition)).status_code == 303
    assert (await Edition.select(Edition.award_amount).first())["award_amount"] == 20_000_000


async def test_official_review_reads_a_revised_cost_in_korean_units(citizen, official):
    built = await build_cycle(official.account.id, phase="proposals")
    response = await submit(citizen, built.id, proposal_form(built.city_pot))
    proposal_id = int(response.headers["location"].rsplit("/", 1)[1])
    clock.advance(dt.timedelta(days=10))  # review phase
    await official.login(official.account)
    ok = await official.post_form(
        f"/officials/pb/proposals/{proposal_id}/review",
        {"decision": "feasible", "reason": "Costed by the parks office", "revised_cost": "6억 5천만"},
    )
    assert ok.status_code == 303
    row = await Proposal.select(Proposal.revised_cost).where(Proposal.id == proposal_id).first()
    assert row["revised_cost"] == 650_000_000
    page = await official.get(f"/officials/pb/cycles/{built.id}/proposals")
    assert f'id="f-revised_cost-{proposal_id}-echo"' in page.text and "650,000,000 KRW" in page.text


async def test_results_counts_have_separators_and_the_chart_scales(app, users, official):
    built = await build_cycle(official.account.id)
    ids = built.projects[built.city_pot]
    now = clock.now()
    ballots = [
        Ballot(
            pot=built.city_pot,
            voter_key=f"{i:064x}",
            receipt=new_receipt(),
            content=canonical_json({"project_ids": [ids[i % 2], ids[3]]}),
            version=1,
            cast_at=now,
        )
        for i in range(1_234)
    ]
    for start in range(0, len(ballots), 400):
        await Ballot.insert(*ballots[start : start + 400])
    clock.advance(dt.timedelta(days=40))  # closed and published
    reader = await users.create(language="ko")
    async with PortalClient.for_app(app) as korean:
        await korean.login(reader)
        page = await korean.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}")
        overview = await korean.get(f"/pb/cycles/{built.id}/results")
    assert page.status_code == 200, page.text
    assert "투표 1,234건" in page.text
    assert '<td class="num">1,234</td>' in page.text  # the project on every ballot
    assert '<td class="num">617</td>' in page.text
    svg = re.search(r"<svg class=\"chart\"[^>]*>", page.text).group(0)
    assert 'width="100%"' in svg and 'viewBox="0 0 360 ' in svg
    assert '<td class="num">1,234</td>' in overview.text  # ballots in the city-wide pot


async def test_the_amount_api_says_what_a_typed_amount_reads_as(client):
    read = await client.get("/api/v1/amounts/krw", params={"text": "２억 5천만원", "lang": "ko"})
    assert read.status_code == 200
    assert read.json() == {
        "amount": 250_000_000,
        "shown": "2억 5,000만 원",
        "exact": "250,000,000원",
        "echo": "입력한 금액: 2억 5,000만 원 (250,000,000원)",
    }
    english = (await client.get("/api/v1/amounts/krw", params={"text": "2억", "lang": "en"})).json()
    assert english["echo"] == "Reads as 200,000,000 KRW"
    for text in ("2억 반", "", "9" * 30):
        bad = await client.get("/api/v1/amounts/krw", params={"text": text})
        assert bad.status_code == 422 and field_error(bad), (text, bad.text)


async def test_cumulative_results_say_points_not_votes(app, users, official):
    rules = BallotRules(ballot_kind="cumulative", total_points=10, max_points_per_project=5)
    built, _ = await _vote_and_close(app, users, official, rules=rules, voters=2)
    clock.advance(dt.timedelta(days=30))
    reader = await users.create(language="ko")
    async with PortalClient.for_app(app) as korean:
        await korean.login(reader)
        page = await korean.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}")
    assert page.status_code == 200
    assert "사업별 점수" in page.text and '<th class="num">점수</th>' in page.text
    assert '<th class="num">득표</th>' not in page.text and "사업별 득표" not in page.text


async def test_pot_amounts_are_typed_in_korean_units_until_voting_opens(official):
    built = await build_cycle(official.account.id, phase="proposals")
    page = await official.get(f"/officials/pb/cycles/{built.id}")
    assert f'name="amount-{built.city_pot}"' in page.text
    wrong = await official.post_form(
        f"/officials/pb/cycles/{built.id}/pots", {f"amount-{built.city_pot}": "120억 반"}
    )
    assert wrong.status_code == 422 and field_error(wrong).startswith("Enter an amount in won")
    assert 'value="120억 반"' in wrong.text and f'href="#f-amount-{built.city_pot}"' in wrong.text
    saved = await official.post_form(
        f"/officials/pb/cycles/{built.id}/pots", {f"amount-{built.city_pot}": "１２０억"}
    )
    assert saved.status_code == 303
    pot = await Pot.select(Pot.amount).where(Pot.id == built.city_pot).first()
    assert pot["amount"] == 12_000_000_000
    voting = await build_cycle(official.account.id, phase="voting", name="Voting now")
    frozen = await official.get(f"/officials/pb/cycles/{voting.id}")
    assert f'name="amount-{voting.city_pot}"' not in frozen.text
    refused = await official.post_form(
        f"/officials/pb/cycles/{voting.id}/pots", {f"amount-{voting.city_pot}": "1억"}
    )
    assert refused.status_code == 409
