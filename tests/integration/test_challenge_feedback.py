"""Feedback to every applicant: judges keep comments private, officials moderate and release, and only
the entry's organization reads it (404 for anyone else), anonymised, after the stage is decided."""

from __future__ import annotations

import csv
import io

import pytest

from judging.services import feedback as figures
from judging.services import feedback_moderation as feedback
from judging.services import stages
from judging.services.editions import get_round
from judging.services.reviews import my_review, save_review
from judging.tables import Assignment, FeedbackFigures, Review
from portal.errors import Conflict as ConflictError
from portal.tables import Notification, User
from tests.helpers import field_error
from tests.integration.test_challenge_setup import logged_in
from tests.integration.test_challenge_stages import _decide, _funnel

SECRET = "internal note that must stay private"
HIDDEN = "rude remark the officials hide"


async def _comment_on(entry_id: int, round_id: int) -> tuple[list[int], list[str]]:
    """The entry's two judges comment on every criterion; the first keeps one comment private and the
    second writes one the officials will hide. Returns the judges and the rubric's keys."""
    reviews = (
        await Review.select()
        .output(load_json=True)
        .where((Review.round == round_id) & (Review.entry == entry_id))
        .order_by(Review.id)
    )
    keys = list(reviews[0]["scores"])
    first, second = reviews[0], reviews[1]
    await save_review(
        first["judge"],
        round_id,
        entry_id,
        first["scores"],
        {keys[0]: "Clear technical plan", keys[1]: SECRET},
        3,
        private_comments=[keys[1]],
    )
    await save_review(
        second["judge"],
        round_id,
        entry_id,
        second["scores"],
        {keys[0]: "Strong data protection", keys[1]: HIDDEN},
        3,
    )
    return [first["judge"], second["judge"]], keys


async def test_feedback_is_moderated_released_after_approval_and_read_only_by_the_organization(
    app, client, official, official2, startup, users
):
    challenge, _pitch, _judges, quality = await _funnel(official, official2, startup, users, 6)
    entry = max(challenge.entries, key=quality.__getitem__)
    judges, keys = await _comment_on(entry, challenge.evaluation_round)
    round_id = challenge.evaluation_round
    url = f"/challenge/entries/{entry}/feedback"

    # Before the stage's advancement is approved: nothing to read, nothing to moderate.
    page = await startup.get(url)
    assert page.status_code == 200 and "Clear technical plan" not in page.text
    with pytest.raises(ConflictError):
        await feedback.approve_remaining(official.account.id, round_id)

    await _decide(official, official2, round_id, stages.RuleForm("count", 3))
    # Moderation page: judges by name for officials, the private comment marked and not moderatable.
    names = {
        u["id"]: u["display_name"]
        for u in await User.select(User.id, User.display_name).where(User.id.is_in(judges))
    }
    moderation = await official.get(f"/officials/challenge/rounds/{round_id}/feedback")
    assert moderation.status_code == 200
    assert all(name in moderation.text for name in names.values())
    assert SECRET in moderation.text
    private = await feedback.moderation_page(round_id, status="private")
    assert [r.comment.text for r in private.rows] == [SECRET]
    email = (await User.select(User.email).where(User.id == judges[1]).first())["email"]
    by_judge = await feedback.moderation_page(round_id, search=email, sort="judge")
    assert by_judge.rows and {r.comment.judge for r in by_judge.rows} == {judges[1]}
    # Hiding needs a reason, shown beside the field; the typed choice is kept.
    view = await feedback.moderation_page(round_id)
    hide = next(r.comment for r in view.rows if r.comment.text == HIDDEN)
    action = f"/officials/challenge/rounds/{round_id}/feedback/{hide.review}/{hide.criterion}"
    refused = await official.post_form(action, {"status": "hidden", "reason": ""})
    assert refused.status_code == 422 and field_error(refused)
    hidden = await official.post_form(action, {"status": "hidden", "reason": "Not about the entry"})
    assert hidden.status_code in (302, 303)
    # The release waits for every comment; the bulk approval asks for a confirmation first.
    with pytest.raises(ConflictError):
        await feedback.release_feedback(official.account.id, round_id)
    bulk = f"/officials/challenge/rounds/{round_id}/feedback/approve-remaining"
    assert (await official.post_form(bulk, {})).status_code == 422
    assert (await official.post_form(bulk, {"confirm": "yes"})).status_code in (302, 303)
    assert (await startup.get(url)).text.count("Clear technical plan") == 0  # not released yet
    released = await official.post_form(f"/officials/challenge/rounds/{round_id}/feedback/release")
    assert released.status_code in (302, 303)

    page = await startup.get(url)
    assert page.status_code == 200
    assert "Clear technical plan" in page.text and "Strong data protection" in page.text
    assert SECRET not in page.text and HIDDEN not in page.text
    assert "Judge A" in page.text and "Judge B" in page.text
    for judge_id, name in names.items():
        assert name not in page.text
        email = (await User.select(User.email).where(User.id == judge_id).first())["email"]
        assert email not in page.text
    assert "Advanced" in page.text
    assert await Notification.exists().where(
        (Notification.user == startup.account.id) & Notification.link.like(f"%/{entry}/feedback")
    )

    # Another organization's member and an anonymous visitor: 404, as for an entry that does not exist.
    other = await users.create(roles=["startup", "citizen"])
    async with logged_in(app, other) as stranger:
        assert (await stranger.get(url)).status_code == 404
    assert (await client.get(url)).status_code == 404
    assert (await startup.get("/challenge/entries/999999/feedback")).status_code == 404

    # The export: every comment with its moderation; only approved ones are "shown".
    export = await official.get(
        f"/officials/challenge/rounds/{round_id}/feedback/export/feedback.csv"
    )
    assert export.status_code == 200
    rows = [r for r in csv.DictReader(io.StringIO(export.text)) if r["entry"] == str(entry)]
    status = {r["comment"]: (r["status"], r["shown"], r["reason"]) for r in rows if r["comment"]}
    assert status[SECRET] == ("private", "no", "")
    assert status[HIDDEN] == ("hidden", "no", "Not about the entry")
    assert status["Clear technical plan"] == ("approved", "yes", "")
    assert {r["outcome"] for r in rows} == {"advanced"} and {r["band"] for r in rows} == {"top-10"}
    xlsx = await official.get(
        f"/officials/challenge/rounds/{round_id}/feedback/export/feedback.xlsx"
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_rank_band_and_distance_to_the_cut_on_a_decided_stage(
    official, official2, startup, users
):
    challenge, _pitch, _judges, quality = await _funnel(official, official2, startup, users, 6)
    decision_id = await _decide(
        official, official2, challenge.evaluation_round, stages.RuleForm("count", 2)
    )
    result = (await stages.get_decision(decision_id))["result"]
    view = await feedback.moderation_page(challenge.evaluation_round)
    by_entry = {f.entry: f for f in view.feedback}
    scores = {result["entry_ids"][r["entry_id"]]: r["score"] for r in result["ranking"]}
    advancing = set(result["advancing_ids"])
    cut = min(scores[e] for e in advancing)
    for entry, item in by_entry.items():
        assert item.advanced == (entry in advancing)
        assert item.distance == pytest.approx(round(scores[entry] - cut, 2))
    ordered = sorted(challenge.entries, key=quality.__getitem__, reverse=True)
    # Six ranked: ceil(0.6)=1 in the top 10%, ceil(1.5)=2 to 25%, ceil(3)=3 to 50%, then the lower half.
    assert [by_entry[e].band for e in ordered] == [
        "top-10", "10-25", "25-50", "lower-half", "lower-half", "lower-half"
    ]  # fmt: skip
    assert by_entry[ordered[1]].distance == 0 and by_entry[ordered[2]].distance < 0


async def test_judge_keeps_a_comment_private_on_the_form_and_through_the_api(
    app, official, official2, startup, users
):
    created = []
    create = users.create

    async def remember(*args, **kwargs):
        created.append(await create(*args, **kwargs))
        return created[-1]

    users.create = remember  # keep the judges' accounts _funnel makes, to sign one in
    challenge, _pitch, _judges, _quality = await _funnel(official, official2, startup, users, 4)
    a = await Assignment.select().where(Assignment.round == challenge.evaluation_round).first()
    review = await my_review(a["judge"], a["round"], a["entry"])
    account = next(u for u in created if u.id == a["judge"])
    keys = list(review.scores)
    async with logged_in(app, account) as judge:
        form = {f"score_{k}": str(v) for k, v in review.scores.items()}
        form |= {f"comment_{k}": "note" for k in keys} | {f"private_{keys[0]}": "1"}
        form["confidence"] = "4"
        url = f"/judging/rounds/{a['round']}/entries/{a['entry']}"
        assert (await judge.post_form(url, form)).status_code in (302, 303)
        assert (await my_review(a["judge"], a["round"], a["entry"])).private_comments == [keys[0]]
        assert 'name="private_' in (await judge.get(url)).text
        # The API: an omitted field keeps the flags; a list replaces them.
        api = f"/api/v1/challenge/rounds/{a['round']}/entries/{a['entry']}/review"
        body = {"scores": review.scores, "confidence": 3, "comments": {keys[0]: "x"}}
        reply = await judge.send_json("PUT", api, body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["private_comments"] == [keys[0]]
        reply = await judge.send_json("PUT", api, body | {"private_comments": []})
        assert reply.json()["private_comments"] == []


async def test_feedback_figures_are_stored_at_approval_and_equal_a_fresh_computation(
    official, official2, startup, users
):
    challenge, _pitch, _judges, _quality = await _funnel(official, official2, startup, users, 5)
    round_id = challenge.evaluation_round
    rnd = await get_round(round_id)
    assert await figures.stored_figures(round_id) is None  # nothing before the approval
    assert await figures.figures_of(rnd) == {}
    decision_id = await _decide(official, official2, round_id, stages.RuleForm("count", 2))
    stored = await figures.stored_figures(round_id)
    assert sorted(stored) == sorted(challenge.entries)
    recomputed = await figures.compute_figures(rnd, await stages.get_decision(decision_id))
    assert stored == recomputed
    # Views read the stored rows: what they show is the stored figure, and reading writes nothing.
    before = await FeedbackFigures.count()
    entry = challenge.entries[0]
    [mine] = await figures.stage_feedback(rnd, [entry])
    assert (mine.score, mine.rank, mine.band) == (
        stored[entry]["score"], stored[entry]["rank"], stored[entry]["band"]
    )
    assert {c.key: c.score for c in mine.criteria} == stored[entry]["criteria"]
    assert await FeedbackFigures.count() == before
    # An older database (stage approved before figures were stored) is computed on the fly, unwritten.
    await FeedbackFigures.delete().where(FeedbackFigures.round == round_id)
    assert await figures.figures_of(rnd) == stored
    assert await FeedbackFigures.count() == 0
    # An official's write (the release) stores them again; storing twice writes nothing.
    await figures.ensure_figures(round_id)
    assert await figures.stored_figures(round_id) == stored
    assert await figures.store_figures(await stages.get_decision(decision_id)) == 0
