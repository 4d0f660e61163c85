"""The PB demo: Korean projects on the real pabulib ballots, one open cycle per ballot kind, and
pots that sum to each cycle's total (docs/demo.md documents the mapping)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

from portal import clock
from proposals.tables import Proposal
from voting import demo
from voting.compute.pabulib import read_pb
from voting.compute.rules import BallotChoice, validate_ballot
from voting.demo_projects import PROJECTS
from voting.projects import pot_projects
from voting.services import cycles as pb_cycles
from voting.services import results
from voting.services.channels import committee_of
from voting.services.stations import stations_of
from voting.services.statistics import cycle_statistics
from voting.tables import Ballot

HANGUL = re.compile("[가-힣]")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "demo.md"


def test_every_project_of_each_demo_file_is_mapped_and_documented():
    documented = DOCS.read_text()
    for election in (demo.PAST, *demo.VOTING):
        pb = read_pb(demo.DATA / election.file_name)
        mapped = {row.project_id for row in PROJECTS[election.file_name]}
        assert mapped == {row["project_id"] for row in pb.projects}, election.file_name
        assert f"`{election.file_name}` → {election.name}" in documented
        for row in PROJECTS[election.file_name]:
            assert f"| {row.project_id} |" in documented and f"| {row.title_ko} | {row.title_en} |" in documented
            assert HANGUL.search(row.title_ko) and HANGUL.search(row.summary_ko)
            assert not HANGUL.search(row.title_en + row.summary_en)


async def test_demo_opens_one_cycle_per_ballot_kind_with_pots_that_sum_to_the_total(users, citizen):
    official, official2 = await users.create(["official"]), await users.create(["official"])
    member = await users.create(["citizen", "committee"], district="11680", verified=True)
    worker = await users.create(["poll_worker"])
    await demo.load_demo(
        {"official": official.id, "official2": official2.id, "citizen": citizen.account.id,
         "committee": member.id, "pollworker": worker.id}
    )
    cycles = await pb_cycles.list_cycles()
    assert sorted(c["ballot_kind"] for c in cycles if c["phase"] == "voting") == [
        "approval", "approval", "cumulative", "knapsack",
    ]
    weighted = next(c for c in cycles if c["results_rule"] == "weighted-channels")
    assert len(await stations_of(weighted["id"])) == 3
    assert [m.user_id for m in await committee_of(weighted["id"])] == [member.id]
    past = next(c for c in cycles if c["phase"] == "published")
    statistics = await cycle_statistics(past["id"])
    assert statistics.snapshot["published"] and statistics.snapshot["total"] == 2553
    assert {c["phase"] for c in cycles} == {"published", "voting", "proposals"}
    for cycle in cycles:
        assert cycle["total_budget"] == sum(p["amount"] for p in cycle["pots"]) > 0, cycle["name"]

    # The Korean UI reads Korean: every project title and summary, every cycle name.
    assert all(HANGUL.search(c["name"]) for c in cycles)
    proposals = await Proposal.select(Proposal.title, Proposal.summary)
    assert proposals and all(HANGUL.search(p["title"] + p["summary"]) for p in proposals)
    assert all(HANGUL.search(p["title"]) for p in proposals)

    # The published cycle's funded projects show real delivery data (statuses, milestones, spending).
    from voting.services.delivery_progress import dashboard

    published = next(c for c in cycles if c["phase"] == "published")
    board = await dashboard(published["id"])
    assert board.total.projects > 8 and board.total.spent > 0
    assert all(board.total.counts[s] for s in ("planned", "in-progress", "completed", "cancelled"))

    # The real ballots are valid ballots under their cycle's rules.
    await citizen.post_form("/language", {"language": "ko"})
    for cycle in (c for c in cycles if c["phase"] == "voting"):
        rules = pb_cycles.rules_of(cycle)
        pot = next(p for p in cycle["pots"] if p["district_code"] is None)
        costs = {p.id: p.cost for p in await pot_projects(pot["id"])}
        contents = [json.loads(b["content"]) for b in await Ballot.select(Ballot.content).where(Ballot.pot == pot["id"])]
        assert contents
        for content in contents:
            if "points" in content:
                choice = BallotChoice(points=tuple((int(k), n) for k, n in content["points"].items()))
            else:
                choice = BallotChoice(project_ids=tuple(content["project_ids"]))
            validate_ballot(rules, pot["amount"], costs, choice)
        # The demo citizen can open this ballot, in Korean.
        page = await citizen.get(f"/pb/cycles/{cycle['id']}/pots/{pot['id']}/ballot")
        assert page.status_code == 200
        title = (await pot_projects(pot["id"]))[0].title
        assert title in html.unescape(page.text) and HANGUL.search(title)

    # Once voting closes, each kind counts: the real ballots elect projects within the pot.
    clock.advance(dt.timedelta(days=30))
    for cycle in (c for c in cycles if c["phase"] == "voting"):
        runs = await results.compute_results(cycle["id"], official.id)
        pot = next(p for p in cycle["pots"] if p["district_code"] is None)
        official_run = next(r for r in runs if r["official"] and r["pot"] == pot["id"])
        assert official_run["outcome"]["selected"], cycle["name"]
        assert 0 < official_run["outcome"]["total_cost"] <= pot["amount"]


async def test_challenge_demo_has_bids_a_discussion_invitations_and_a_blended_final(users, official, official2, judge, startup):
    """Issue 13: a new user clicking through the 2026 final finds every feature populated."""
    from judging import demo as challenge_demo
    from judging.demo_judges import INVITED_JUDGES, THREADS
    from judging.services import bids, intake, judge_invitations
    from judging.services.blending import stage_blend
    from judging.services.discussion import discussion_for
    from judging.tables import Assignment, Round
    from portal.tables import Notification

    newcomer = await users.create(["citizen"])
    ids = {"official": official.account.id, "official2": official2.account.id, "judge": judge.account.id,
           "startup": startup.account.id, "newcomer": newcomer.id}
    lines = await challenge_demo.load_demo(ids)
    assert any("bids by" in line for line in lines)
    final = (await Round.select(Round.id).where(Round.kind == "final").order_by(Round.id).first())["id"]

    # Bids came before the assignment, which counted them: every assignment has a bid level.
    summary = await bids.assignment_bid_summary(final)
    assert summary.judges_bidding == challenge_demo.BIDDING_JUDGES and summary.counts["eager"] > 0
    assert sum(summary.counts.values()) == await Assignment.count().where(Assignment.round == final)
    page = await official.get(f"/officials/challenge/rounds/{final}")
    assert page.status_code == 200 and 'id="bid-summary"' in page.text and "Assignments by bid" in page.text

    # The demo judge reads two threads with another judge, after their own reviews.
    discussed = [line for line in lines if "discusses two entries" in line]
    assert discussed
    entry = int(re.search(r"/entries/(\d+)#discussion", discussed[0])[1])
    thread = await discussion_for(judge.account.id, final, entry)
    assert thread is not None and len(thread.reviews) > 1
    assert [m.body for m in thread.messages] == [body for which, _w, body in THREADS if which == 0]
    shown = await judge.get(f"/judging/rounds/{final}/entries/{entry}")
    assert THREADS[0][2] in html.unescape(shown.text)

    # Two invitations to judge wait; the invited colleague has a notice and the invitation.
    pending = [i.email for i in await judge_invitations.invitations() if i.accepted_at is None]
    assert sorted(pending) == sorted(email for _n, email, _e in INVITED_JUDGES)
    assert [i.organization_name for i in await intake.pending_invitations(newcomer.email)] == ["한강로보틱스"]
    notices = await Notification.select(Notification.link).where(Notification.user == newcomer.id)
    assert [n["link"] for n in notices] == ["/challenge/invitations"]

    # The final blends experts, the drawn panel and the public vote, side by side.
    blend = await stage_blend(final)
    assert (blend.weight_expert, blend.weight_panel, blend.weight_public) == (60, 30, 10)
    assert any(s.expert_score is not None for s in blend.standings)
    assert any(s.panel_score is not None for s in blend.standings)
    assert sum(s.public_votes for s in blend.standings) > 0
    assert (await official.get(f"/officials/challenge/rounds/{final}/blend")).status_code == 200
