"""axe-core (bundled by axe-playwright-python) finds no WCAG 2.2 A/AA violations on the main pages, in both languages."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.demo import DEMO_PASSWORD
from tests.e2e.conftest import log_in
from tests.live import LiveServer

pytestmark = pytest.mark.e2e

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PUBLIC_PAGES = ["/", "/register", "/login", "/password-reset", "/pb", "/challenge", "/api-reference", "/no-such-page"]
CITIZEN_PAGES = ["/account", "/pb"]


@pytest.fixture(scope="module")
def live():
    with LiveServer(demo=True) as server:
        yield server


@pytest.fixture
def axe_page(browser):
    # axe is injected by script evaluation; the portal's CSP rightly forbids that, so bypass it in the test only.
    context = browser.new_context(bypass_csp=True, locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    yield page
    context.close()


def violations(page) -> list[str]:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in results.response["violations"]]


@pytest.mark.parametrize("language", ["en", "ko"])
def test_public_pages_have_no_wcag_violations(axe_page, live, language):
    problems = {}
    for path in PUBLIC_PAGES:
        axe_page.goto(f"{live.url}{path}?lang={language}")
        found = violations(axe_page)
        if found:
            problems[path] = found
    assert not problems, problems


def test_form_errors_and_signed_in_pages_have_no_wcag_violations(axe_page, live):
    axe_page.goto(f"{live.url}/register")
    axe_page.get_by_role("button", name=re.compile("Create account")).click()
    assert axe_page.locator(".error").count() > 0
    assert violations(axe_page) == []
    log_in(axe_page, live, "citizen@demo.hangang.kr", DEMO_PASSWORD)
    # Pages found by following links as a citizen would: a cycle, a ballot, published results and a pot's results.
    axe_page.goto(f"{live.url}/pb")
    hrefs = [a.get_attribute("href") for a in axe_page.locator("main a").all()]
    results = next(h for h in hrefs if h.endswith("/results"))
    ballot = voting_cycle = None
    for cycle in dict.fromkeys(h for h in hrefs if re.fullmatch(r"/pb/cycles/\d+", h or "")):
        axe_page.goto(f"{live.url}{cycle}")
        links = [a.get_attribute("href") or "" for a in axe_page.locator("main a").all()]
        ballot = next((h for h in links if h.endswith("/ballot")), None)
        if ballot:
            voting_cycle = cycle
            break
    assert ballot, "the demo has a cycle in its voting phase"
    axe_page.goto(f"{live.url}{results}")
    pot_results = axe_page.locator("main table a").first.get_attribute("href")
    problems = {}
    # The proposals list with its district map, a district chosen (issue 14).
    district_list = f"{voting_cycle}/proposals?district=11680"
    for path in [*CITIZEN_PAGES, voting_cycle, ballot, results, pot_results, district_list, "/challenge"]:
        axe_page.goto(f"{live.url}{path}")
        found = violations(axe_page)
        if found:
            problems[path] = found
    assert not problems, problems
