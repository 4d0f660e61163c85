"""A funded project's delivery on a 390 px phone: an official adds a milestone, then a citizen opens the
project's public page and reads its progress, in Korean and in English. Real server, Chromium."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pyotp
import pytest

from tests.e2e.conftest import PHONE, fits_the_phone, log_in, run_setup
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "lanterns drifting along the han river"
SECRET = pyotp.random_base32()

SETUP = f"""
import asyncio, json
from portal import accounts
from voting.services import delivery
from voting.testing import build_funded_cycle

async def main():
    first = await accounts.create_user("works-@@TAG@@@example.kr", {PASSWORD!r}, ["official"], totp_secret={SECRET!r},
                                       language="en", check_password=False)
    second = await accounts.create_user("second-@@TAG@@@example.kr", {PASSWORD!r}, ["official"], language="en",
                                        check_password=False)
    built = await build_funded_cycle((first, second), name="서울 주민참여예산 2026")
    project = built.funded[0]
    await delivery.change_status(first, built.id, project, "in-progress", "")
    found = await delivery.delivery_of(built.id, project)
    print(json.dumps({{"cycle": built.id, "project": project, "closed_on": found.vote_closed_on.isoformat(),
                      "title": found.project.title}}))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer() as server:
        yield server


def setup_data(live: LiveServer, tag: str) -> dict:
    """A funded project in progress, with officials works-<tag>@ and second-<tag>@example.kr."""
    return run_setup(live, SETUP.replace("@@TAG@@", tag))


def test_citizen_reads_progress_after_an_official_adds_a_milestone(
    browser, live: LiveServer
) -> None:
    data = setup_data(live, "journey")
    public = f"{live.url}/pb/cycles/{data['cycle']}/delivery/projects/{data['project']}"
    due = (dt.date.fromisoformat(data["closed_on"]) + dt.timedelta(days=45)).isoformat()

    # The official, on a phone, adds a milestone; a date before the vote is refused beside the field.
    official = browser.new_context(locale="en-US", viewport=PHONE).new_page()
    official.set_default_timeout(15000)
    log_in(official, live, "works-journey@example.kr", PASSWORD, SECRET)
    official.goto(
        f"{live.url}/officials/pb/cycles/{data['cycle']}/delivery/projects/{data['project']}"
    )
    official.fill("#f-title", "Lamps installed along the path")
    official.fill("#f-due_on", "2020-01-01")
    official.get_by_role("button", name="Add the milestone").click()
    assert "before the vote closed" in official.locator("#f-due_on-error").inner_text()
    assert (
        official.input_value("#f-title") == "Lamps installed along the path"
    )  # what was typed is kept
    official.fill("#f-due_on", due)
    official.get_by_role("button", name="Add the milestone").click()
    official.wait_for_url(re.compile(r"/projects/\d+$"))
    assert "The milestone is added." in official.content()
    assert fits_the_phone(official)
    official.context.close()

    # A citizen (not signed in) reads the project's progress in Korean, then in English.
    citizen = browser.new_context(locale="ko-KR", viewport=PHONE).new_page()
    citizen.set_default_timeout(15000)
    citizen.goto(public)
    assert citizen.evaluate("document.documentElement.lang") == "ko"
    assert data["title"] in citizen.locator("h1").inner_text()
    assert "진행 중" in citizen.content()
    timeline = citizen.locator("ol.timeline")
    assert (
        "Lamps installed along the path" in timeline.inner_text() and due in timeline.inner_text()
    )
    assert "주요 일정 1개 중 0개 완료." in citizen.content()
    assert fits_the_phone(citizen)
    citizen.get_by_role("button", name="English").click()
    citizen.wait_for_load_state()
    assert citizen.evaluate("document.documentElement.lang") == "en"
    assert "In progress" in citizen.content() and "0 of 1 milestones done." in citizen.content()
    assert "Spending against the budget" in citizen.content()
    assert fits_the_phone(citizen)
    citizen.goto(f"{live.url}/pb/cycles/{data['cycle']}/delivery")
    assert citizen.get_by_role("link", name=data["title"]).count() == 1
    assert fits_the_phone(citizen)
    citizen.context.close()


def test_delivery_pages_have_no_wcag_violations(browser, live: LiveServer) -> None:
    from axe_playwright_python.sync_playwright import Axe

    data = setup_data(live, "axe")
    context = browser.new_context(
        bypass_csp=True, locale="en-US", viewport=PHONE
    )  # axe is injected by script
    page = context.new_page()
    problems = {}
    for language in ("en", "ko"):
        for path in (
            f"/pb/cycles/{data['cycle']}/delivery",
            f"/pb/cycles/{data['cycle']}/delivery/projects/{data['project']}",
        ):
            page.goto(f"{live.url}{path}?lang={language}")
            results = Axe().run(
                page,
                options={
                    "runOnly": {
                        "type": "tag",
                        "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"],
                    }
                },
            )
            found = [f"{v['id']}: {v['help']}" for v in results.response["violations"]]
            if found:
                problems[f"{language} {path}"] = found
    context.close()
    assert not problems, problems
