"""Accounts through HTTP: registration, login, TOTP, logout, profile, password reset (issue 2)."""

from __future__ import annotations

import datetime as dt
import re

from portal import clock, password_reset
from portal.mail import development_outbox
from portal.tables import User
from tests.helpers import DEFAULT_PASSWORD, field_error


async def register(client, **overrides):
    body = {"email": "mina@example.kr", "password": DEFAULT_PASSWORD, "display_name": "Mina",
            "district_code": "11440", "language": "en", **overrides}
    return await client.send_json("POST", "/api/v1/auth/register", body)


async def test_register_then_login_then_me_then_logout(client):
    response = await register(client)
    assert response.status_code == 201
    assert (await client.get("/api/v1/me")).status_code == 401
    login = await client.send_json("POST", "/api/v1/auth/login", {"email": "mina@example.kr", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    me = (await client.get("/api/v1/me")).json()
    assert me["email"] == "mina@example.kr" and me["district_code"] == "11440" and me["roles"] == ["citizen"]
    assert me["residency_verified"] is False
    assert (await client.send_json("POST", "/api/v1/auth/logout")).status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_weak_password_is_refused_with_a_reason_in_the_callers_language(client):
    response = await register(client, password="short password")
    assert response.status_code == 422
    assert "15" in field_error(response)
    korean = await client.send_json(
        "POST", "/api/v1/auth/register",
        {"email": "k@example.kr", "password": "password1234567", "display_name": "K", "language": "ko"},
        headers={"accept-language": "ko-KR"},
    )
    assert korean.status_code == 422
    assert re.search("[가-힣]", field_error(korean)), field_error(korean)


async def test_registration_form_rerenders_with_field_error_and_keeps_input(client):
    page = await client.get("/register")
    assert page.status_code == 200
    response = await client.post_form(
        "/register",
        {"email": "not-an-email", "password": DEFAULT_PASSWORD, "display_name": "Jun", "language": "en"},
        headers={"accept-language": "ko-KR,ko"},
    )
    assert response.status_code == 422
    assert 'value="Jun"' in response.text
    assert field_error(response) == "올바른 이메일 주소를 입력하세요."  # the browser asks for Korean


async def reset_link_from_outbox(client, email: str) -> str:
    """Ask for a reset, let the queue deliver it, and read the link from the outbox folder (var/outbox/*.eml)."""
    await client.post_form("/password-reset", {"email": email})
    assert await password_reset.deliver_password_resets() == 1
    mail = [m for m in development_outbox.read() if m.to == email][-1]
    return re.search(r"/password-reset/(\S+)", mail.body).group(1)


async def test_password_reset_link_works_once_and_expires(client, users):
    account = await users.create(email="reset@example.kr")
    token = await reset_link_from_outbox(client, account.email)
    new_password = "a brand new phrase for my account"
    response = await client.post_form(f"/password-reset/{token}", {"password": new_password})
    assert response.status_code == 303
    reused = await client.post_form(f"/password-reset/{token}", {"password": new_password + " again"})
    assert reused.status_code == 422
    login = await client.send_json("POST", "/api/v1/auth/login", {"email": account.email, "password": new_password})
    assert login.status_code == 200

    token = await reset_link_from_outbox(client, account.email)
    clock.advance(dt.timedelta(minutes=31))
    expired = await client.post_form(f"/password-reset/{token}", {"password": "yet another phrase to remember"})
    assert expired.status_code == 422


async def test_unknown_email_gets_the_same_reset_answer(client, users):
    await users.create(email="known@example.kr")
    known = await client.post_form("/password-reset", {"email": "known@example.kr"})
    unknown = await client.post_form("/password-reset", {"email": "unknown@example.kr"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda text: re.sub(r'value="[0-9a-f]{20,}"', "", text)  # noqa: E731 - CSRF tokens differ
    assert strip(known.text) == strip(unknown.text)


async def test_profile_update_and_language(citizen):
    response = await citizen.post_form("/account", {"display_name": "New Name", "language": "ko", "district_code": "11680"})
    assert response.status_code == 303
    row = await User.select(User.display_name, User.language, User.residency_verified).where(User.id == citizen.account.id).first()
    assert row == {"display_name": "New Name", "language": "ko", "residency_verified": True}
    page = await citizen.get("/account")
    assert '<html lang="ko">' in page.text


async def test_profile_shows_notifications_with_parameters_in_the_readers_language(citizen):
    from portal.accounts import notify

    await notify(citizen.account.id, "Unknown role %(role)s.", "/account", role="<b>x</b>")
    page = await citizen.get("/account")
    assert page.status_code == 200
    assert "Unknown role &lt;b&gt;x&lt;/b&gt;." in page.text


async def test_officials_hub_links_every_domain(official):
    page = await official.get("/officials")
    for path in ("/officials/accounts", "/officials/pb", "/officials/challenge", "/officials/connector"):
        assert f'href="{path}' in page.text, path
