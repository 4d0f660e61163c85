"""Item 9 (issue 12), in Korean (and the same in English, shorter): a citizen verifies by phone through a real idp-sim on 127.0.0.1 and
votes online; a 13-year-old who verifies the same way is refused at the ballot with a clear message and
keeps what they ticked; the same person verifying a second account is refused."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.idp.testing import running_idp
from tests.e2e.conftest import log_in, run_setup
from tests.e2e.test_pb_journey import PASSWORD
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
CALLBACK = "/account/identity/callback"


@pytest.fixture(scope="module")
def live():
    server = LiveServer()
    with running_idp(server.url + CALLBACK) as idp:
        server.extra_env = {
            "HANGANG_IDP_URL": idp.url,
            "HANGANG_IDP_CLIENT_ID": idp.client_id,
            "HANGANG_IDP_CLIENT_SECRET": idp.client_secret,
        }
        with server:
            yield server


@pytest.fixture
def korean(browser):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def verify_by_phone(page, live: LiveServer, name: str, birthdate: str, phone: str, link: str = "휴대전화로 본인확인") -> None:
    """My account → identity verification → the provider's page → back at the portal."""
    page.goto(f"{live.url}/account/identity")
    page.get_by_role("link", name=link).click()
    page.wait_for_url(re.compile(r"/authorize"))
    page.locator("#name").fill(name)
    page.locator("#birthdate").fill(birthdate)
    page.locator("#phone").fill(phone)
    page.get_by_role("button", name="Verify / 인증").click()
    page.wait_for_url(re.compile(r"/account/identity$"))


def voters_and_cycle(live: LiveServer, emails: tuple[str, ...], language: str) -> tuple[str, int]:
    """Verified residents of Gangnam-gu and a city-wide cycle in voting: the ballot URL and a project."""
    setup = run_setup(
        live,
        "from portal import accounts\nfrom voting.testing import build_cycle\n"
        "async def main():\n"
        f"    for email in {emails!r}:\n"
        f"        await accounts.create_user(email, '{PASSWORD}', ['citizen'], district_code='11680',"
        f" verified=True, language='{language}', check_password=False)\n"
        "    built = await build_cycle(None)\n"
        "    return {'cycle': built.id, 'pot': built.city_pot, 'projects': built.projects[built.city_pot]}\n"
        "print(json.dumps(asyncio.run(main())))",
    )
    return f"{live.url}/pb/cycles/{setup['cycle']}/pots/{setup['pot']}/ballot", setup["projects"][0]


def thirteen_years_ago() -> dt.date:
    today = dt.date.today()
    return today.replace(year=today.year - 13) if (today.month, today.day) != (2, 29) else dt.date(today.year - 13, 2, 28)


def tick_and_cast(page, ballot: str, project: int, button: str) -> None:
    page.goto(ballot)
    page.locator(f"#p-{project}").check()
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()


def test_citizen_verifies_by_phone_and_votes(korean, browser, live):
    ballot, first = voters_and_cycle(live, ("seojun@example.kr", "haneul@example.kr", "twin@example.kr"), "ko")

    # 1. An adult verifies by phone: the portal shows the verified name and the phone's last digits.
    log_in(korean, live, "seojun@example.kr", PASSWORD)
    verify_by_phone(korean, live, "김서준", "1988-03-14", "010-2345-6789")
    expect(korean.locator("body")).to_contain_text("김서준")
    expect(korean.locator("body")).to_contain_text("6789")
    assert "010-2345-6789" not in korean.content()

    # 2. ...and votes online: a receipt.
    tick_and_cast(korean, ballot, first, "투표하기")
    korean.wait_for_url(re.compile(r"/receipt\?stored=1$"))
    receipt = korean.locator("#receipt-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", receipt)

    # 3. A 13-year-old verifies and is refused at the ballot, in Korean; the ticks stay.
    context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    young = context.new_page()
    young.set_default_timeout(15000)
    try:
        log_in(young, live, "haneul@example.kr", PASSWORD)
        verify_by_phone(young, live, "박하늘", thirteen_years_ago().isoformat(), "010-5555-1212")
        tick_and_cast(young, ballot, first, "투표하기")
        expect(young.locator("body")).to_contain_text("이번 회차에는 만 14세 이상만 투표할 수 있습니다.")
        expect(young.locator(f"#p-{first}")).to_be_checked()
        assert "/receipt" not in young.url

        # 4. The adult's details typed for a third account: one account per person.
        young.context.clear_cookies()
        log_in(young, live, "twin@example.kr", PASSWORD)
        young.goto(f"{live.url}/account/identity")
        young.get_by_role("link", name="휴대전화로 본인확인").click()
        young.wait_for_url(re.compile(r"/authorize"))
        young.locator("#name").fill("김서준")
        young.locator("#birthdate").fill("1988-03-14")
        young.locator("#phone").fill("010-2345-6789")
        young.get_by_role("button", name="Verify / 인증").click()
        young.wait_for_load_state()
        assert young.locator(".alert, [role=alert]").count() >= 1
        expect(young.get_by_role("link", name="휴대전화로 본인확인")).to_be_visible()
    finally:
        context.close()


def test_citizen_verifies_by_phone_in_english(page, live):
    """The same journey in English: a verified adult votes; a 13-year-old is refused in English."""
    ballot, first = voters_and_cycle(live, ("james@example.kr", "lily@example.kr"), "en")

    log_in(page, live, "james@example.kr", PASSWORD)
    verify_by_phone(page, live, "James Park", "1979-11-02", "010-7777-4321", link="Verify by phone")
    expect(page.locator("body")).to_contain_text("James Park")
    tick_and_cast(page, ballot, first, "Cast my ballot")
    page.wait_for_url(re.compile(r"/receipt\?stored=1$"))

    page.context.clear_cookies()
    log_in(page, live, "lily@example.kr", PASSWORD)
    verify_by_phone(page, live, "Lily Choi", thirteen_years_ago().isoformat(), "010-8888-1313", link="Verify by phone")
    tick_and_cast(page, ballot, first, "Cast my ballot")
    expect(page.locator("body")).to_contain_text("You must be at least 14 to vote in this cycle.")
    expect(page.locator(f"#p-{first}")).to_be_checked()
    assert "/receipt" not in page.url
