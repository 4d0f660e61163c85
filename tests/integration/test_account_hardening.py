"""Account hardening (issue 10, item 4): password reset without enumeration or flooding, TOTP changes
that need a current code, client failure counters that expire in minutes, Secure language cookie and
a var folder production creates or names."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import argon2
import httpx
import pyotp
import pytest

from portal import accounts, clock, login, password_reset
from portal.errors import InvalidInput, TooManyAttempts
from portal.housekeeping import purge_stale_throttles
from portal.mail import development_outbox
from portal.settings import UnsafeSettingsError, get_settings
from portal.tables import LoginThrottle, PasswordResetRequest, PasswordResetToken, User
from tests.helpers import PortalClient, field_error, use_production_settings

PORTAL_DIR = str(Path(accounts.__file__).resolve().parent)


class ArgonCounter:
    """Counts argon2 hashes and verifications (the expensive, time-revealing work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        for name in ("hash", "verify"):
            original = getattr(argon2.PasswordHasher, name)

            def counted(hasher, *args, _original=original, **kwargs):
                self.calls += 1
                return _original(hasher, *args, **kwargs)

            monkeypatch.setattr(argon2.PasswordHasher, name, counted)


async def traced_reset_request(email: str, client: str) -> set[tuple[str, int]]:
    """The lines of the portal's own code that a reset request runs (file, line)."""
    executed: set[tuple[str, int]] = set()

    def tracer(frame, event, arg):
        filename = frame.f_code.co_filename
        if not filename.startswith(PORTAL_DIR):
            return None
        if event == "line":
            executed.add((filename, frame.f_lineno))
        return tracer

    sys.settrace(tracer)
    try:
        await password_reset.request_password_reset(email, client)
    finally:
        sys.settrace(None)
    return executed


async def test_reset_request_runs_the_same_code_and_work_for_known_and_unknown_addresses(users, monkeypatch):
    known = await users.create(email="known@example.kr")
    argon = ArgonCounter(monkeypatch)
    known_path = await traced_reset_request(known.email, "198.51.100.1")
    known_argon = argon.calls
    unknown_path = await traced_reset_request("nobody@example.kr", "198.51.100.2")
    assert known_path and known_path == unknown_path  # not one line differs
    assert known_argon == argon.calls - known_argon == 0  # no password hashing on either request
    queued = await PasswordResetRequest.select(PasswordResetRequest.email).order_by(PasswordResetRequest.id)
    assert [row["email"] for row in queued] == [known.email, "nobody@example.kr"]
    assert await PasswordResetToken.count() == 0 and development_outbox.sent == []  # nothing sent on the request path

    assert await password_reset.deliver_password_resets() == 2
    assert await PasswordResetRequest.count() == 0
    assert [mail.to for mail in development_outbox.read()] == [known.email]  # the unknown address gets nothing
    assert await PasswordResetToken.count() == 1


async def test_reset_is_rate_limited_per_address_and_per_client(client, users):
    await users.create(email="target@example.kr")
    for email in ("target@example.kr", "ghost@example.kr"):  # known or not, the same limit and answer
        for number in range(password_reset.RESET_PER_EMAIL):
            await password_reset.request_password_reset(email, f"203.0.113.{number}")
        with pytest.raises(TooManyAttempts) as refused:
            await password_reset.request_password_reset(email, "203.0.113.200")
        assert refused.value.message.startswith("Too many reset requests")
    for number in range(password_reset.RESET_PER_CLIENT):
        await password_reset.request_password_reset(f"person{number}@example.kr", "192.0.2.9")
    with pytest.raises(TooManyAttempts):
        await password_reset.request_password_reset("one-more@example.kr", "192.0.2.9")
    assert await PasswordResetRequest.count() == 2 * password_reset.RESET_PER_EMAIL + password_reset.RESET_PER_CLIENT

    # Through the form: a translated 429 beside the field, what was typed kept.
    for _ in range(password_reset.RESET_PER_EMAIL):
        assert (await client.post_form("/password-reset", {"email": "form@example.kr"})).status_code == 200
    page = await client.post_form("/password-reset", {"email": "form@example.kr"}, headers={"accept-language": "ko"})
    assert page.status_code == 429 and 'value="form@example.kr"' in page.text
    assert "재설정 요청이 너무 많습니다" in field_error(page)

    clock.advance(password_reset.RESET_WINDOW + dt.timedelta(seconds=1))
    await password_reset.request_password_reset("target@example.kr", "203.0.113.7")  # a new window
    assert await purge_stale_throttles() > 0  # ended windows are forgotten


async def test_client_failure_counters_expire_after_minutes(users):
    address = "198.51.100.77"
    for number in range(login.ADDRESS_FREE_FAILURES + 1):
        await login.record_failure(f"guess{number}@example.kr", address)
    with pytest.raises(TooManyAttempts):
        await login.check_throttle("someone@example.kr", address)
    clock.advance(login.ADDRESS_FAILURE_WINDOW + dt.timedelta(minutes=1))
    await login.check_throttle("someone@example.kr", address)  # the block is over
    await login.record_failure("typo@example.kr", address)
    state = await LoginThrottle.select().where(LoginThrottle.key == f"address:{address}").first()
    assert state["failures"] == 1 and state["blocked_until"] is None  # counting starts again
    clock.advance(login.ADDRESS_FAILURE_WINDOW + dt.timedelta(minutes=1))
    await purge_stale_throttles()
    assert not await LoginThrottle.exists().where(LoginThrottle.key == f"address:{address}")
    # The account counters stay for a day (rotating addresses must not reset them, S4).
    assert await LoginThrottle.exists().where(LoginThrottle.key == "account:typo@example.kr")


async def test_rebinding_totp_needs_a_current_code(judge):
    account = judge.account
    setup = await judge.get("/account/totp/setup")
    assert setup.status_code == 200 and 'name="current_totp"' in setup.text
    new_secret = (await judge.get("/account/totp/setup")).text.split('<code class="secret">')[1].split("<")[0]
    clock.advance(dt.timedelta(seconds=31))
    new_code = pyotp.TOTP(new_secret).at(clock.now())
    without = await judge.post_form("/account/totp/setup", {"totp": new_code})
    assert without.status_code == 422 and "current code" in field_error(without)
    wrong = await judge.post_form("/account/totp/setup", {"totp": new_code, "current_totp": "000000"})
    assert wrong.status_code == 422
    row = await User.select(User.totp_secret).where(User.id == account.id).first()
    assert row["totp_secret"] == account.totp_secret  # still the old app
    clock.advance(dt.timedelta(seconds=31))
    right = await judge.post_form(
        "/account/totp/setup", {"totp": pyotp.TOTP(new_secret).at(clock.now()), "current_totp": account.totp_now()}
    )
    assert right.status_code == 303
    row = await User.select(User.totp_secret).where(User.id == account.id).first()
    assert row["totp_secret"] == new_secret


async def test_removing_totp_needs_the_password_and_a_current_code(app, users):
    secret = pyotp.random_base32()
    user_id = await accounts.create_user(
        "two-factor@example.kr", "a long and quiet river walk at dawn", ["citizen"], totp_secret=secret, language="en"
    )
    async with PortalClient.for_app(app) as c:
        clock.advance(dt.timedelta(seconds=31))
        login = await c.send_json(
            "POST", "/api/v1/auth/login",
            {"email": "two-factor@example.kr", "password": "a long and quiet river walk at dawn",
             "totp": pyotp.TOTP(secret).at(clock.now())},
        )
        assert login.status_code == 200
        assert 'action="/account/totp/remove"' in (await c.get("/account")).text
        no_code = await c.post_form("/account/totp/remove", {"off_password": "a long and quiet river walk at dawn"})
        assert no_code.status_code == 422 and 'id="f-off_totp-error"' in no_code.text
        clock.advance(dt.timedelta(seconds=31))
        wrong_password = await c.post_form(
            "/account/totp/remove", {"off_password": "not my password at all", "off_totp": pyotp.TOTP(secret).at(clock.now())}
        )
        assert wrong_password.status_code == 422
        assert (await User.select(User.totp_enabled).where(User.id == user_id).first())["totp_enabled"]
        removed = await c.post_form(
            "/account/totp/remove",
            {"off_password": "a long and quiet river walk at dawn", "off_totp": pyotp.TOTP(secret).at(clock.now())},
        )
        assert removed.status_code == 303
    row = await User.select(User.totp_enabled, User.totp_secret).where(User.id == user_id).first()
    assert row == {"totp_enabled": False, "totp_secret": None}


async def test_privileged_accounts_cannot_remove_totp(judge):
    clock.advance(dt.timedelta(seconds=31))
    with pytest.raises(InvalidInput) as refused:
        await login.disable_totp(judge.account.id, judge.account.password, judge.account.totp_now(), "127.0.0.1")
    assert "must keep" in refused.value.message


async def test_language_cookie_is_secure_in_production(monkeypatch):
    use_production_settings(monkeypatch)
    try:
        from portal.app import create_app

        app = create_app(run_background_tasks=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
            await c.get("/")
            token = c.cookies.get("__Host-csrftoken")
            response = await c.post("/language", data={"language": "en", "_csrf_token": token})
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("hangang_lang="))
        assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        get_settings.cache_clear()


def test_production_creates_its_var_folder_or_says_why_not(monkeypatch, tmp_path):
    use_production_settings(monkeypatch)
    try:
        monkeypatch.setenv("HANGANG_VAR_DIR", str(tmp_path / "new" / "var"))
        get_settings.cache_clear()
        get_settings().check_safe_for_production()
        assert (tmp_path / "new" / "var").is_dir()

        monkeypatch.setenv("HANGANG_VAR_DIR", "/proc/hangang-var")  # nobody can create a folder here
        get_settings.cache_clear()
        with pytest.raises(UnsafeSettingsError) as refused:
            get_settings().check_safe_for_production()
        assert "HANGANG_VAR_DIR /proc/hangang-var cannot be created" in str(refused.value)

        monkeypatch.delenv("HANGANG_SMTP_HOST")
        monkeypatch.delenv("HANGANG_AUDIT_KEY")
        monkeypatch.setenv("HANGANG_VAR_DIR", str(tmp_path))
        get_settings.cache_clear()
        with pytest.raises(UnsafeSettingsError) as refused:
            get_settings().check_safe_for_production()
        assert "HANGANG_SMTP_HOST must be set" in str(refused.value)
        assert "HANGANG_AUDIT_KEY must be set" in str(refused.value)
    finally:
        get_settings.cache_clear()
