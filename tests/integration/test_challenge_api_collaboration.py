"""The /api/v1 JSON calls over judges' bids, their discussion, an entry's feedback and a stage's
reviews for officials: the pages' rules and messages, and bad input answered 4xx with a message."""

from __future__ import annotations

from judging.services import bids, stages
from judging.services import feedback_moderation as moderation
from judging.services.assignment import run_assignment
from judging.services.conflicts import declare_conflict
from judging.services.reviews import save_review
from judging.tables import Review
from tests.helpers import field_error
from tests.integration.test_challenge_bids import _screened
from tests.integration.test_challenge_setup import logged_in, relogin, scores, set_pool
from tests.integration.test_challenge_stages import _decide, _funnel

BAD_BODIES = (None, {}, {"level": ""}, {"level": "x" * 5000}, {"level": 7}, {"level": "eager", "extra": 1}, [1])


async def test_bids_over_the_api_and_a_conflicted_entry_refused(app, official, startup, judge, users):
    challenge = await _screened(official, startup, entries=3)
    await relogin(judge)
    await declare_conflict(judge.account.id, challenge.organizations[0], "investment", "")
    base = f"/api/v1/challenge/rounds/{challenge.evaluation_round}/bids"
    listed = await judge.get(base)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["open"] and body["hidden_by_conflicts"] == 1 and body["total"] == 2
    assert [e["entry_id"] for e in body["entries"]] == challenge.entries[1:]
    assert all(e["bid"] == "" for e in body["entries"])
    assert [e["entry_id"] for e in (await judge.get(base + "?offset=1&limit=1")).json()["entries"]] == [
        challenge.entries[2]
    ]

    eager = await judge.send_json("PUT", f"{base}/{challenge.entries[1]}", {"level": "eager"})
    assert eager.status_code == 200 and eager.json()["bid"] == "eager"
    assert await bids.round_bids(challenge.evaluation_round) == {(judge.account.id, challenge.entries[1]): "eager"}
    # A conflicted entry: refused with a message saying why, in the reader's language.
    refused = await judge.send_json("PUT", f"{base}/{challenge.entries[0]}", {"level": "willing"})
    assert refused.status_code == 409
    assert "conflict of interest with this entry" in field_error(refused)
    korean_judge = await users.create(roles=["judge"], language="ko")
    await declare_conflict(korean_judge.id, challenge.organizations[0], "investment", "")
    async with logged_in(app, korean_judge) as korean:
        answer = await korean.send_json("PUT", f"{base}/{challenge.entries[0]}", {"level": "willing"})
        assert answer.status_code == 409 and field_error(answer) == "이 출품작과 이해충돌이 있어 심사 희망을 표시할 수 없습니다."
    assert (await judge.get(f"{base}/{challenge.entries[0]}")).status_code in (404, 405)
    # Bad bodies and ids: 4xx with a message, never a 5xx.
    for bad in BAD_BODIES:
        answer = await judge.send_json("PUT", f"{base}/{challenge.entries[1]}", bad)
        assert 400 <= answer.status_code < 500 and field_error(answer), (bad, answer.text)
    for path in (f"{base}/999999", f"{base}/0", f"{base}/99999999999"):
        answer = await judge.send_json("PUT", path, {"level": "eager"})
        assert 400 <= answer.status_code < 500 and field_error(answer), (path, answer.text)
    taken_back = await judge.send_json("DELETE", f"{base}/{challenge.entries[1]}")
    assert taken_back.status_code == 204
    assert await bids.round_bids(challenge.evaluation_round) == {}
    # Not a judge: 403; the CSRF header is required on writes.
    assert (await startup.get(base)).status_code == 403
    no_csrf = await judge.put(f"{base}/{challenge.entries[1]}", json={"level": "eager"})
    assert no_csrf.status_code == 403


async def test_discussion_over_the_api_opens_after_ones_own_review(app, official, startup, users):
    challenge = await _screened(official, startup, entries=2)
    first, second = [await users.create(roles=["judge"]) for _ in range(2)]
    await set_pool(challenge, [first.id, second.id], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    entry = challenge.entries[0]
    url = f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{entry}/discussion"
    await save_review(first.id, challenge.evaluation_round, entry, scores(8), {"impact": "Strong pilot"}, 4)
    async with logged_in(app, second) as client:
        before = await client.get(url)
        assert before.status_code == 403 and "Submit your own review first" in field_error(before)
        assert "Strong pilot" not in before.text
        refused = await client.send_json("POST", url, {"body": "Hello"})
        assert refused.status_code == 403
        await save_review(second.id, challenge.evaluation_round, entry, scores(5), {}, 3)
        thread = (await client.get(url)).json()
        assert thread["open"] and [r["judge"] for r in thread["reviews"]] == [1, 0]
        assert thread["reviews"][0]["comments"]["impact"] == "Strong pilot"
        posted = await client.send_json("POST", url, {"body": "Why an 8 on impact?"})
        assert posted.status_code == 201, posted.text
        assert [(m["judge"], m["mine"], m["body"]) for m in posted.json()["messages"]] == [
            (0, True, "Why an 8 on impact?")
        ]
        for bad in (None, {}, {"body": "  "}, {"body": "x" * 4001}, {"body": "x" * 30000}, {"body": 3}):
            answer = await client.send_json("POST", url, bad)
            assert 400 <= answer.status_code < 500 and field_error(answer), (bad, answer.text)
        overlong = await client.send_json("POST", url, {"body": "x" * 4001})
        assert "4000" in field_error(overlong)
        # An entry not assigned to this judge: 404, as for one that does not exist.
        other = f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/999999/discussion"
        assert (await client.get(other)).status_code == 404
    async with logged_in(app, first) as client:
        seen = (await client.get(url)).json()
        assert [(m["judge"], m["mine"]) for m in seen["messages"]] == [(1, False)]


async def test_feedback_over_the_api_only_after_approval_and_only_for_the_organization(
    app, official, official2, startup, users
):
    challenge, _pitch, _judges, quality = await _funnel(official, official2, startup, users, 4)
    round_id = challenge.evaluation_round
    entry = max(challenge.entries, key=quality.__getitem__)
    review = await Review.select().output(load_json=True).where(
        (Review.round == round_id) & (Review.entry == entry)
    ).first()
    key = next(iter(review["scores"]))
    await save_review(review["judge"], round_id, entry, review["scores"], {key: "Clear plan"}, 3)
    url = f"/api/v1/challenge/entries/{entry}/feedback"
    officials_url = f"/api/v1/challenge/officials/rounds/{round_id}/feedback"

    before = await startup.get(url)
    assert before.status_code == 200
    assert before.json()["stages"] == [] and [w["round_id"] for w in before.json()["waiting"]] == [round_id]
    assert (await official.get(officials_url)).json()["entries"] == []

    await _decide(official, official2, round_id, stages.RuleForm("count", 2))
    assert (await startup.get(url)).json()["stages"] == []  # approved, not yet released
    listing = (await official.get(officials_url + "?limit=2")).json()
    assert listing["total"] == 4 and [e["rank"] for e in listing["entries"]] == [1, 2]
    best = listing["entries"][0]
    assert best["entry_id"] == entry and len(best["reviews"]) == 2
    assert all(r["judge_name"] and r["judge"] in ("A", "B") for r in best["reviews"])
    assert [(c["text"], c["status"], c["shown"]) for c in best["comments"]] == [("Clear plan", "pending", False)]
    await moderation.approve_remaining(official.account.id, round_id)
    await moderation.release_feedback(official.account.id, round_id)

    body = (await startup.get(url)).json()
    [stage] = body["stages"]
    assert stage["round_id"] == round_id and stage["rank"] == 1 and stage["advanced"] is True
    assert stage["band"] == "top-10" and stage["band_label"] == "Top 10%"
    assert stage["scale_min"] == 0 and stage["scale_max"] == 100
    comments = [x for c in stage["criteria"] for x in c["comments"]]
    assert comments == [{"judge": comments[0]["judge"], "text": "Clear plan"}]
    assert all(c["score"] is not None and c["name"] for c in stage["criteria"])

    # Another organization's member: 404; a judge or citizen (not a startup account): 403.
    stranger = await users.create(roles=["startup", "citizen"], language="ko")
    async with logged_in(app, stranger) as other:
        hidden = await other.get(url)
        assert hidden.status_code == 404 and "Clear plan" not in hidden.text
        assert field_error(hidden) and "We could not" not in field_error(hidden)  # in Korean
    assert (await official.get(url)).status_code == 403
    assert (await startup.get(officials_url)).status_code == 403
    for query in ("?limit=0", "?limit=501", "?offset=-1", "?limit=abc"):
        answer = await official.get(officials_url + query)
        assert answer.status_code == 400 and field_error(answer), query
