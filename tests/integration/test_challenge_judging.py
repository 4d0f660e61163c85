"""Screening, judges and conflicts, assignment, blind scoring and its lock (S14, V7)."""

from __future__ import annotations

import datetime as dt

from judging.services.assignment import run_assignment
from judging.services.conflicts import conflict_register
from judging.services.selection import pseudonym
from judging.tables import DEFAULT_GATES, Assignment, Entry, Review, Round
from portal import clock
from portal.mail import development_outbox
from portal.tables import AuditEvent, Notification
from tests.integration.test_challenge_setup import (
    PDF,
    add_entries,
    close_and_screen_in,
    logged_in,
    make_edition,
    relogin,
    scores,
    set_pool,
)


async def test_screening_gates_decide_status_and_notify_the_organization(official, startup):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 2)
    first, second = challenge.entries
    early = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/screening/{first}",
        {"gate": DEFAULT_GATES[0], "passed": "1"},
    )
    assert early.status_code == 409  # screening starts when the intake closes
    clock.advance(dt.timedelta(days=8))
    await official.login(official.account)
    failed = await official.post_form(
        f"/officials/challenge/{challenge.edition_id}/screening/{second}",
        {"gate": DEFAULT_GATES[0], "passed": "0"},
    )
    assert failed.status_code == 422  # a failure needs a reason
    for gate in DEFAULT_GATES:
        await official.post_form(
            f"/officials/challenge/{challenge.edition_id}/screening/{first}",
            {"gate": gate, "passed": "1"},
        )
        await official.post_form(
            f"/officials/challenge/{challenge.edition_id}/screening/{second}",
            {
                "gate": gate,
                "passed": "0" if gate == "ai-solution" else "1",
                "reason": "No AI in it" if gate == "ai-solution" else "",
            },
        )
    statuses = {e["id"]: e["status"] for e in await Entry.select(Entry.id, Entry.status)}
    assert statuses == {first: "screened-in", second: "screened-out"}
    notes = await Notification.select().where(Notification.user == startup.account.id)
    messages = [n["message"] for n in notes]
    assert any("passed screening" in m for m in messages)
    assert any("did not pass screening" in m for m in messages)
    assert any("No AI in it" in mail.body for mail in development_outbox.sent)
    await relogin(startup)
    entry_page = await startup.get(f"/challenge/entries/{second}")
    assert "Screened out" in entry_page.text and "No AI in it" in entry_page.text


async def test_conflicts_declared_and_detected_block_assignment(app, official, startup, users):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 4)
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    org_of = {e["id"]: e["organization"] for e in await Entry.select(Entry.id, Entry.organization)}
    declaring = await users.create(roles=["judge"], email="declaring@judges.kr")
    colleague = await users.create(
        roles=["judge"], email="partner@robotics.kr"
    )  # same domain as a member
    holder = await users.create(roles=["judge"], email="holder@fund.kr")
    others = [await users.create(roles=["judge"], email=f"j{i}@judges{i}.kr") for i in range(3)]
    member = await users.create(roles=["startup"], email="cto@robotics.kr")
    from judging.tables import OrganizationMember

    await OrganizationMember.insert(
        OrganizationMember(
            organization=org_of[challenge.entries[1]],
            user=member.id,
            role="member",
            joined_at=clock.now(),
        )
    )
    async with logged_in(app, declaring) as c:
        response = await c.post_form(
            "/judging/conflicts",
            {
                "organization": str(org_of[challenge.entries[0]]),
                "kind": "investment",
                "note": "Angel round",
            },
        )
        assert response.status_code == 303
        assert (
            await c.post_form(
                "/judging/conflicts",
                {"organization": str(org_of[challenge.entries[0]]), "kind": "bribery"},
            )
        ).status_code == 422
    from judging.tables import Organization

    holding_brn = (
        await Organization.select(Organization.registration_number)
        .where(Organization.id == org_of[challenge.entries[2]])
        .first()
    )["registration_number"]
    async with logged_in(app, holder) as c:
        response = await c.post_form(
            "/judging/profile",
            {
                "affiliations": "Hangang Fund",
                "expertise": "transportation",
                "holdings": holding_brn,
            },
        )
        assert response.status_code == 303
        bad = await c.post_form(
            "/judging/profile", {"affiliations": "", "holdings": "220-81-62518"}
        )
        assert bad.status_code == 422
    register = {
        (j, e): kind for j, e, kind in await conflict_register(challenge.edition_id)
    }
    assert register[(declaring.id, challenge.entries[0])] == "investment"
    assert register[(colleague.id, challenge.entries[1])] == "same-email-domain"
    assert register[(holder.id, challenge.entries[2])] == "holding"
    await OrganizationMember.insert(
        OrganizationMember(
            organization=org_of[challenge.entries[3]],
            user=others[0].id,
            role="member",
            joined_at=clock.now(),
        )
    )
    register = {
        (j, e): kind for j, e, kind in await conflict_register(challenge.edition_id)
    }
    assert register[(others[0].id, challenge.entries[3])] == "same-organization"
    pool = [declaring.id, colleague.id, holder.id] + [o.id for o in others]
    await set_pool(challenge, pool, per_entry=3)
    made = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/assign"
    )
    assert made.status_code == 303
    pairs = {(a["judge"], a["entry"]) for a in await Assignment.select()}
    assert len(pairs) == 12
    assert not set(register) & pairs
    refused = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/assignments/add",
        {"entry": str(challenge.entries[0]), "judge": str(declaring.id)},
    )
    assert refused.status_code == 409
    page = await official.get(f"/officials/challenge/{challenge.edition_id}/conflicts")
    assert "declaring@judges.kr" in page.text and "partner@robotics.kr" in page.text


async def test_conflicted_judge_sees_nothing_of_the_entry(app, official, startup, users):
    """S14: pages, API, attachments: nothing of a conflicted entry reaches the judge, even if assigned before."""
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 3)
    target = challenge.entries[0]
    token = await startup.csrf_token()
    await startup.post(
        f"/challenge/entries/{target}/attachments",
        data={"_csrf_token": token},
        files={"file": ("Org 0 pitch deck.pdf", PDF, "application/pdf")},
    )
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    judges = [await users.create(roles=["judge"]) for _ in range(3)]
    await set_pool(challenge, [j.id for j in judges], per_entry=3)
    await run_assignment(official.account.id, challenge.evaluation_round)
    conflicted = judges[0]
    from judging.tables import Attachment

    attachment_id = (await Attachment.select(Attachment.id).first())["id"]
    async with logged_in(app, conflicted) as c:
        assert (
            await c.get(f"/judging/rounds/{challenge.evaluation_round}/entries/{target}")
        ).status_code == 200
        org = (await Entry.select(Entry.organization).where(Entry.id == target).first())[
            "organization"
        ]
        assert (
            await c.post_form("/judging/conflicts", {"organization": str(org), "kind": "family"})
        ).status_code == 303
        title = (await Entry.select(Entry.title).where(Entry.id == target).first())["title"]
        dashboard = await c.get("/judging")
        assert title not in dashboard.text
        api = (await c.get("/api/v1/challenge/assignments")).json()
        assert target not in [a["entry_id"] for a in api]
        assert (
            await c.get(f"/judging/rounds/{challenge.evaluation_round}/entries/{target}")
        ).status_code == 404
        assert (
            await c.get(f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{target}")
        ).status_code == 404
        write = await c.send_json(
            "PUT",
            f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{target}/review",
            {"scores": scores(9), "confidence": 5},
        )
        assert write.status_code == 404
        assert (await c.get(f"/judging/attachments/{attachment_id}")).status_code == 404
        # Officials' exports and pages are closed to judges.
        assert (
            await c.get(f"/officials/challenge/{challenge.edition_id}/conflicts")
        ).status_code == 403
        assert (
            await c.get("/officials/challenge/selections/1/export/scores.csv")
        ).status_code == 403
    assert not await Review.exists().where(Review.judge == conflicted.id)
    assert not await Assignment.exists().where(
        (Assignment.judge == conflicted.id) & (Assignment.entry == target)
    )
    # Another judge still sees it, blind: no organization name.
    async with logged_in(app, judges[1]) as c:
        page = await c.get(f"/judging/rounds/{challenge.evaluation_round}/entries/{target}")
        assert page.status_code == 200 and "Org 0" not in page.text
        body = (
            await c.get(f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{target}")
        ).json()
        assert body["organization_name"] is None and "team" not in body
        download = await c.get(f"/judging/attachments/{attachment_id}")
        assert download.status_code == 200 and download.content == PDF
        # The download is named by the entry's pseudonym and the detected type, never the
        # uploader's file name (which names the company here).
        blind = pseudonym("entry", challenge.edition_id, target)
        assert download.headers["content-disposition"] == f'attachment; filename="{blind}.pdf"'
        assert download.headers["content-type"].startswith("application/pdf")
    # Officials still see the original name.
    named = await official.get(f"/officials/challenge/attachments/{attachment_id}")
    assert named.status_code == 200 and "Org%200%20pitch%20deck.pdf" in named.headers["content-disposition"]


async def test_judge_cannot_score_an_unassigned_entry(app, official, startup, users):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 3)
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    judges = [await users.create(roles=["judge"]) for _ in range(3)]
    await set_pool(challenge, [j.id for j in judges[:2]], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    async with logged_in(app, judges[2]) as c:
        assert (await c.get("/api/v1/challenge/assignments")).json() == []
        response = await c.send_json(
            "PUT",
            f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{challenge.entries[0]}/review",
            {"scores": scores(7), "confidence": 3},
        )
        assert response.status_code == 404
    assert await Review.count() == 0


async def test_scores_change_until_the_deadline_then_lock_and_every_change_is_audited(
    app, official, startup, users
):
    """V7."""
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 2)
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    judge = await users.create(roles=["judge"])
    other = await users.create(roles=["judge"])
    await set_pool(challenge, [judge.id, other.id], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    url = f"/api/v1/challenge/rounds/{challenge.evaluation_round}/entries/{challenge.entries[0]}/review"
    async with logged_in(app, judge) as c:
        out_of_range = await c.send_json(
            "PUT", url, {"scores": {**scores(7), "impact": 11}, "confidence": 3}
        )
        assert out_of_range.status_code == 422  # outside the stage's scale (1-10 here)
        assert "from 1 to 10" in out_of_range.text
        beyond_any_scale = await c.send_json(
            "PUT", url, {"scores": {**scores(7), "impact": 1001}, "confidence": 3}
        )
        assert beyond_any_scale.status_code == 400
        missing = await c.send_json("PUT", url, {"scores": {"impact": 7}, "confidence": 3})
        assert missing.status_code == 422
        sneaky = await c.send_json("PUT", url, {"scores": scores(7), "confidence": 3, "total": 10})
        assert sneaky.status_code == 400
        first = await c.send_json(
            "PUT", url, {"scores": scores(7), "confidence": 3, "comments": {"impact": "Solid"}}
        )
        assert first.status_code == 200 and first.json()["total"] == 7.0
        weighted = {**scores(5), "impact": 10}
        second = await c.send_json("PUT", url, {"scores": weighted, "confidence": 4})
        assert second.json()["total"] == 6.5  # 0.30*10 + 0.70*5
        form = {f"score_{k}": "8" for k in scores(8)} | {"confidence": "5"}
        page_save = await c.post_form(
            f"/judging/rounds/{challenge.evaluation_round}/entries/{challenge.entries[0]}", form
        )
        assert page_save.status_code == 303
    deadline = (
        await Round.select(Round.deadline).where(Round.id == challenge.evaluation_round).first()
    )["deadline"]
    clock.advance(deadline - clock.now() + dt.timedelta(seconds=1))
    async with logged_in(app, judge) as c:
        late = await c.send_json("PUT", url, {"scores": scores(2), "confidence": 1})
        assert late.status_code == 403
        late_form = await c.post_form(
            f"/judging/rounds/{challenge.evaluation_round}/entries/{challenge.entries[0]}",
            {f"score_{k}": "1" for k in scores(1)} | {"confidence": "1"},
        )
        assert late_form.status_code == 403
        assert (
            "scores are locked"
            in (
                await c.get(
                    f"/judging/rounds/{challenge.evaluation_round}/entries/{challenge.entries[0]}"
                )
            ).text
        )
    review = await Review.select().first()
    assert review["total_centi"] == 800
    events = (
        await AuditEvent.select()
        .where(AuditEvent.action.like("challenge.review.%"))
        .order_by(AuditEvent.id)
    )
    assert [e["action"] for e in events] == [
        "challenge.review.created",
        "challenge.review.changed",
        "challenge.review.changed",
    ]
    import json

    last = (
        json.loads(events[-1]["details"])
        if isinstance(events[-1]["details"], str)
        else events[-1]["details"]
    )
    assert last["old"]["total_centi"] == 650 and last["new"]["total_centi"] == 800
    assert last["old"]["scores"]["impact"] == 10


async def test_officials_see_progress_send_reminders_and_reassign_a_lagging_judge(
    app, official, startup, users
):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 4)
    await close_and_screen_in(challenge)
    await relogin(official, startup)
    judges = [await users.create(roles=["judge"]) for _ in range(4)]
    await set_pool(challenge, [j.id for j in judges], per_entry=2)
    await run_assignment(official.account.id, challenge.evaluation_round)
    lagging = judges[0]
    progress = (
        await official.get(
            f"/api/v1/challenge/officials/rounds/{challenge.evaluation_round}/progress"
        )
    ).json()
    assert sum(p["assigned"] for p in progress) == 8 and all(p["reviewed"] == 0 for p in progress)
    development_outbox.sent.clear()
    assert (
        await official.post_form(f"/officials/challenge/rounds/{challenge.evaluation_round}/remind")
    ).status_code == 303
    assert {m.to for m in development_outbox.sent} == {j.email for j in judges}
    moved = await official.post_form(
        f"/officials/challenge/rounds/{challenge.evaluation_round}/reassign",
        {"judge": str(lagging.id)},
    )
    assert moved.status_code == 303
    assert not await Assignment.exists().where(Assignment.judge == lagging.id)
    chase = (
        await official.get(
            f"/api/v1/challenge/officials/rounds/{challenge.evaluation_round}/progress?sort=missing"
        )
    ).json()
    missing = [len(p["missing_entry_ids"]) for p in chase]
    assert missing == sorted(missing, reverse=True) and missing[0] > missing[-1]
    per_entry = {}
    for a in await Assignment.select():
        per_entry.setdefault(a["entry"], set()).add(a["judge"])
    assert all(len(j) == 2 for j in per_entry.values()) and len(per_entry) == 4
    page = await official.get(f"/officials/challenge/rounds/{challenge.evaluation_round}")
    assert page.status_code == 200 and "Progress per judge" in page.text
    bad_sort = await official.get(
        f"/api/v1/challenge/officials/rounds/{challenge.evaluation_round}/progress?sort=email;drop"
    )
    assert bad_sort.status_code == 422
