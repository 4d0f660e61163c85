"""Judges' bids, the discussion after one's own review and the calibration minimum (issue 13)."""

from __future__ import annotations

import pytest

from judging.services import bids, calibration_checks, discussion
from judging.services.assignment import run_assignment
from judging.services.conflicts import declare_conflict
from judging.services.reviews import save_review
from judging.tables import Assignment
from portal.errors import Conflict as ConflictError
from portal.errors import NotAllowed
from portal.tables import AuditEvent, Notification
from tests.integration.test_challenge_setup import (
    add_entries,
    close_and_screen_in,
    logged_in,
    make_edition,
    relogin,
    scores,
    set_pool,
)


async def _screened(official, startup, entries: int = 4):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, entries)
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    return challenge


async def test_assignment_follows_the_bids_and_officials_see_the_counts(app, official, startup, users):
    challenge = await _screened(official, startup)
    judges = [await users.create(roles=["judge"]) for _ in range(4)]
    await set_pool(challenge, [j.id for j in judges], per_entry=1)
    # Judge k is eager for entry (k + 1) mod 4 and not qualified for entry k: one perfect matching.
    for k, judge in enumerate(judges):
        await bids.save_bids(
            judge.id,
            challenge.evaluation_round,
            {challenge.entries[(k + 1) % 4]: "eager", challenge.entries[k]: "not-qualified"},
        )
    await run_assignment(official.account.id, challenge.evaluation_round)
    pairs = {(a["judge"], a["entry"]) for a in await Assignment.select()}
    assert pairs == {(j.id, challenge.entries[(k + 1) % 4]) for k, j in enumerate(judges)}
    summary = await bids.assignment_bid_summary(challenge.evaluation_round)
    assert summary.counts == {"eager": 4, "willing": 0, "not-qualified": 0, "none": 0}
    event = await AuditEvent.select().where(AuditEvent.action == "challenge.assignment.run").first()
    assert '"eager": 4' in str(event) or "eager" in str(event)
    page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}")
    assert page.status_code == 200 and "Assignments by bid" in page.text and "Eager 4" in page.text
    # Once the assignment ran, bids are closed.
    with pytest.raises(ConflictError):
        await bids.save_bids(judges[0].id, challenge.evaluation_round, {challenge.entries[2]: "willing"})


async def test_a_bid_on_a_conflicted_entry_is_refused_with_a_clear_message(app, official, startup, judge):
    challenge = await _screened(official, startup, entries=2)
    await relogin(judge)
    await declare_conflict(judge.account.id, challenge.organizations[0], "investment", "")
    page = await judge.get(f"/judging/rounds/{challenge.evaluation_round}/bids")
    assert page.status_code == 200
    assert "Entry 1" in page.text and "Entry 0" not in page.text  # the conflicted entry is not shown
    refused = await judge.post_form(
        f"/judging/rounds/{challenge.evaluation_round}/bids",
        {f"bid_{challenge.entries[0]}": "eager", f"bid_{challenge.entries[1]}": "willing"},
    )
    assert refused.status_code == 409
    assert "conflict of interest with this entry, so you cannot bid on it" in refused.text
    assert await bids.round_bids(challenge.evaluation_round) == {}  # nothing saved
    saved = await judge.post_form(
        f"/judging/rounds/{challenge.evaluation_round}/bids?x=1",
        {f"bid_{challenge.entries[1]}": "eager", "back": "?sort=bid&order=desc"},
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?sort=bid&order=desc")
    assert await bids.round_bids(challenge.evaluation_round) == {
        (judge.account.id, challenge.entries[1]): "eager"
    }
    filtered = await judge.get(f"/judging/rounds/{challenge.evaluation_round}/bids?bid=willing")
    assert "Entry 1" not in filtered.text and "No entries match." in filtered.text


async def test_the_discussion_opens_only_after_ones_own_review(app, official, startup, users):
    challenge = await _screened(official, startup, entries=2)
    first, second = [await users.create(roles=["judge"]) for _ in range(2)]
    await set_pool(challenge, [first.id, second.id], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    entry = challenge.entries[0]
    await save_review(first.id, challenge.evaluation_round, entry, scores(8), {"impact": "Strong pilot"}, 4)
    # Before their own review the second judge sees nothing of the first's, and cannot post.
    assert await discussion.discussion_for(second.id, challenge.evaluation_round, entry) is None
    with pytest.raises(NotAllowed):
        await discussion.post_message(second.id, challenge.evaluation_round, entry, "Hello")
    async with logged_in(app, second) as client:
        page = await client.get(f"/judging/rounds/{challenge.evaluation_round}/entries/{entry}")
        assert "Submit your own review first" in page.text and "Strong pilot" not in page.text
        await save_review(second.id, challenge.evaluation_round, entry, scores(5), {}, 3)
        page = await client.get(f"/judging/rounds/{challenge.evaluation_round}/entries/{entry}")
        assert "Strong pilot" in page.text and "8.00" in page.text
        posted = await client.post_form(
            f"/judging/rounds/{challenge.evaluation_round}/entries/{entry}/discussion",
            {"body": "Why an 8 on impact?"},
        )
        assert posted.status_code == 303
        empty = await client.post_form(
            f"/judging/rounds/{challenge.evaluation_round}/entries/{entry}/discussion", {"body": " "}
        )
        assert empty.status_code == 422 and "Write a message first." in empty.text
    note = await Notification.select().where(Notification.user == first.id).first()
    assert note["link"].endswith(f"/entries/{entry}#discussion")
    seen = await discussion.discussion_for(first.id, challenge.evaluation_round, entry)
    assert [(m.label, m.body) for m in seen.messages] == [(1, "Why an 8 on impact?")]
    assert [r.label for r in seen.reviews] == [0, 1]


async def test_calibration_flags_judges_below_the_minimum(app, official, startup, users):
    challenge = await _screened(official, startup, entries=6)
    busy, idle = [await users.create(roles=["judge"]) for _ in range(2)]
    await set_pool(challenge, [busy.id, idle.id], per_entry=1)
    await run_assignment(official.account.id, challenge.evaluation_round)
    for a in await Assignment.select():
        if a["judge"] == busy.id:
            await save_review(busy.id, challenge.evaluation_round, a["entry"], scores(6), {}, 3)
    idle_entry = (await Assignment.select().where(Assignment.judge == idle.id).first())["entry"]
    await save_review(idle.id, challenge.evaluation_round, idle_entry, scores(7), {}, 3)
    check = await calibration_checks.calibration_check(challenge.evaluation_round)
    assert check.min_reviews == 3
    assert [(j.email, j.reviews) for j in check.flagged] == [(idle.email, 1)]
    await calibration_checks.set_min_reviews(official.account.id, challenge.edition_id, 1)
    assert (await calibration_checks.calibration_check(challenge.evaluation_round)).flagged == []
    refused = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/calibration-minimum",
        {"calibration_min_reviews": "0", "round": str(challenge.evaluation_round)},
    )
    assert refused.status_code == 422 and "between 1 and 50" in refused.text
    saved = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/calibration-minimum",
        {"calibration_min_reviews": "2", "round": str(challenge.evaluation_round)},
    )
    assert saved.status_code == 303
    page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}/calibration")
    assert "fewer than 2 reviews" in page.text and idle.email in page.text
