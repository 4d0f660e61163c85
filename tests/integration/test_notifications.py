"""Follow and notify (issue #14): once per event per follower across crashes, preferences, digests, languages."""

from __future__ import annotations

import datetime as dt

import pytest

from portal import clock, mail, notification_mail, notifications
from portal.db import write_transaction
from portal.mail import development_outbox
from portal.tables import MailOutboxItem, Notification
from voting.services import announcements, reminders
from voting.services.lifecycle import advance_cycle
from voting.tables import Cycle
from voting.testing import build_cycle


async def _count(table, **where) -> int:
    query = table.count()
    for name, value in where.items():
        query = query.where(getattr(table, name) == value)
    return await query


async def _mails() -> list[mail.OutgoingMail]:
    return development_outbox.read()


async def test_voting_opens_once_per_follower_even_when_the_step_is_retried(users):
    official = await users.create(["official"])
    built = await build_cycle(official.id, phase="review")
    both, one, stranger = [await users.create() for _ in range(3)]
    await notifications.follow(both.id, "cycle", built.id)
    await notifications.follow(both.id, "pot", built.city_pot)  # two targets of one event: told once
    await notifications.follow(both.id, "pot", built.city_pot)  # following twice is following once
    await notifications.follow(one.id, "pot", built.pots["11680"])
    cycle = await Cycle.select().where(Cycle.id == built.id).first()
    # A step whose transaction rolls back (a crash before COMMIT) tells nobody.
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await announcements.cycle_state_entered(cycle, "voting")
            raise RuntimeError("crash before commit")
    assert await Notification.count() == 0 and await MailOutboxItem.count() == 0
    clock.advance(dt.timedelta(days=10))
    assert await advance_cycle(built.id) == "voting"
    # The step taken again (a retried loop, a second worker): nobody hears twice.
    await announcements.cycle_state_entered(cycle, "voting")
    for reader, expected in ((both, 1), (one, 1), (stranger, 0)):
        assert await _count(Notification, user=reader.id, kind="voting-opens") == expected
        assert await _count(MailOutboxItem, user=reader.id, kind="voting-opens") == expected
    report = await notification_mail.send_due_mail()
    assert report.sent == 2
    assert await notification_mail.send_due_mail() == notification_mail.MailRound()
    mails = await _mails()
    assert sorted(m.to for m in mails) == sorted([both.email, one.email])
    assert all(m.subject == "Voting has opened" and f"/pb/cycles/{built.id}" in m.body for m in mails)


async def test_a_worker_killed_between_send_and_mark_sends_no_mail_twice(users, monkeypatch):
    reader = await users.create()
    await notifications.announce("test:crash", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
                                 users=[reader.id], params={"cycle": "Seoul PB", "closes": "soon"}, link="/pb")
    real_mark = notification_mail._mark

    async def killed(ids, worker, status, error=None):
        if status == "sent":
            raise SystemExit("worker killed after the mail left")
        await real_mark(ids, worker, status, error)

    monkeypatch.setattr(notification_mail, "_mark", killed)
    with pytest.raises(SystemExit):
        await notification_mail.send_due_mail(worker="w1")
    monkeypatch.setattr(notification_mail, "_mark", real_mark)
    assert len(await _mails()) == 1
    # Another worker, now and after the claim timed out: the row is never sent again.
    await notification_mail.send_due_mail(worker="w2")
    clock.advance(notification_mail.CLAIM_TIMEOUT + dt.timedelta(minutes=1))
    report = await notification_mail.send_due_mail(worker="w2")
    assert report.unknown == 1 and report.sent == 0
    assert len(await _mails()) == 1
    row = await MailOutboxItem.select().first()
    assert row["status"] == "unknown"
    assert await notification_mail.outbox_counts() == {"unknown": 1}
    # Only an operator who knows it never left sends it again, with the same Message-ID (audited).
    assert await notification_mail.requeue_unknown() == 1
    assert (await notification_mail.send_due_mail(worker="w3")).sent == 1
    assert len(await _mails()) == 2 and await notification_mail.outbox_counts() == {"sent": 1}


async def test_a_mail_server_out_of_reach_is_tried_again_later_once(users, monkeypatch):
    reader = await users.create()
    await notifications.announce("test:retry", "results-published", "The results of %(cycle)s are approved and published.",
                                 users=[reader.id], params={"cycle": "Seoul PB"})

    import dataclasses
    import socket

    with socket.socket() as sock:  # a port nothing listens on once the block ends
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    unreachable = dataclasses.replace(mail.get_settings(), smtp_host="127.0.0.1", smtp_port=closed_port)
    monkeypatch.setattr(mail, "get_settings", lambda: unreachable)
    assert (await notification_mail.send_due_mail()).retrying == 1
    monkeypatch.undo()
    assert (await notification_mail.send_due_mail()).sent == 0  # not due yet
    clock.advance(notification_mail.RETRY_AFTER + dt.timedelta(seconds=1))
    assert (await notification_mail.send_due_mail()).sent == 1
    assert (await notification_mail.send_due_mail()).sent == 0
    assert [m.subject for m in await _mails()] == ["Results are published"]


async def test_each_kind_is_switched_on_and_off_per_channel(users):
    built = await build_cycle((await users.create(["official"])).id, phase="review", project_costs=[1_000_000])
    quiet, app_only, mail_only = [await users.create() for _ in range(3)]
    kinds = [k.key for k in notifications.KINDS]
    await notifications.save_preferences(quiet.id, [], [], "immediate")
    await notifications.save_preferences(app_only.id, kinds, [k for k in kinds if k != "voting-closing"], "immediate")
    await notifications.save_preferences(mail_only.id, [k for k in kinds if k != "voting-closing"], kinds, "immediate")
    told_otherwise = await users.create()
    for reader in (quiet, app_only, mail_only, told_otherwise):  # followers: the set-based path
        await notifications.follow(reader.id, "cycle", built.id)
    await notifications.announce("test:closing", "voting-closing", "Voting closes soon",
                                 targets=[("cycle", built.id)], exclude=[told_otherwise.id])
    assert {r["user"] for r in await Notification.select(Notification.user)} == {app_only.id}
    assert {r["user"] for r in await MailOutboxItem.select(MailOutboxItem.user)} == {mail_only.id}
    # Switching a kind off cancels its mail still waiting.
    await notifications.save_preferences(mail_only.id, kinds, [], "immediate")
    assert (await notification_mail.send_due_mail()).sent == 0
    assert await _count(MailOutboxItem, status="cancelled") == 1


async def test_the_daily_digest_puts_a_readers_mail_into_one_message(users):
    reader, other = await users.create(), await users.create()
    await notifications.save_preferences(reader.id, [k.key for k in notifications.KINDS],
                                         [k.key for k in notifications.KINDS], "daily")
    built = await build_cycle((await users.create(["official"])).id, phase="review", project_costs=[1_000_000])
    await notifications.follow(reader.id, "pot", built.city_pot)  # the reader through a follow, the other by name
    for n in range(3):
        await notifications.announce(f"test:digest-{n}", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
                                     targets=[("pot", built.city_pot)], users=[other.id],
                                     params={"cycle": f"Cycle {n}", "closes": "soon"})
    report = await notification_mail.send_due_mail()
    assert report.sent == 3 and report.digests == 0  # the other reader's three, at once
    clock.advance(dt.timedelta(days=1, minutes=1))
    report = await notification_mail.send_due_mail()
    assert report.sent == 3 and report.digests == 1
    digest = [m for m in await _mails() if m.to == reader.email]
    assert len(digest) == 1 and digest[0].subject == "Your Hangang Portal notifications: 3 new"
    assert all(f"Cycle {n}" in digest[0].body for n in range(3))
    due = notifications.next_digest_at(dt.datetime(2027, 3, 1, 0, 30, tzinfo=dt.UTC))  # 09:30 in Seoul
    assert due == dt.datetime(2027, 3, 1, 23, 0, tzinfo=dt.UTC)  # 08:00 the next day in Seoul


async def test_notices_and_mails_are_in_the_readers_language(app, users):
    from tests.helpers import PortalClient

    korean, english = await users.create(language="ko"), await users.create(language="en")
    await notifications.announce("test:lang", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
                                 users=[korean.id, english.id], params={"cycle": "서울 2027", "closes": "2027-03-31 18:00 KST"},
                                 link="/pb")
    await notification_mail.send_due_mail()
    by_reader = {m.to: m for m in await _mails()}
    assert by_reader[korean.email].subject == "투표가 시작되었습니다"
    assert "서울 2027 투표가 시작되었습니다. 마감은 2027-03-31 18:00 KST입니다." in by_reader[korean.email].body
    assert by_reader[english.email].body.startswith("Voting has opened in 서울 2027.")
    async with PortalClient.for_app(app) as c:
        await c.login(korean)
        page = await c.get("/account/notifications")
    assert page.status_code == 200 and "서울 2027 투표가 시작되었습니다" in page.text


async def test_results_published_and_funded_projects_tell_their_followers(app, users, official, official2):
    from tests.integration.test_pb_results import _vote_and_close

    built, _ = await _vote_and_close(app, users, official)
    cycle_fan, project_fan = await users.create(), await users.create()
    await notifications.follow(cycle_fan.id, "cycle", built.id)
    winner = built.projects[built.city_pot][0]  # the most approved project
    await notifications.follow(project_fan.id, "proposal", winner)
    clock.advance(dt.timedelta(days=30))
    await official.login(official.account)
    await official2.login(official2.account)
    await official.post_form(f"/officials/pb/cycles/{built.id}/screening/acknowledge")
    assert (await official.post_form(f"/officials/pb/cycles/{built.id}/approve")).status_code == 303
    assert await Notification.count() == 0  # one approval publishes nothing
    assert (await official2.post_form(f"/officials/pb/cycles/{built.id}/approve")).status_code == 303
    assert await _count(Notification, user=cycle_fan.id, kind="results-published") == 1
    assert await _count(Notification, user=project_fan.id, kind="proposal-funded") == 1
    assert await _count(Notification, user=project_fan.id, kind="results-published") == 0


async def test_reviews_and_merges_tell_followers_and_the_author_once(users):
    from proposals.services.review import merge, review

    official = await users.create(["official"])
    built = await build_cycle(official.id, phase="review")
    first, second = built.projects[built.city_pot][:2]
    fan = await users.create()
    await notifications.follow(fan.id, "proposal", first)
    await notifications.follow(fan.id, "proposal", second)
    await review(official.id, first, False, "The site is not city land.", None)
    await review(official.id, first, True, "The site was confirmed.", 1_000_000)  # a second decision: told too
    await merge(official.id, second, first, "The same playground twice.")
    rows = await Notification.select().where(Notification.user == fan.id).order_by(Notification.id)
    assert [r["kind"] for r in rows] == ["proposal-reviewed", "proposal-reviewed", "proposal-merged"]
    assert ["not feasible" in r["message"] for r in rows] == [True, False, False]
    assert rows[2]["link"] == f"/pb/proposals/{first}"
    assert await Notification.count() == 3  # imported projects have no author to tell


async def test_the_closing_reminder_is_sent_once_per_cycle(users):
    official = await users.create(["official"])
    built = await build_cycle(official.id, phase="voting")  # closes in 9 days
    fan = await users.create()
    await notifications.follow(fan.id, "cycle", built.id)
    assert await reminders.remind_closing_cycles() == 0
    clock.advance(dt.timedelta(days=8, hours=6))
    await advance_cycle(built.id)
    assert await reminders.remind_closing_cycles() == 1
    assert await reminders.remind_closing_cycles() == 0
    assert await _count(Notification, user=fan.id, kind="voting-closing") == 1


async def test_follow_buttons_and_the_paginated_notifications_page(app, users, citizen):
    official = await users.create(["official"])
    built = await build_cycle(official.id, phase="review")
    page = await citizen.get(f"/pb/cycles/{built.id}")
    assert 'action="/follows"' in page.text and "Following" not in page.text
    followed = await citizen.post_form("/follows", {"target_kind": "cycle", "target_id": str(built.id),
                                                    "action": "follow", "next": f"/pb/cycles/{built.id}"})
    assert followed.status_code == 303 and followed.headers["location"] == f"/pb/cycles/{built.id}"
    assert "Following" in (await citizen.get(f"/pb/cycles/{built.id}")).text
    for kind, target in (("cycle", 999_999), ("planet", built.id)):
        refused = await citizen.post_form("/follows", {"target_kind": kind, "target_id": str(target), "action": "follow"})
        assert refused.status_code in (404, 422)
    for n in range(notifications.PAGE_SIZE + 3):
        await notifications.announce(f"test:page-{n}", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
                                     users=[citizen.account.id], params={"cycle": f"Cycle #{n:02d}", "closes": "soon"})
    first = await citizen.get("/account/notifications")
    assert "Cycle #22" in first.text and "Cycle #02" not in first.text and "Page 1 of 2" in first.text
    second = await citizen.get("/account/notifications?page=2")
    assert "Cycle #02" in second.text and "Cycle #22" not in second.text
    assert "Seoul PB 2027" in first.text  # what I follow
    note = await Notification.select(Notification.id).where(Notification.user == citizen.account.id).first()
    assert (await citizen.post_form(f"/account/notifications/{note['id']}/read", {})).status_code == 303
    assert await _count(Notification, user=citizen.account.id) - await Notification.count().where(
        Notification.read_at.is_null()) == 1
    saved = await citizen.post_form("/account/notifications/settings", {"app": ["voting-opens"], "mail": [], "mail_mode": "daily"})
    assert saved.status_code == 303
    prefs = await notifications.preferences_of(citizen.account.id)
    assert prefs.mail_mode == "daily" and prefs.wants_app("voting-opens") and not prefs.wants_app("voting-closing")
    refused = await citizen.post_form("/account/notifications/settings", {"app": ["voting-opens"], "mail_mode": "weekly"})
    assert refused.status_code == 422 and 'id="f-mail_mode-error"' in refused.text
    unfollowed = await citizen.post_form("/follows", {"target_kind": "cycle", "target_id": str(built.id), "action": "unfollow"})
    assert unfollowed.status_code == 303 and await notifications.followed_among(citizen.account.id, [("cycle", built.id)]) == set()
