"""Issue #14, follow and notify: on a 390 px phone, in Korean and in English, a citizen follows a cycle,
an official publishes its results, and the citizen finds the notice on their notifications page and the
mail in the development outbox (written by the server's own mail worker)."""

from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import fits_the_phone, log_in, phone_page, run_setup
from tests.e2e.test_pb_journey import PASSWORD
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
TEXTS = {
    "en": {"follow": "Follow", "following": "Following", "notice": "The results of Seoul PB 2027 are approved and published.",
           "subject": "Results are published"},
    "ko": {"follow": "팔로우", "following": "팔로우 중", "notice": "Seoul PB 2027 결과가 승인되어 발표되었습니다.",
           "subject": "결과가 발표되었습니다"},
}


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


def mails_to(live: LiveServer, address: str) -> list:
    found = []
    for path in sorted((live.work_dir / "var" / "outbox").glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if str(message["To"]) == address:
            found.append(message)
    return found


@pytest.mark.parametrize("language", ["ko", "en"])
def test_a_citizen_follows_a_cycle_and_hears_that_its_results_are_published(browser, live, language):
    text = TEXTS[language]
    citizen = f"follower-{language}@example.kr"
    secret = pyotp.random_base32()
    setup = run_setup(
        live,
        "from portal import accounts\nfrom voting.testing import build_cycle\n"
        "async def main():\n"
        f"    await accounts.create_user({citizen!r}, {PASSWORD!r}, ['citizen'], district_code='11680', verified=True, language={language!r}, check_password=False)\n"
        f"    first = await accounts.create_user('first-{language}@example.kr', {PASSWORD!r}, ['official'], totp_secret=None, language='en', check_password=False)\n"
        f"    await accounts.create_user('second-{language}@example.kr', {PASSWORD!r}, ['official'], totp_secret={secret!r}, language={language!r}, check_password=False)\n"
        "    built = await build_cycle(first, phase='voting')\n"
        "    return {'cycle': built.id, 'first': first}\n"
        "print(json.dumps(asyncio.run(main())))",
    )
    cycle = setup["cycle"]
    context, page = phone_page(browser, language)
    context2, page2 = phone_page(browser, language)
    try:
        # 1. The citizen follows the cycle from its page.
        log_in(page, live, citizen, PASSWORD)
        page.goto(f"{live.url}/pb/cycles/{cycle}")
        page.locator(".follow-row button").click()
        page.wait_for_url(re.compile(rf"/pb/cycles/{cycle}$"))
        expect(page.locator(".follow-row button")).to_have_text(re.compile(text["following"]))

        # 2. Voting closes; one official has approved; a second one publishes the results on the phone.
        run_setup(
            live,
            "import datetime as dt\nfrom portal import clock\nfrom voting.tables import Cycle\n"
            "from voting.services import approvals, screening\nfrom voting.services.lifecycle import advance_cycle\n"
            "async def main():\n"
            "    now = clock.now()\n"
            "    days = lambda n: now + dt.timedelta(days=n)\n"
            "    await Cycle.update({Cycle.proposals_open_at: days(-31), Cycle.proposals_close_at: days(-21), "
            "Cycle.voting_open_at: days(-11), Cycle.voting_close_at: now - dt.timedelta(hours=1), "
            f"Cycle.publish_at: days(1)}}).where(Cycle.id == {cycle})\n"
            f"    await advance_cycle({cycle})\n"
            f"    await screening.acknowledge({setup['first']}, {cycle})\n"
            f"    await approvals.approve_results({cycle}, {setup['first']})\n"
            "asyncio.run(main())\nprint('{}')",
        )
        log_in(page2, live, f"second-{language}@example.kr", PASSWORD, secret)
        page2.goto(f"{live.url}/officials/pb/cycles/{cycle}")
        page2.locator("form[action$='/approve'] button").click()
        page2.wait_for_load_state()

        # 3. The citizen sees the notice, in their language, on a phone-wide page.
        page.goto(f"{live.url}/account/notifications")
        expect(page.locator("ul.notifications li").first).to_contain_text(text["notice"])
        assert fits_the_phone(page)
        page.locator("ul.notifications li").first.locator("button").click()  # mark as read
        page.wait_for_load_state()
        expect(page.locator("ul.notifications li.unread")).to_have_count(0)

        # 4. The server's mail worker mails it (every few seconds): once, in the reader's language.
        deadline = time.monotonic() + 30
        while not mails_to(live, citizen) and time.monotonic() < deadline:
            time.sleep(0.5)
        mails = mails_to(live, citizen)
        assert len(mails) == 1, live.log()[-3000:]
        assert str(mails[0]["Subject"]) == text["subject"]
        assert text["notice"] in mails[0].get_body(preferencelist=("plain",)).get_content()
    finally:
        context.close()
        context2.close()
