"""Phone identity verification through a real idp-sim on 127.0.0.1: code flow with PKCE, refused tokens,
state and nonce, one account per person, and the cycle's minimum age at the online ballot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portal import accounts, phone_identity
from portal.ages import seoul_date
from portal.idp.testing import running_idp
from portal.settings import get_settings
from portal.tables import AuditEvent, User
from tests.helpers import PortalClient
from voting.testing import build_cycle

PERSON = {"name": "김하늘", "birthdate": "1990-05-17", "phone": "010-2345-6789"}


@pytest.fixture
def idp(monkeypatch):
    """An idp-sim registered for the portal's callback, and the portal pointed at it."""
    settings = get_settings()
    with running_idp(settings.base_url + phone_identity.CALLBACK_PATH) as running:
        patched = dataclasses.replace(
            settings, idp_url=running.url, idp_client_id=running.client_id, idp_client_secret=running.client_secret
        )
        monkeypatch.setattr(phone_identity, "get_settings", lambda: patched)
        yield running


async def at_the_provider(authorize_url: str, person: dict[str, str], decision: str = "allow") -> str:
    """What the person's browser does at the provider: open the page, type who they are; the redirect back."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(authorize_url)
        assert page.status_code == 200, page.text
        hidden = {k: html.unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
        answer = await browser.post(authorize_url.split("?")[0], data={**hidden, **person, "decision": decision})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def verify(client: PortalClient, person: dict[str, str] = PERSON) -> httpx.Response:
    """Start at the portal, verify at the provider, come back to the portal's callback."""
    start = await client.get("/account/identity/start")
    assert start.status_code == 303, start.text
    back = urlsplit(await at_the_provider(start.headers["location"], person))
    return await client.get(f"{back.path}?{back.query}")


async def test_full_code_flow_with_pkce_stores_the_verified_identity(idp, citizen, caplog):
    caplog.set_level(logging.DEBUG)
    start = await citizen.get("/account/identity/start")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["nonce"] and query["state"] and query["client_id"] == [idp.client_id]
    assert "code_verifier" not in query
    back = urlsplit(await at_the_provider(start.headers["location"], PERSON))
    done = await citizen.get(f"{back.path}?{back.query}")
    assert done.status_code == 303 and done.headers["location"] == "/account/identity"
    row = await User.select().where(User.id == citizen.account.id).first()
    assert row["verified_name"] == "김하늘" and row["birth_date"] == dt.date(1990, 5, 17)
    assert row["phone_number"] == "+821023456789" and row["identity_verified_at"] is not None
    assert re.fullmatch(r"[0-9a-f]{64}", row["person_key_hash"])
    # The district still comes from the register: verification changes neither district nor residency.
    assert row["district_code"] == "11680" and row["residency_verified"]
    assert await AuditEvent.exists().where(AuditEvent.action == "identity.verified")
    page = await citizen.get("/account/identity")
    assert "Verified by phone" in page.text and "김하늘" in page.text and "6789" in page.text
    assert "2345-6789" not in page.text
    await accounts.set_language(citizen.account.id, "ko")
    korean = await citizen.get("/account/identity")
    assert "휴대전화로 본인확인 완료" in korean.text
    # The portal's own records (the test's HTTP clients and the simulator's Authlib log their side).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "authlib")))
    for secret in ("김하늘", "1990-05-17", "23456789", "+8210", parse_qs(back.query)["code"][0]):
        assert secret not in logged


async def test_the_provider_requires_pkce_and_the_right_verifier(idp, citizen):
    start = await citizen.get("/account/identity/start")
    url = start.headers["location"]
    without = re.sub(r"&code_challenge=[^&]+", "", url)
    async with httpx.AsyncClient(timeout=10) as browser:
        refused = await browser.get(without)
    assert refused.status_code == 302 and "error=invalid_request" in refused.headers["location"]
    # The portal's verifier is in its session only: someone replaying the code without it gets nothing.
    back = parse_qs(urlsplit(await at_the_provider(url, PERSON)).query)
    async with httpx.AsyncClient(timeout=10) as thief:
        token = await thief.post(
            f"{idp.url}/token",
            data={"grant_type": "authorization_code", "code": back["code"][0], "redirect_uri": get_settings().base_url + phone_identity.CALLBACK_PATH, "code_verifier": "x" * 50},
            auth=(idp.client_id, idp.client_secret),
        )
    assert token.status_code == 400 and token.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("knob", ["bad_signature_next", "unsigned_next", "wrong_audience_next", "wrong_nonce_next"])
async def test_a_tampered_unsigned_or_misaddressed_id_token_is_refused(idp, citizen, knob):
    idp.faults(**{knob: 1})
    refused = await verify(citizen)
    assert refused.status_code == 400
    assert "could not be completed" in refused.text
    row = await User.select(User.person_key_hash, User.birth_date).where(User.id == citizen.account.id).first()
    assert row == {"person_key_hash": None, "birth_date": None}
    # The next attempt, without the fault, succeeds.
    assert (await verify(citizen)).status_code == 303


async def test_a_state_that_does_not_match_is_refused_and_the_flow_is_spent(idp, citizen):
    start = await citizen.get("/account/identity/start")
    back = urlsplit(await at_the_provider(start.headers["location"], PERSON))
    forged = re.sub(r"state=[^&]+", "state=forged", back.query)
    refused = await citizen.get(f"{back.path}?{forged}")
    assert refused.status_code == 400 and "does not belong" in refused.text
    again = await citizen.get(f"{back.path}?{back.query}")  # the real answer, too late: used once
    assert again.status_code == 400 and "expired or was not started here" in again.text
    assert (await User.select(User.birth_date).where(User.id == citizen.account.id).first())["birth_date"] is None


async def test_a_callback_nobody_started_is_refused(idp, citizen):
    response = await citizen.get("/account/identity/callback?code=abc&state=def")
    assert response.status_code == 400 and "expired or was not started here" in response.text


async def test_the_person_cancels_or_the_provider_refuses(idp, citizen):
    idp.faults(refuse_next=1)
    refused = await verify(citizen)
    assert refused.status_code == 403 and "cancelled or refused" in refused.text


async def test_the_provider_down_is_a_clear_message_not_an_error(idp, citizen, monkeypatch):
    idp.faults(fail_next=1)
    failed = await verify(citizen)
    assert failed.status_code == 400 and "could not be completed" in failed.text
    gone = dataclasses.replace(phone_identity.get_settings(), idp_url="http://127.0.0.1:9")
    monkeypatch.setattr(phone_identity, "get_settings", lambda: gone)
    down = await citizen.get("/account/identity/start")
    assert down.status_code == 409 and "not available right now" in down.text
    await accounts.set_language(citizen.account.id, "ko")
    korean = await citizen.get("/account/identity/start")
    assert "휴대전화 본인확인을 이용할 수 없습니다" in korean.text


async def test_a_second_account_of_the_same_person_is_refused(idp, citizen, app, users):
    assert (await verify(citizen)).status_code == 303
    other = await users.create(district="11680", verified=True)
    async with PortalClient.for_app(app) as second:
        await second.login(other)
        refused = await verify(second)
        assert refused.status_code == 409 and "already verified another account" in refused.text
        # A different person on the second account is fine.
        assert (await verify(second, {**PERSON, "phone": "010-9999-0000"})).status_code == 303
    assert (await verify(citizen)).status_code == 303  # the same person again on their own account


def born_years_ago(years: int, extra_days: int = 0) -> dt.date:
    today = seoul_date()
    return today.replace(year=today.year - years) - dt.timedelta(days=extra_days)


async def test_under_age_online_ballot_is_refused_and_of_age_is_accepted(idp, citizen, official):
    built = await build_cycle(official.account.id)
    url = f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    choice = {"project_ids": built.projects[built.city_pot][:1]}
    young = born_years_ago(14) + dt.timedelta(days=1)  # turns 14 tomorrow
    assert (await verify(citizen, {**PERSON, "birthdate": young.isoformat()})).status_code == 303
    refused = await citizen.send_json("PUT", url, choice)
    assert refused.status_code == 403 and "at least 14 to vote" in refused.text
    page = await citizen.post_form(f"/pb/cycles/{built.id}/pots/{built.city_pot}/ballot", choice)
    assert page.status_code == 403 and "at least 14 to vote" in page.text
    await accounts.set_language(citizen.account.id, "ko")
    korean = await citizen.send_json("PUT", url, choice)
    assert "만 14세 이상" in korean.text
    await User.update({User.birth_date: born_years_ago(14)}).where(User.id == citizen.account.id)  # 14 today
    accepted = await citizen.send_json("PUT", url, choice)
    assert accepted.status_code == 200, accepted.text


async def test_without_a_verified_birth_date_voting_is_as_before(citizen, official):
    built = await build_cycle(official.account.id)
    url = f"/api/v1/pb/cycles/{built.id}/pots/{built.city_pot}/ballot"
    assert (await citizen.send_json("PUT", url, {"project_ids": built.projects[built.city_pot][:1]})).status_code == 200
