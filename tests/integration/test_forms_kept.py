"""Nothing typed is lost (issue 9, items 2 and 4): refused forms come back filled, with the message beside the field.

Also the POST 500s the fuzz run found, each pinned here: empty ballots, a stray points field, a cycle with no
category ticked, an admin unticking every role; and API validation errors that name the field.
"""

from __future__ import annotations

import datetime as dt
import re

from portal import clock
from proposals.tables import Proposal
from tests.helpers import PortalClient
from tests.pages import parse_page
from voting.compute.rules import BallotRules
from voting.testing import build_cycle

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def form_on(response, action: str):
    """The form posting to ``action`` in an HTML answer, with its values as the browser shows them."""
    page = parse_page(response.text, str(response.url.path))
    found = [f for f in page.forms if f.action == action]
    assert found, f"no form for {action} in the answer ({response.status_code})"
    return found[0], page


def shown(form, name: str) -> str:
    return next(f.value for f in form.fields if f.name == name)


def message_beside(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]+)<', response.text)
    return match.group(1) if match else ""


async def stale_token(app) -> str:
    async with PortalClient.for_app(app) as other:
        return await other.csrf_token()


# ---------------------------------------------------------------- the 500s


async def test_empty_and_stray_ballots_get_a_message_not_a_server_error(citizen, official):
    for kind in ("approval", "knapsack"):
        built = await build_cycle(official.account.id, rules=BallotRules(ballot_kind=kind), name=f"PB {kind}")
        url = f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
        empty = await citizen.post_form(url, {})
        assert empty.status_code == 422, (kind, empty.status_code)
        assert 'href="#f-project_ids"' in empty.text and 'id="f-project_ids"' in empty.text
        stray = await citizen.post_form(url, {"points-1": "3"})
        assert stray.status_code == 422, (kind, stray.status_code)
        absurd = await citizen.post_form(url, {"project_ids": "9" * 30})
        assert absurd.status_code == 422


async def test_new_cycle_with_no_category_ticked_is_created_with_every_category(official):
    page = await official.get("/officials/pb")
    form, _ = form_on(page, "/officials/pb/cycles")
    values = [(n, v) for n, v in form.values() if n not in ("categories", "_csrf_token", "name")]
    values.append(("name", "Cycle without a ticked category"))
    data: dict[str, list[str]] = {"_csrf_token": [await official.csrf_token()]}
    for name, value in values:
        data.setdefault(name, []).append(value)
    response = await official.post("/officials/pb/cycles", data=data)
    assert response.status_code == 303, response.text[:500]


async def test_admin_unticking_every_role_leaves_a_citizen(app, users):
    admin = await users.create(["admin", "official"])
    other = await users.create(["judge", "citizen"])
    async with PortalClient.for_app(app) as client:
        await client.login(admin)
        response = await client.post_form(f"/officials/accounts/{other.id}/roles", {})
        assert response.status_code == 303
    from portal.tables import User

    assert (await User.select(User.roles).where(User.id == other.id).first())["roles"] == "citizen"


async def test_api_validation_errors_name_the_field(citizen, startup):
    missing = await citizen.send_json("POST", "/api/v1/auth/register", {"email": "a@example.kr"})
    assert missing.status_code == 400
    assert {e["field"] for e in missing.json()["errors"]} >= {"password"}
    built = await build_cycle(None)
    ballot = f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    huge = await citizen.send_json("PUT", ballot, {"project_ids": [10**19]})
    assert huge.status_code == 400 and huge.json()["errors"][0]["field"] == "project_ids[0]"
    unknown = await citizen.send_json("PUT", ballot, {"project_ids": [1], "colour": "red"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"
    body = {"title": "Bus arrival AI", "category": "transportation", "sector": "public",
            "organization_id": 999, "edition_id": 1}
    entry = await startup.send_json("POST", "/api/v1/challenge/entries", body)
    assert entry.status_code == 422 and entry.json()["errors"][0]["field"] == "organization_id"


# ---------------------------------------------------------------- proposals


async def _intake(official_id: int):
    built = await build_cycle(official_id, phase="proposals", project_costs=[1_000_000_000])
    return built


async def test_bad_costs_keep_the_whole_proposal_form(citizen, official):
    built = await _intake(official.account.id)
    action = f"/pb/cycles/{built.id}/proposals"
    typed = {"pot_id": str(built.city_pot), "title": "Shade trees on the river path", "summary": "Plant trees along the paths.",
             "description": "Two thousand trees.", "category": "climate", "location": "Yeouido"}
    for cost in ("1000.5", "1e9", "twelve", "1234567890123456789"):
        response = await citizen.post_form(action, {**typed, "estimated_cost": cost})
        assert response.status_code == 422, (cost, response.status_code)
        form, page = form_on(response, action)
        for name, value in typed.items():
            assert shown(form, name) == value, (cost, name)
        assert shown(form, "estimated_cost") == cost
        assert message_beside(response, "f-estimated_cost"), cost
        assert "f-estimated_cost" in page.ids and all(a in page.ids for a in page.error_anchors)
    assert await Proposal.count().where(Proposal.author == citizen.account.id) == 0


async def test_image_over_the_limit_states_it_and_keeps_the_form(citizen, official):
    built = await _intake(official.account.id)
    action = f"/pb/cycles/{built.id}/proposals"
    typed = {"pot_id": str(built.city_pot), "title": "Shade trees on the river path", "summary": "Plant trees along the paths.",
             "category": "climate", "estimated_cost": "900000000"}
    token = await citizen.csrf_token()
    photo = PNG + b"\x00" * (5 * 1024 * 1024)  # a phone photo: over the image limit, under the body limit
    response = await citizen.post(action, data={**typed, "_csrf_token": token}, files={"image": ("photo.png", photo, "image/png")})
    assert response.status_code == 422
    form, _ = form_on(response, action)
    assert shown(form, "title") == typed["title"] and shown(form, "estimated_cost") == "900000000"
    assert "at most 2 MB" in message_beside(response, "f-image") or "at most 2 MB" in response.text
    huge = PNG + b"\x00" * (13 * 1024 * 1024)  # over the body limit: the page again, the limit stated
    response = await citizen.post(
        action, data={**typed, "_csrf_token": token}, files={"image": ("photo.png", huge, "image/png")},
        headers={"referer": f"http://testserver/pb/cycles/{built.id}/proposals/new"},
    )
    assert response.status_code == 413
    form_on(response, action)
    assert "at most 2 MB" in response.text


async def test_failed_official_review_keeps_the_card_and_its_anchor_reaches_the_field(citizen, official):
    built = await _intake(official.account.id)
    proposal = (await Proposal.select(Proposal.id).where(Proposal.pot == built.city_pot).first())["id"]
    action = f"/officials/pb/proposals/{proposal}/review"
    response = await official.post_form(action, {"decision": "infeasible", "reason": "No", "revised_cost": "2억 원쯤"})
    assert response.status_code == 422
    form, page = form_on(response, action)
    checked = [f.value for f in form.fields if f.name == "decision" and f.checked]
    assert checked == ["infeasible"] and shown(form, "reason") == "No" and shown(form, "revised_cost") == "2억 원쯤"
    assert page.error_anchors and all(anchor in page.ids for anchor in page.error_anchors)
    assert message_beside(response, f"f-reason-{proposal}") or message_beside(response, f"f-revised_cost-{proposal}")
    huge = await official.post_form(action, {"decision": "feasible", "reason": "Fine by us", "revised_cost": "9" * 19})
    assert huge.status_code == 422 and message_beside(huge, f"f-revised_cost-{proposal}")


# ---------------------------------------------------------------- CSRF expiry


async def test_expired_form_comes_back_filled_with_a_fresh_token(app, client):
    page = await client.get("/register")
    assert page.status_code == 200
    typed = {"email": "minji@example.kr", "display_name": "Minji", "password": "a secret long passphrase here",
             "district_code": "11440", "language": "en", "_csrf_token": await stale_token(app)}
    response = await client.post("/register", data=typed, headers={"referer": "http://testserver/register"})
    assert response.status_code == 403
    assert "The form expired. Please submit it again." in response.text
    form, _ = form_on(response, "/register")
    assert shown(form, "email") == "minji@example.kr" and shown(form, "display_name") == "Minji"
    assert shown(form, "district_code") == "11440"
    assert "a secret long passphrase here" not in response.text  # secrets are never echoed
    fresh = shown(form, "_csrf_token")
    again = await client.post("/register", data={**typed, "_csrf_token": fresh})
    assert again.status_code == 303  # the fresh token works
    korean = await client.post(
        "/register", data={**typed, "email": "jiho@example.kr"},
        headers={"referer": "http://testserver/register", "accept-language": "ko"},
    )
    assert korean.status_code == 403 and "The form expired" not in korean.text and 'lang="ko"' in korean.text


# ---------------------------------------------------------------- an expired session


async def test_judge_whose_session_expired_gets_the_review_back_after_login(app, users):
    from tests.pages import build_site

    site = await build_site(users)
    judge = site.accounts["judge"]
    other_judge = await users.create(["judge"])
    from judging.tables import Assignment

    pair = await Assignment.select(Assignment.round, Assignment.entry).where(Assignment.judge == judge.id).first()
    path = f"/judging/rounds/{pair['round']}/entries/{pair['entry']}"
    async with PortalClient.for_app(app) as browser:
        await browser.login(judge)
        page = await browser.get(path)
        form, _ = form_on(page, path)
        def typed(name: str) -> str:
            if name.startswith("score_"):
                return "7"
            if name.startswith("comment_"):
                return "Strong data plan"
            return "1" if name.startswith("private_") else "4"  # a ticked "not shown to the applicant"

        filled = {f.name: typed(f.name) for f in form.fields if f.name != "_csrf_token"}
        clock.advance(dt.timedelta(minutes=45))  # longer than the idle timeout
        response = await browser.post_form(path, filled, headers={"referer": f"http://testserver{path}"})
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
        assert path in response.headers["location"]

        # Someone else signing in on this browser does not get the draft: it is dropped.
        await browser.login(other_judge)
        assert "Strong data plan" not in (await browser.get("/judging")).text

        # Again as the judge; this time the judge signs in through the login pages and lands on the review.
        await browser.login(judge)
        clock.advance(dt.timedelta(minutes=45))
        await browser.post_form(path, filled, headers={"referer": f"http://testserver{path}"})
        clock.advance(dt.timedelta(seconds=31))  # a fresh TOTP time step
        login = await browser.post_form("/login", {"email": judge.email, "password": judge.password, "next": path})
        assert login.headers["location"] == "/login/totp"
        done = await browser.post_form("/login/totp", {"totp": judge.totp_now()})
        assert done.headers["location"] == path
        restored = await browser.get(path)
        form, _ = form_on(restored, path)
        for name, value in filled.items():
            assert shown(form, name) == value, name
        assert "Your unsaved answers were kept" in restored.text
        # Shown once: the draft is gone after it was restored.
        assert "Your unsaved answers were kept" not in (await browser.get(path)).text
