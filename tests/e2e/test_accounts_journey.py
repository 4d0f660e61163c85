"""A citizen signs up, is told why a weak password fails, logs in, switches language and logs out; an official logs in with TOTP."""

from __future__ import annotations

import re
import subprocess
import sys

import pyotp
import pytest
from playwright.sync_api import expect

from tests.live import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


def test_register_login_switch_language_logout(page, live):
    page.goto(f"{live.url}/register")
    page.get_by_label("Email").fill("jiwoo@example.kr")
    page.get_by_label("Display name").fill("Jiwoo")
    page.get_by_label("Password").fill("password1234567")
    page.get_by_label("District of residence").select_option("11440")
    page.get_by_role("button", name="Create account").click()
    error = page.locator("#f-password-error")
    assert "too common" in error.inner_text()
    assert page.get_by_label("Email").input_value() == "jiwoo@example.kr"  # nothing typed is lost

    page.get_by_label("Password").fill("maple leaves drift on the river")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.get_by_label("Email").fill("jiwoo@example.kr")
    page.get_by_label("Password").fill("maple leaves drift on the river")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name="My account")).to_be_visible()

    page.get_by_role("button", name="한국어").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "ko"
    expect(page.get_by_role("link", name="내 계정")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    page.goto(f"{live.url}/account")
    assert "/login" in page.url


def test_official_logs_in_with_totp(page, live):
    secret = pyotp.random_base32()
    script = (
        "import asyncio, portal; from portal import accounts;"
        f"asyncio.run(accounts.create_user('official@example.kr', 'cherry blossoms along yeouido', ['official'], totp_secret='{secret}', language='en'))"
    )
    subprocess.run([sys.executable, "-c", script], env=live.environment(), check=True, capture_output=True)
    page.goto(f"{live.url}/login")
    page.get_by_label("Email").fill("official@example.kr")
    page.get_by_label("Password").fill("cherry blossoms along yeouido")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/login/totp$"))
    page.get_by_label("Code").fill("123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
    page.get_by_role("button", name="Continue").click()
    assert "not correct" in page.locator("#f-totp-error").inner_text()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name="Officials")).to_be_visible()
