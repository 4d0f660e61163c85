"""Browser fixtures: Debian's Chromium driven by Playwright, screenshots kept on failure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest

PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; closed before other modules run, since Playwright's sync API
    keeps an event loop running in the main thread while it is open."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for name in ("page", "page2", "page3"):
            page = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if page is not None:
                ARTIFACTS.mkdir(exist_ok=True)
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{item.name}-{name}.png"), full_page=True)
                except Exception:  # a failed screenshot must not hide the real failure
                    pass


def _english_page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies) per test, in English unless the test switches."""
    context, page = _english_page(browser)
    yield page
    context.close()


@pytest.fixture
def page2(browser):
    """A second person's browser (own cookies), in English."""
    context, page = _english_page(browser)
    yield page
    context.close()


@pytest.fixture
def page3(browser):
    """A third person's browser (own cookies), in English."""
    context, page = _english_page(browser)
    yield page
    context.close()


def run_setup(live, code: str) -> dict:
    """Run a setup step against the live server's database in a separate process (like an operator);
    the step prints JSON on its last line, which is returned."""
    out = subprocess.run(
        [sys.executable, "-c", "import asyncio, json, portal\n" + code],
        env=live.environment(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- signing in, phones (every journey)

_USED_STEPS: dict[str, int] = {}  # account email -> the last TOTP step this run used for it


def fresh_totp(email: str, secret: str) -> str:
    """A TOTP code of a step the account has not used: the portal never accepts a step twice, and a
    journey may sign the same account in more than once within 30 s (it accepts one step ahead)."""
    step = max(int(time.time()) // 30, _USED_STEPS.get(email, -1) + 1)
    while step > int(time.time()) // 30 + 1:
        time.sleep(1)
    _USED_STEPS[email] = step
    return pyotp.TOTP(secret).at(step * 30)


def log_in(page, live, email: str, password: str, totp_secret: str | None = None) -> None:
    """Sign in through the login form (and the TOTP step), by field ids, so it works in either language."""
    page.goto(f"{live.url}/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    if totp_secret:
        page.wait_for_url(re.compile(r"/login/totp$"))
        page.locator("#f-totp").fill(fresh_totp(email, totp_secret))
        page.locator("form[action='/login/totp'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def phone_page(browser, language: str):
    """A new context at 390 x 844 in Korean or English; returns (context, page)."""
    context = browser.new_context(locale="ko-KR" if language == "ko" else "en-US", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def fits_the_phone(page) -> bool:
    """No sideways scrolling at the phone's width."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
