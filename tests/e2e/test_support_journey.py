"""Issue #14: on a 390 px phone, in Korean and in English, a citizen supports a proposal and comments
(a script in the comment is shown as text, never run), and an official hides the comment with a
reason, then restores it."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.e2e.test_pb_journey import PASSWORD, run
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
TEXTS = {
    "en": {"counted": "Thank you: your support was counted.", "supports": "1 supports"},
    "ko": {"counted": "감사합니다. 공감이 반영되었습니다.", "supports": "공감 1개"},
}


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


def _phone(browser, language: str):
    context = browser.new_context(locale="ko-KR" if language == "ko" else "en-US", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _log_in(page, live: LiveServer, email: str, totp_secret: str | None = None) -> None:
    """By field names, so the same steps work in either language."""
    page.goto(f"{live.url}/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    if totp_secret:
        page.wait_for_url(re.compile(r"/login/totp$"))
        page.locator("#f-totp").fill(pyotp.TOTP(totp_secret).now())
        page.locator("form[action='/login/totp'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


@pytest.mark.parametrize("language", ["ko", "en"])
def test_support_comment_hide_and_restore_on_a_phone(browser, live, language):
    secret = pyotp.random_base32()
    setup = run(
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
    citizen_context, page = _phone(browser, language)
    official_context, page2 = _phone(browser, language)
    try:
        # 1. The citizen supports the proposal; the count is public, the button becomes a withdrawal.
        _log_in(page, live, f"mina-{language}@example.kr")
        page.goto(f"{live.url}/pb/proposals/{proposal}")
        assert page.locator("html").get_attribute("lang") == language
        _fits(page)
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
        _fits(page)

        # 3. An official hides it with a reason: the reason shows in place of the text.
        _log_in(page2, live, f"clerk-{language}@example.kr", secret)
        page2.goto(f"{live.url}/officials/pb/comments")
        _fits(page2)
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
