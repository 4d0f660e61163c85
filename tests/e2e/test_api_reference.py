"""The self-hosted API reference loads in Chromium under the portal's CSP without a violation."""

from __future__ import annotations

import pytest

from tests.live import LiveServer

pytestmark = pytest.mark.e2e


def test_api_reference_renders_in_chromium_with_no_csp_violation(page):
    with LiveServer() as live:
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text))
        page.on("pageerror", lambda error: messages.append(str(error)))
        response = page.goto(f"{live.url}/api-reference")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == "API reference"
        assert page.locator("code", has_text="/api/v1/auth/login").count() >= 1
        # The stylesheet applied (same-origin CSS is allowed): the page is styled, not bare.
        assert page.evaluate("document.styleSheets.length") >= 1
        assert [m for m in messages if "Content Security Policy" in m] == [], messages

        # The check itself works: an inline script added to this page is refused and reported.
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            page.evaluate(
                "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
                " document.body.appendChild(s); }"
            )
        assert page.evaluate("window.ran") is None
