"""Issue #14: on a 390 px phone, in Korean and in English, a citizen supports a proposal and comments
(a script in the comment is shown as text, never run), and an official hides the comment with a
reason, then restores it."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.e2e.conftest import fits_the_phone, log_in, phone_page, run_setup
from tests.e2e.test_pb_journey import PASSWORD
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
TEXTS = {
    "en": {"counted": "Thank you: your support was counted.", "supports": "1 supports"},
    "ko": {"counted": "감사합니다. 공감이 반영되었습니다.", "supports": "공감 1개"},
}


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


@pytest.mark.parametrize("language", ["ko", "en"])
def test_support_comment_hide_and_restore_on_a_phone(browser, live, language):
    secret = pyotp.random_base32()
    setup = run_setup(
        live,
        "from portal import accounts\nfrom proposals.testing import build_support_cycle\n"
        "async def main():\n"
        f"    citizen = await accounts.create_user('mina-{language}@example.kr', '{PASSWORD}', ['citizen'], display_name='Mina {language}', district_code='11680', verified=True, language='{language}', check_password=False)\n"
        f"    official = await accounts.create_user('clerk-{language}@example.kr', '{PASSWORD}', ['official'], totp_secret='{secret}', language='{language}', check_password=False)\n"
        f"    built = await build_support_cycle(official, proposals={{'Rain gardens {language}': None}}, name='Support {language}')\n"
        f"    return {{'proposal': built.proposals['Rain gardens {language}']}}\n"
        "print(json.dumps(asyncio.run(main())))",
    )
    proposal = setup["proposal"]
    citizen_context, page = phone_page(browser, language)
    official_context, page2 = phone_page(browser, language)
    try:
        # 1. The citizen supports the proposal; the count is public, the button becomes a withdrawal.
        log_in(page, live, f"mina-{language}@example.kr", PASSWORD)
        page.goto(f"{live.url}/pb/proposals/{proposal}")
        assert page.locator("html").get_attribute("lang") == language
        assert fits_the_phone(page), page.url
        page.locator("#support-button").click()
        page.wait_for_url(re.compile(rf"/pb/proposals/{proposal}#support$"))
        assert TEXTS[language]["counted"] in page.locator(".flash").inner_text()
        assert page.locator("#support-count").inner_text() == TEXTS[language]["supports"]
        assert page.locator("#support-button").count() == 0

        # 2. The citizen comments; the script is shown as text and never runs, the address is a link.
        page.locator("#f-body").fill("<script>window.pwned = 1</script> 자세한 내용: https://example.kr/rain")
        page.locator("#f-body").locator("xpath=ancestor::form").locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"#comment-\d+$"))
        comment = int(page.url.rsplit("-", 1)[1])
        text = page.locator(f"#comment-{comment} .comment-text")
        assert "<script>window.pwned = 1</script>" in text.inner_text()
        assert page.evaluate("window.pwned") is None
        assert text.locator("a").get_attribute("href") == "https://example.kr/rain"
        assert "Mina" in page.locator(f"#comment-{comment} .comment-meta").inner_text()
        assert fits_the_phone(page), page.url

        # 3. An official hides it with a reason: the reason shows in place of the text.
        log_in(page2, live, f"clerk-{language}@example.kr", PASSWORD, secret)
        page2.goto(f"{live.url}/officials/pb/comments")
        assert fits_the_phone(page2), page2.url
        card = page2.locator(f"#c-{comment}")
        card.locator(f"#f-reason-{comment}").fill("광고성 링크는 올릴 수 없습니다 / no adverts")
        card.locator(f"form[action='/officials/pb/comments/{comment}/hide'] button").click()
        page2.wait_for_url(re.compile(rf"#c-{comment}$"))
        page.reload()
        hidden = page.locator(f"#comment-{comment}")
        assert "no adverts" in hidden.inner_text() and "pwned" not in hidden.inner_text()

        # 4. ... and restores it.
        page2.locator(f"form[action='/officials/pb/comments/{comment}/restore'] button").click()
        page2.wait_for_url(re.compile(rf"#c-{comment}$"))
        page.reload()
        assert "window.pwned" in page.locator(f"#comment-{comment} .comment-text").inner_text()
        assert page.evaluate("window.pwned") is None
    finally:
        citizen_context.close()
        official_context.close()
