"""PB results and exports: V4 (hidden until close), V5 (secrecy), V6 (receipts), runs, approvals, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from openpyxl import load_workbook

from portal import clock
from portal.db import is_postgres, raw
from proposals.tables import Proposal
from tests.helpers import PortalClient
from voting.compute.pabulib import parse_pb
from voting.compute.rules import BallotRules
from voting.compute.tally import compute_outcome
from voting.tables import Ballot, ResultRun
from voting.testing import build_cycle

BALLOT = "/api/v1/pb/cycles/{c}/pots/{p}/ballot"


async def _vote_and_close(
    app, users, official, *, rules: BallotRules | None = None, voters: int = 6
):
    """A cycle with a few voters in the city-wide pot, then the clock moves past the close."""
    built = await build_cycle(official.account.id, rules=rules)
    ids = built.projects[built.city_pot]
    receipts = []
    patterns = [
        [ids[0], ids[1]],
        [ids[0], ids[3]],
        [ids[2]],
        [ids[4], ids[3]],
        [ids[0]],
        [ids[1], ids[2]],
    ]
    for i in range(voters):
        account = await users.create(district="11680" if i % 2 else "11440", verified=True)
        async with PortalClient.for_app(app) as c:
            await c.login(account)
            body = {"project_ids": patterns[i % len(patterns)]}
            if rules and rules.ballot_kind == "cumulative":
                body = {"points": {str(pid): 2 for pid in patterns[i % len(patterns)]}}
            response = await c.send_json("PUT", BALLOT.format(c=built.id, p=built.city_pot), body)
            assert response.status_code == 200, response.text
            receipts.append(response.json()["receipt"])
    return built, receipts


async def test_v4_results_are_404_until_close_even_for_officials(app, users, client, official):
    built, _ = await _vote_and_close(app, users, official, voters=2)
    for c in (client, official):
        assert (await c.get(f"/api/v1/pb/cycles/{built.id}/results")).status_code == 404
        assert (await c.get(f"/pb/cycles/{built.id}/results")).status_code == 404
        assert (
            await c.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}")
        ).status_code == 404
    assert (
        await official.get(f"/officials/pb/cycles/{built.id}/exports/results.csv")
    ).status_code == 404
    assert await ResultRun.count() == 0
    # An official closes early with a reason; results appear at once.
    response = await official.post_form(
        f"/officials/pb/cycles/{built.id}/close", {"reason": "Storm warning: closing as announced"}
    )
    assert response.status_code == 303
    body = (await client.get(f"/api/v1/pb/cycles/{built.id}/results")).json()
    assert body["phase"] == "closed" and len(body["pots"]) == 26


async def test_results_rules_side_by_side_and_recompute_gives_the_same_runs(
    app, users, client, official
):
    built, receipts = await _vote_and_close(app, users, official)
    clock.advance(dt.timedelta(days=30))
    body = (await client.get(f"/api/v1/pb/cycles/{built.id}/results")).json()
    city = next(p for p in body["pots"] if p["pot"]["district_code"] is None)
    assert [r["rule"] for r in city["results"]] == ["equal-shares", "greedy"]
    assert city["results"][0]["official"] is True
    greedy = city["results"][1]
    ids = built.projects[built.city_pot]
    # Votes: p0=3, p1=2, p3=2, p2=2, p4=1; budget 10 bn; costs 3, 2, 4, 1, 5 bn.
    votes = {p["id"]: p["votes"] for p in greedy["projects"]}
    assert votes == {ids[0]: 3, ids[1]: 2, ids[2]: 2, ids[3]: 2, ids[4]: 1}
    assert (
        sum(p["cost"] for p in greedy["projects"] if p["selected"])
        == greedy["total_cost"]
        <= 10_000_000_000
    )
    losers = [p for p in city["results"][0]["projects"] if not p["selected"]]
    assert all(p["why_not"] for p in losers)
    runs_before = await ResultRun.select(ResultRun.id, ResultRun.outcome).order_by(ResultRun.id)
    from voting.services.results import compute_results

    await compute_results(built.id)
    assert (
        await ResultRun.select(ResultRun.id, ResultRun.outcome).order_by(ResultRun.id)
        == runs_before
    )
    page = await client.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}")
    assert (
        page.status_code == 200
        and "<svg" in page.text
        and "Why did this project not win?" in page.text
    )
    assert "Equal Shares with completion" in page.text and "Greedy (most votes first)" in page.text
    overview = await client.get(f"/pb/cycles/{built.id}/results")
    assert overview.status_code == 200 and "Turnout by district" in overview.text
    # The district pots on the map: every district a link with its figures in its name, Gangnam to its pot.
    assert overview.text.count('<a href="/pb/cycles/') >= 25 and 'id="results-map"' in overview.text
    assert f'href="/pb/cycles/{built.id}/results/pots/{built.pots["11680"]}" class="district' in overview.text
    assert overview.text.count("per 1,000 residents") >= 25


async def test_v6_every_receipt_is_in_the_published_list(app, users, client, official):
    built, receipts = await _vote_and_close(app, users, official)
    clock.advance(dt.timedelta(days=30))
    page = await client.get(f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts")
    assert page.status_code == 200
    for receipt in receipts:
        assert receipt in page.text
    for garbage in ("abc", "-1", "99999999999"):  # page numbers read leniently: page 1, or the last page
        again = await client.get(
            f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts", params={"page_no": garbage}
        )
        assert again.status_code == 200 and receipts[0] in again.text
    check = await client.get(
        f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts", params={"q": receipts[0]}
    )
    assert 'id="receipt-found"' in check.text
    # The page's own search posts the receipt (a URL with it would reach access logs).
    assert 'method="post" class="search"' in page.text
    posted = await client.post_form(
        f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts", {"q": receipts[1].lower()}
    )
    assert posted.status_code == 200 and 'id="receipt-found"' in posted.text
    missing = await client.post_form(
        f"/pb/cycles/{built.id}/results/pots/{built.city_pot}/receipts", {"q": "AAAA-BBBB-CCCC"}
    )
    assert missing.status_code == 200 and "is not in the list" in missing.text


async def test_v5_ballot_rows_carry_no_user_id_and_exports_no_identity(app, users, official):
    if is_postgres():
        columns = {
            r["column_name"]
            for r in await raw(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'pb_ballot'"
            )
        }
    else:
        columns = {r["name"] for r in await raw("PRAGMA table_info(pb_ballot)")}
    # channel says how a ballot arrived (online, station, paper, committee), never by whom.
    assert columns == {"id", "pot", "voter_key", "receipt", "content", "channel", "version", "cast_at"}
    built, _ = await _vote_and_close(app, users, official)
    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    emails = [r["email"] for r in await raw("SELECT email FROM portal_user")]
    keys = [r["voter_key"] for r in await Ballot.select(Ballot.voter_key)]
    for name in ("results.csv", "results.json", "turnout.csv", f"pot-{built.city_pot}.pb"):
        response = await official.get(f"/officials/pb/cycles/{built.id}/exports/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-disposition"].startswith("attachment")
        for secret in emails + keys:
            assert secret not in response.text


async def test_pb_export_reads_back_with_the_engine_to_the_same_winners(app, users, official):
    for rules in (
        BallotRules(ballot_kind="approval", max_projects=5),
        BallotRules(
            ballot_kind="cumulative",
            total_points=10,
            max_points_per_project=5,
            results_rule="greedy",
        ),
    ):
        built, _ = await _vote_and_close(app, users, official, rules=rules)
        clock.advance(dt.timedelta(days=30))
        await official.login(official.account)
        text = (
            await official.get(f"/officials/pb/cycles/{built.id}/exports/pot-{built.city_pot}.pb")
        ).text
        pb = parse_pb(text)
        projects, budget, ballots, ballot_type = pb.election()
        results = (await official.get(f"/api/v1/pb/cycles/{built.id}/results")).json()
        city = next(p for p in results["pots"] if p["pot"]["district_code"] is None)["results"][0]
        run = (
            await ResultRun.select(ResultRun.parameters)
            .where((ResultRun.pot == built.city_pot) & (ResultRun.official.eq(True)))
            .first()
        )
        params = json.loads(run["parameters"])
        extra = (
            {"voter_budget_increment": params["voter_budget_increment"]}
            if "voter_budget_increment" in params
            else {}
        )
        outcome = compute_outcome(
            projects,
            budget,
            ballots,
            rule=params["engine_rule"],
            sat=params["sat"],
            ballot_type=ballot_type,
            tie_break=params["tie_break"],
            seed=params["seed"],
            **extra,
        )
        assert sorted(int(p) for p in outcome.selected) == sorted(city["selected"])
        assert len(ballots) == 6


async def test_s19_csv_and_xlsx_escape_formula_cells(app, users, official):
    built, _ = await _vote_and_close(app, users, official)
    ids = built.projects[built.city_pot]
    await Proposal.update({Proposal.title: '=HYPERLINK("http://evil.example","click")'}).where(
        Proposal.id == ids[0]
    )
    await Proposal.update({Proposal.title: "@SUM(A1)"}).where(Proposal.id == ids[1])
    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    text = (
        await official.get(f"/officials/pb/cycles/{built.id}/exports/results.csv")
    ).content.decode("utf-8-sig")
    titles = {row["title"] for row in csv.DictReader(io.StringIO(text))}
    assert '\'=HYPERLINK("http://evil.example","click")' in titles and "'@SUM(A1)" in titles
    assert not any(t.startswith(("=", "+", "-", "@")) for t in titles)
    book = load_workbook(
        io.BytesIO(
            (await official.get(f"/officials/pb/cycles/{built.id}/exports/results.xlsx")).content
        )
    )
    values = [c.value for row in book.active.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)
    assert "'@SUM(A1)" in values


async def test_results_xlsx_has_typed_numbers_and_headers_in_the_readers_language(
    app, users, official
):
    built, _ = await _vote_and_close(app, users, official)
    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    url = f"/officials/pb/cycles/{built.id}/exports/results.xlsx"
    csv_header = (
        (await official.get(url.replace(".xlsx", ".csv"))).content.decode("utf-8-sig").splitlines()[0]
    )
    assert csv_header == "pot,district_code,rule,official_rule,project_id,title,category,cost_krw,votes,selected,rank"

    sheet = load_workbook(io.BytesIO((await official.get(url)).content)).active
    header = [c.value for c in sheet[1]]
    assert header == [
        "Pot", "District code", "Results rule", "Official rule", "Project ID", "Title",
        "Category", "Cost (KRW)", "Votes", "Selected", "Rank",
    ]
    rows = list(sheet.iter_rows(min_row=2))
    assert rows
    for row in rows:
        cost, votes = row[7], row[8]
        assert isinstance(cost.value, int) and cost.value > 0 and cost.number_format == "#,##0"
        assert isinstance(votes.value, int) and votes.number_format == "#,##0"
        assert isinstance(row[4].value, int)  # the project id, a number too
        assert row[9].value in ("yes", "no")
        assert row[0].value == ("City-wide" if row[1].value is None else row[0].value)

    await official.post_form("/language", {"language": "ko"})
    korean = load_workbook(io.BytesIO((await official.get(url)).content)).active
    assert [c.value for c in korean[1]][7:10] == ["사업비(원)", "득표", "선정"]
    assert {r[9].value for r in korean.iter_rows(min_row=2)} <= {"예", "아니요"}
    assert all(isinstance(r[7].value, int) for r in korean.iter_rows(min_row=2))
    csv_again = (await official.get(url.replace(".xlsx", ".csv"))).content.decode("utf-8-sig")
    assert csv_again.splitlines()[0] == csv_header  # the CSV contract does not follow the language


async def test_exports_are_for_officials_only(app, users, official, citizen):
    built, _ = await _vote_and_close(app, users, official, voters=1)
    clock.advance(dt.timedelta(days=30))
    await citizen.login(citizen.account)
    assert (
        await citizen.get(f"/officials/pb/cycles/{built.id}/exports/results.csv")
    ).status_code == 403


async def test_v8_two_different_officials_approve_then_the_push_is_enqueued(
    app, users, official, official2
):
    from portal.connector.tables import OutboxBatch

    built, _ = await _vote_and_close(app, users, official)
    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    await official2.login(official2.account)
    ack = await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    assert ack.status_code == 303
    first = await official.post_form(f"/officials/pb/cycles/{built.id}/approve")
    assert first.status_code == 303
    assert await OutboxBatch.count() == 0
    twice = await official.post_form(f"/officials/pb/cycles/{built.id}/approve")
    assert twice.status_code == 409
    assert await OutboxBatch.count() == 0
    second = await official2.post_form(f"/officials/pb/cycles/{built.id}/approve")
    assert second.status_code == 303
    rows = await OutboxBatch.select()
    assert len(rows) == 1
    payload = rows[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["totals"]["item_count"] == len(payload["items"]) > 0
    assert sum(int(i["amount"]) for i in payload["items"]) == int(payload["totals"]["amount"])
    assert {i["district"]["code"] for i in payload["items"]} == {"11000"}
    assert len(payload["approvals"]) == 2
    # The push body anchors the audit chain: its head is a link of the verified chain (A6).
    from portal import audit

    chain = await audit.verify_chain()
    assert chain.ok and payload["source"]["audit_head"] in chain.heads
