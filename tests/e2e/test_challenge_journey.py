"""AI 50 Challenge in a browser (issue 5, item 15): a startup submits an entry with a PDF; a judge with a
declared conflict does not see it; another judge scores it; two officials approve and download the winners."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "cherry blossoms along yeouido"
SECRETS = {
    name: pyotp.random_base32() for name in ("conflicted", "scorer", "official1", "official2")
}


def run_script(live: LiveServer, body: str) -> str:
    """Run setup code against the live server's database (the server clock cannot be moved)."""
    script = "import asyncio, os, portal\n" + textwrap.dedent(body) + "\nos._exit(0)\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=live.environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        run_script(
            server,
            f"""
            import datetime as dt
            from portal import accounts, clock
            from judging.services.assignment import run_assignment
            from judging.services.editions import EditionForm, create_edition, list_editions, rounds_of, update_round
            from judging.services.screening import decide_gate
            async def main():
                await accounts.create_user("founder@riverai.kr", {PASSWORD!r}, ["startup"], language="en")
                for name, secret in {SECRETS!r}.items():
                    roles = ["official"] if name.startswith("official") else ["judge"]
                    await accounts.create_user(f"{{name}}@example.kr", {PASSWORD!r}, roles, totp_secret=secret, language="en")
                now = clock.now()
                await create_edition(
                    1, EditionForm(name="AI 50 Challenge 2027", intake_opens_at=now - dt.timedelta(days=1),
                    intake_closes_at=now + dt.timedelta(days=1), winners=1, quotas={{}}, seed=42))
            asyncio.run(main())
            """,
        )
        yield server


def test_startup_submits_judges_score_officials_approve_and_export(browser, live, tmp_path):
    contexts = []

    def fresh_page():
        context = browser.new_context(
            locale="en-US", viewport={"width": 1200, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    page = fresh_page()
    try:
        # The startup registers its organization and submits an entry with a PDF deck.
        log_in(page, live, "founder@riverai.kr", PASSWORD)
        page.goto(f"{live.url}/challenge/organization")
        page.get_by_label("Name").fill("River AI")
        page.get_by_label("Business registration number").fill("220-81-62517")
        page.get_by_label("Founding year").fill("2022")
        page.get_by_role("button", name="Register", exact=True).click()
        expect(page.get_by_text("Your organization is registered.")).to_be_visible()
        page.goto(f"{live.url}/challenge")
        page.get_by_role("link", name="Start an entry").click()
        page.get_by_label("Title").fill("Flood warning from river sensors")
        for label, text in (
            ("Summary", "Warns residents before floods."),
            ("The problem", "Sudden floods."),
            ("The AI approach", "Time-series forecasting."),
            ("Data used and how personal data is protected", "Sensor data only."),
            ("Target users", "Riverside residents."),
            ("Team", "Two hydrologists."),
        ):
            page.get_by_label(label, exact=True).fill(text)
        page.get_by_label("Category").select_option("disaster-response")
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_url(re.compile(r"/challenge/entries/\d+$"))
        entry_id = int(page.url.rsplit("/", 1)[-1])
        deck = tmp_path / "deck.pdf"
        deck.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
        page.get_by_label("PDF deck (up to 10 MB) or PNG/JPEG image").set_input_files(str(deck))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("link", name="deck.pdf")).to_be_visible()
        page.get_by_role("button", name="Submit entry").click()
        assert page.locator("#entry-status").inner_text() == "Submitted"

        # A judge declares a conflict with the organization.
        conflicted = fresh_page()
        log_in(conflicted, live, "conflicted@example.kr", PASSWORD, SECRETS["conflicted"])
        conflicted.goto(f"{live.url}/judging/profile")
        conflicted.get_by_label("Organization").select_option(label="River AI (220-81-62517)")
        conflicted.get_by_label("Type").select_option("investment")
        conflicted.get_by_role("button", name="Declare conflict").click()
        expect(conflicted.get_by_text("Your conflict was declared.")).to_be_visible()

        # The deadline passes; officials screen the entry in and assign judges (setup through the services).
        ids = json.loads(
            run_script(
                live,
                f"""
            import datetime as dt, json
            from portal import clock
            from judging.services.assignment import run_assignment
            from judging.services.editions import list_editions, rounds_of, update_round
            from judging.services.screening import decide_gate
            from judging.tables import Edition, DEFAULT_GATES
            from portal.tables import User
            async def main():
                await Edition.update({{Edition.intake_closes_at: clock.now() - dt.timedelta(minutes=1)}}).where(Edition.id > 0)
                for gate in DEFAULT_GATES:
                    await decide_gate(1, {entry_id}, gate, True, "")
                edition = (await list_editions())[0]
                rnd = [r for r in await rounds_of(edition["id"]) if r["kind"] == "evaluation"][0]
                judges = [u["id"] for u in await User.select(User.id).where(User.email.is_in(["conflicted@example.kr", "scorer@example.kr"]))]
                await update_round(1, rnd["id"], rnd["deadline"], 1, judges)
                await run_assignment(1, rnd["id"])
                print(json.dumps({{"round": rnd["id"], "edition": edition["id"]}}))
            asyncio.run(main())
            """,
            )
            .strip()
            .splitlines()[-1]
        )

        # The conflicted judge sees nothing of it, by page or by address.
        conflicted.goto(f"{live.url}/judging")
        assert "Flood warning" not in conflicted.content()
        response = conflicted.goto(f"{live.url}/judging/rounds/{ids['round']}/entries/{entry_id}")
        assert response.status == 404 and "Flood warning" not in conflicted.content()
        api = conflicted.goto(f"{live.url}/api/v1/challenge/assignments")
        assert api.status == 200 and "Flood warning" not in conflicted.content()

        # Another judge scores it, blind, with the rubric's level descriptors.
        scorer = fresh_page()
        log_in(scorer, live, "scorer@example.kr", PASSWORD, SECRETS["scorer"])
        scorer.goto(f"{live.url}/judging")
        scorer.locator("#next-entry").click()
        expect(scorer.get_by_text("Blind review: the organization is hidden")).to_be_visible()
        assert "River AI" not in scorer.content()
        expect(scorer.get_by_text("Transforms a daily-life problem")).to_be_visible()
        for field in scorer.locator("input[type=number][name^=score_]").all():
            field.fill("8")
        assert scorer.locator("#weighted-total").inner_text() == "8.00"
        scorer.locator("#save-review").click()
        expect(scorer.get_by_text("Your review was saved.")).to_be_visible()

        # Two different officials approve; then the winners download.
        first = fresh_page()
        log_in(first, live, "official1@example.kr", PASSWORD, SECRETS["official1"])
        first.goto(f"{live.url}/officials/challenge/{ids['edition']}/selections")
        first.get_by_role("button", name="Run selection").click()
        first.wait_for_url(re.compile(r"/officials/challenge/selections/\d+$"))
        selection_url = first.url
        assert "Flood warning from river sensors" in first.content()
        first.locator("#approve-selection").click()
        expect(first.get_by_text("A second, different official must approve too.")).to_be_visible()
        assert first.get_by_role("link", name="winners.csv").count() == 0
        second = fresh_page()
        log_in(second, live, "official2@example.kr", PASSWORD, SECRETS["official2"])
        second.goto(selection_url)
        second.locator("#approve-selection").click()
        assert second.locator("#selection-status").inner_text() == "Approved"
        with second.expect_download() as download_info:
            second.get_by_role("link", name="winners.csv").click()
        winners = Path(download_info.value.path()).read_text()
        assert "Flood warning from river sensors" in winners and "River AI" in winners
    except Exception:
        artifacts = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        for n, context in enumerate(contexts):
            for m, open_page in enumerate(context.pages):
                open_page.screenshot(
                    path=str(artifacts / f"challenge-journey-{n}-{m}.png"), full_page=True
                )
        raise
    finally:
        for context in contexts:
            context.close()
