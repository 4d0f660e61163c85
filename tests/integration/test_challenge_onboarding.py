"""Judges invited and imported, self-service organizations, revocation, one-click join, bulk screening and
the quotas form (issue 13)."""

from __future__ import annotations

import datetime as dt
import re

from judging.services import judge_invitations, onboarding
from judging.tables import (
    DEFAULT_GATES,
    Edition,
    Entry,
    JudgeInvitation,
    JudgeProfile,
    Organization,
    ScreeningDecision,
)
from portal import clock
from portal.mail import development_outbox
from portal.tables import AuditEvent, Notification, User
from tests.helpers import PortalClient
from tests.integration.test_challenge_setup import add_entries, make_edition, relogin, valid_brn


async def _roles(user_id: int) -> set[str]:
    row = await User.select(User.roles).where(User.id == user_id).first()
    return set(row["roles"].split(","))


def _link(path: str) -> str:
    mail = development_outbox.sent[-1]
    return re.search(rf"https?://[^/\s]+({path}[A-Za-z0-9_\-]+)", mail.body).group(1)


async def test_an_invited_citizen_accepts_through_the_mailed_link_and_becomes_a_judge(app, official, citizen):
    response = await official.post_form(
        "/officials/challenge/judges/invite",
        {"name": "Kim Judge", "email": citizen.account.email, "expertise": "welfare",
         "organizations": valid_brn(3)},
    )
    assert response.status_code == 303
    link = _link("/judging/invitations/")
    note = await Notification.select().where(Notification.user == citizen.account.id).first()
    assert note["link"] == "/judging/invitations" and "invited you" not in note["link"]  # no token in the notice
    # Anyone may open the link: it explains what to do; accepting needs the invited address.
    async with PortalClient.for_app(app) as anonymous:
        page = await anonymous.get(link)
        assert page.status_code == 200 and citizen.account.email in page.text and "Sign in" in page.text
    assert (await citizen.get("/judging/invitations")).status_code == 200
    accepted = await citizen.post_form(link + "/accept")
    assert accepted.status_code == 303 and accepted.headers["location"] == "/account/totp/setup"
    assert "judge" in await _roles(citizen.account.id)
    profile = await JudgeProfile.select().output(load_json=True).where(JudgeProfile.user == citizen.account.id).first()
    assert profile["expertise"] == ["welfare"] and profile["holdings"] == [valid_brn(3)]
    again = await official.get(link)  # used once
    assert again.status_code == 404


async def test_an_invitation_for_another_address_is_refused(app, official, citizen, users):
    other = await users.create(["citizen"])
    invite = judge_invitations.check_invite("", other.email, [], [])
    await judge_invitations.invite_judge(official.account.id, invite)
    refused = await citizen.post_form(_link("/judging/invitations/") + "/accept")
    assert refused.status_code == 422 and other.email in refused.text
    assert "judge" not in await _roles(citizen.account.id)


async def test_csv_import_is_all_or_nothing_with_row_errors(official):
    bad = (
        "name,email,expertise,organizations\n"
        "Lee,lee@univ.ac.kr,welfare;transportation,\n"
        "Park,not-an-email,welfare,\n"
        "Choi,choi@univ.ac.kr,astrology,\n"
        "Han,han@univ.ac.kr,,123-45-67890\n"
        "Lee again,LEE@univ.ac.kr,,\n"
    )
    response = await official.post_form("/officials/challenge/judges/import", {"csv": bad})
    assert response.status_code == 422
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>(\w*)</td><td>([^<]+)</td></tr>", response.text)
    assert [(line, column) for line, column, _ in rows] == [
        ("3", "email"), ("4", "expertise"), ("5", "organizations"), ("6", "email")
    ]
    assert "Unknown expertise category astrology." in response.text
    assert "Same email as line 2." in response.text
    assert await JudgeInvitation.count() == 0  # nothing imported
    assert "lee@univ.ac.kr" in response.text  # what was pasted is kept
    good = "name,email,expertise,organizations\nLee,lee@univ.ac.kr,Welfare;transportation,\nHan,han@univ.ac.kr,,2208162517\n"
    response = await official.post_form("/officials/challenge/judges/import", {"csv": good})
    assert response.status_code == 303
    rows = await JudgeInvitation.select().output(load_json=True).order_by(JudgeInvitation.email)
    assert [(r["email"], r["expertise"], r["organizations"]) for r in rows] == [
        ("han@univ.ac.kr", [], ["2208162517"]),
        ("lee@univ.ac.kr", ["welfare", "transportation"], []),
    ]
    assert {m.to for m in development_outbox.sent} >= {"lee@univ.ac.kr", "han@univ.ac.kr"}
    header = await official.post_form("/officials/challenge/judges/import", {"csv": "email,name\n"})
    assert header.status_code == 422 and "name,email,expertise,organizations" in header.text


async def test_a_registered_person_registers_an_organization_and_becomes_a_startup(app, citizen):
    assert (await citizen.get("/challenge/organization")).status_code == 403
    bad = await citizen.post_form(
        "/challenge/start",
        {"name": "Hangang AI", "registration_number": "220-81-62518", "size": "startup", "founding_year": "2021"},
    )
    assert bad.status_code == 422 and "check digit" in bad.text and "Hangang AI" in bad.text
    assert "startup" not in await _roles(citizen.account.id)
    made = await citizen.post_form(
        "/challenge/start",
        {"name": "Hangang AI", "registration_number": "220-81-62517", "size": "startup", "founding_year": "2021"},
    )
    assert made.status_code == 303 and made.headers["location"] == "/challenge/organization"
    assert "startup" in await _roles(citizen.account.id)
    page = await citizen.get("/challenge/organization")  # the same browser stays signed in
    assert page.status_code == 200 and "Hangang AI" in page.text


async def test_officials_revoke_an_organization_with_a_reason(official, startup, users):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 1)
    org = challenge.organizations[0]
    refused = await official.post_form(f"/officials/challenge/organizations/{org}/revoke", {"reason": ""})
    assert refused.status_code == 422 and "Give a reason for the revocation." in refused.text
    done = await official.post_form(
        f"/officials/challenge/organizations/{org}/revoke", {"reason": "Not a registered business"}
    )
    assert done.status_code == 303
    row = await Organization.select().where(Organization.id == org).first()
    assert row["revoked_at"] is not None and row["revoked_reason"] == "Not a registered business"
    assert (await Entry.select(Entry.status).first())["status"] == "withdrawn"
    assert "startup" not in await _roles(startup.account.id)
    event = await AuditEvent.select().where(AuditEvent.action == "challenge.organization.revoked").first()
    assert event is not None and event["actor_id"] == official.account.id
    listing = await official.get("/officials/challenge/organizations?status=revoked&sort=name")
    assert "Not a registered business" in listing.text
    note = await Notification.select().where(Notification.user == startup.account.id).order_by(
        Notification.id, ascending=False
    ).first()
    assert "revoked" in note["message"]


async def test_an_invited_colleague_is_told_and_joins_with_one_click(app, startup, citizen):
    org = await onboarding.register_organization(startup.account.id, "Seoul Robotics", valid_brn(5), "SME", "2019")
    sent = await startup.post_form(f"/challenge/organization/{org}/invite", {"email": citizen.account.email})
    assert sent.status_code == 303
    note = await Notification.select().output(load_json=True).where(Notification.user == citizen.account.id).first()
    assert note["link"] == "/challenge/invitations" and note["params"]["name"] == "Seoul Robotics"
    assert "/challenge/invitations" in development_outbox.sent[-1].body
    page = await citizen.get("/challenge/invitations")  # no 403: the invitation is explained
    assert page.status_code == 200 and "Join Seoul Robotics" in page.text
    invitation = re.search(r"/challenge/invitations/(\d+)/join", page.text).group(1)
    joined = await citizen.post_form(f"/challenge/invitations/{invitation}/join")
    assert joined.status_code == 303 and "startup" in await _roles(citizen.account.id)
    page = await citizen.get("/challenge/organization")
    assert page.status_code == 200 and "Seoul Robotics" in page.text


async def test_bulk_screening_decides_one_gate_for_many_entries(official, startup):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 3)
    clock.advance(dt.timedelta(days=8))
    await relogin(official)
    url = f"/officials/challenge/{challenge.edition_id}/screening/bulk"
    two = [str(e) for e in challenge.entries[:2]]
    no_reason = await official.post_form(url, {"entries": two, "gate": "ai-solution", "passed": "0", "reason": ""})
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.text
    assert await ScreeningDecision.count() == 0
    failed = await official.post_form(
        url,
        {"entries": two, "gate": "ai-solution", "passed": "0", "reason": "Rule-based, no AI", "back": "?sort=title"},
    )
    assert failed.status_code == 303 and failed.headers["location"].endswith("/screening?sort=title")
    decisions = await ScreeningDecision.select().order_by(ScreeningDecision.entry)
    assert [(d["entry"], d["passed"], d["reason"]) for d in decisions] == [
        (e, False, "Rule-based, no AI") for e in challenge.entries[:2]
    ]
    events = await AuditEvent.select().where(AuditEvent.action == "challenge.screening.decided")
    assert sorted(e["subject"] for e in events) == [f"entry:{e}" for e in challenge.entries[:2]]
    for gate in DEFAULT_GATES:  # the third entry passes every gate in bulk and is screened in
        await official.post_form(url, {"entries": [str(challenge.entries[2])], "gate": gate, "passed": "1"})
    assert (await Entry.select(Entry.status).where(Entry.id == challenge.entries[2]).first())["status"] == "screened-in"
    page = await official.get(f"/officials/challenge/{challenge.edition_id}/screening?status=screened-in")
    assert "Entry 2" in page.text and "Entry 0" not in page.text


async def test_quotas_form_keeps_the_stored_shape_and_refuses_min_above_max(official):
    challenge = await make_edition(official.account.id, winners=10)
    url = f"/officials/challenge/{challenge.edition_id}/rules"
    base = {"winners": "10", "max_per_organization": "1", "seed": "7"}
    refused = await official.post_form(url, {**base, "quota_min_welfare": "5", "quota_max_welfare": "3"})
    assert refused.status_code == 422 and "The minimum must not exceed the maximum." in refused.text
    assert 'id="f-quota_min_welfare"' in refused.text and 'value="5"' in refused.text
    too_many = await official.post_form(url, {**base, "quota_min_welfare": "6", "quota_min_climate": "6"})
    assert too_many.status_code == 422 and "add up to more than the number of winners" in too_many.text
    saved = await official.post_form(
        url, {**base, "quota_min_welfare": "2", "quota_max_welfare": "4", "quota_max_climate": "3"}
    )
    assert saved.status_code == 303
    row = await Edition.select(Edition.quotas).output(load_json=True).first()
    assert row["quotas"] == {"welfare": {"min": 2, "max": 4}, "climate": {"min": 0, "max": 3}}


async def test_long_lists_filter_and_sort_with_the_state_in_the_url(official, startup):
    challenge = await make_edition(official.account.id)
    await add_entries(challenge, startup.account.id, 3, categories=("welfare", "climate"))
    page = await official.get(f"/officials/challenge/{challenge.edition_id}?category=welfare&sort=title&order=desc")
    assert page.status_code == 200
    titles = re.findall(r"/entries/\d+\">(Entry \d)</a>", page.text)
    assert titles == ["Entry 2", "Entry 0"]  # welfare only, newest title first
    # Column links keep the filter and flip the order; a bad sort key shows the plain list.
    assert "?sort=title&amp;order=asc&amp;category=welfare" in page.text
    plain = await official.get(f"/officials/challenge/{challenge.edition_id}?sort=nonsense&order=sideways")
    assert re.findall(r"/entries/\d+\">(Entry \d)</a>", plain.text) == ["Entry 0", "Entry 1", "Entry 2"]
