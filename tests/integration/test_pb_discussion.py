"""Discussion on proposals (issue #14): plain text with safe links, limits, replies, reports and
moderation by officials, every action audited."""

from __future__ import annotations

import re

from portal import accounts
from portal.tables import AuditEvent
from proposals.community_tables import Comment
from proposals.testing import add_submitted
from tests.helpers import PortalClient
from voting.testing import build_cycle


async def _proposal(official) -> int:
    built = await build_cycle(official.account.id, phase="proposals", project_costs=[1_000_000_000])
    return await add_submitted(built.id, built.city_pot, None, "Shade trees on Teheran-ro")


async def _comment(client, proposal: int, body: str, parent: int | None = None):
    data = {"body": body, **({"parent": str(parent)} if parent else {})}
    return await client.post_form(f"/pb/discussions/proposal/{proposal}/comments", data)


async def test_a_script_is_shown_as_text_and_addresses_become_safe_links(official, citizen):
    proposal = await _proposal(official)
    body = '<script>alert("x")</script> <b>bold</b> see https://news.seoul.go.kr/a?b=1&c=2. javascript:alert(1)'
    posted = await _comment(citizen, proposal, body)
    assert posted.status_code == 303 and "#comment-" in posted.headers["location"]
    page = (await citizen.get(f"/pb/proposals/{proposal}")).text
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert '<a href="https://news.seoul.go.kr/a?b=1&amp;c=2" rel="nofollow ugc noopener noreferrer">' in page
    assert 'href="javascript' not in page


async def test_a_comment_over_the_limit_is_refused_beside_the_field_and_kept(official, citizen):
    proposal = await _proposal(official)
    long = "가" * 2001
    refused = await _comment(citizen, proposal, long)
    assert refused.status_code == 422
    assert 'id="f-body-error"' in refused.text and "at most 2,000 characters" in refused.text
    assert long in refused.text  # what was typed is kept
    assert await Comment.count() == 0
    empty = await _comment(citizen, proposal, "   ")
    assert empty.status_code == 422


async def test_six_comments_in_a_minute_are_too_many(official, citizen):
    proposal = await _proposal(official)
    for i in range(5):
        assert (await _comment(citizen, proposal, f"Comment number {i}")).status_code == 303
    sixth = await _comment(citizen, proposal, "One more thought")
    assert sixth.status_code == 429
    assert "at most 5 comments a minute" in sixth.text and "One more thought" in sixth.text
    assert await Comment.count() == 5


async def test_replies_stay_one_level_deep_and_show_display_names(app, official, citizen, users):
    proposal = await _proposal(official)
    await accounts.update_profile(citizen.account.id, "Mina Kim", "en", "11680")
    await _comment(citizen, proposal, "Where exactly?")
    first = (await Comment.select(Comment.id).first())["id"]
    await _comment(citizen, proposal, "Near the station.", parent=first)
    reply = (await Comment.select(Comment.id).order_by(Comment.id, ascending=False).first())["id"]
    await _comment(citizen, proposal, "And the park.", parent=reply)  # a reply to a reply joins the thread
    parents = [r["parent"] for r in await Comment.select(Comment.parent).order_by(Comment.id)]
    assert parents == [None, first, first]
    anonymous = PortalClient.for_app(app)
    async with anonymous:
        page = await anonymous.get(f"/pb/proposals/{proposal}")
    assert page.status_code == 200 and "Near the station." in page.text
    assert "<strong>Mina Kim</strong>" in page.text and citizen.account.email not in page.text
    assert "Log in to comment." in page.text and 'name="body"' not in page.text


async def test_officials_hide_and_restore_a_reported_comment_with_audit(app, official, citizen, users):
    proposal = await _proposal(official)
    await _comment(citizen, proposal, "Call 010-0000-0000 for cheap loans")
    await _comment(citizen, proposal, "A fine idea")
    spam = (await Comment.select(Comment.id).order_by(Comment.id).first())["id"]
    neighbour = await users.create(district="11680", verified=True)
    async with PortalClient.for_app(app) as other:
        await other.login(neighbour)
        assert (await other.post_form(f"/pb/comments/{spam}/report", {"reason": "Spam"})).status_code == 303
        twice = await other.post_form(f"/pb/comments/{spam}/report", {"reason": "Spam"})
        assert twice.status_code == 409 and "already reported" in twice.text
        assert (await other.get("/officials/pb/comments")).status_code in (401, 403)
        assert (await other.post_form(f"/officials/pb/comments/{spam}/hide", {"reason": "Spam"})).status_code in (401, 403)
    queue = await official.get("/officials/pb/comments")
    ids = re.findall(r'<section class="card" id="c-(\d+)"', queue.text)
    assert ids[0] == str(spam) and "Reported 1 times" in queue.text
    short = await official.post_form(f"/officials/pb/comments/{spam}/hide", {"reason": "no"})
    assert short.status_code == 422 and 'id="f-reason-error"' in short.text
    hidden = await official.post_form(
        f"/officials/pb/comments/{spam}/hide", {"reason": "Advertising is not allowed here."}
    )
    assert hidden.status_code == 303
    page = (await citizen.get(f"/pb/proposals/{proposal}")).text
    assert "cheap loans" not in page and "Advertising is not allowed here." in page
    assert "A fine idea" in page
    assert (await official.post_form(f"/officials/pb/comments/{spam}/restore")).status_code == 303
    page = (await citizen.get(f"/pb/proposals/{proposal}")).text
    assert "cheap loans" in page and "Advertising is not allowed here." not in page
    events = await AuditEvent.select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.subject).where(
        AuditEvent.subject == f"pb-comment:{spam}"
    )
    assert [e["action"] for e in events] == [
        "pb.comment.posted", "pb.comment.reported", "pb.comment.hidden", "pb.comment.restored",
    ]
    assert events[2]["actor_id"] == official.account.id


async def test_unverified_accounts_and_unknown_targets_cannot_comment(app, official, users):
    proposal = await _proposal(official)
    newcomer = await users.create(district="11680", verified=False)
    async with PortalClient.for_app(app) as c:
        await c.login(newcomer)
        assert (await _comment(c, proposal, "Hello")).status_code == 403
        unknown = await c.post_form("/pb/discussions/spaceship/1/comments", {"body": "Hello"})
        assert unknown.status_code == 404
    assert await Comment.count() == 0


async def test_a_reply_tells_the_author_of_the_comment_once_and_not_the_replier(app, official, citizen, users):
    from portal.tables import Notification

    proposal = await _proposal(official)
    await _comment(citizen, proposal, "Where exactly?")
    first = (await Comment.select(Comment.id).first())["id"]
    neighbour = await users.create(district="11680", verified=True)
    async with PortalClient.for_app(app) as other:
        await other.login(neighbour)
        assert (await _comment(other, proposal, "Near the station.", parent=first)).status_code == 303
    await _comment(citizen, proposal, "Thanks!", parent=first)  # the author's own reply tells nobody
    told = await Notification.select(Notification.user, Notification.kind, Notification.link).where(
        Notification.kind == "comment-reply"
    )
    reply = (await Comment.select(Comment.id).where(Comment.author == neighbour.id).first())["id"]
    assert told == [{"user": citizen.account.id, "kind": "comment-reply", "link": f"/pb/proposals/{proposal}#comment-{reply}"}]
