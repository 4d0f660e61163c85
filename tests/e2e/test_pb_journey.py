"""Item 11: a citizen proposes, an official finds it feasible, a verified citizen fills a knapsack
ballot and gets a receipt; after close the results page shows the winners and the receipt."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, run_setup
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "lanterns drifting along the han river"


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


def move_to(live: LiveServer, cycle_id: int, phase: str) -> None:
    """Time passes: shift the cycle's dates so that it is in ``phase`` now."""
    run_setup(
        live,
        "from voting.tables import Cycle\nfrom voting.testing import schedule_for\n"
        "async def main():\n"
        f"    dates = {{getattr(Cycle, k): v for k, v in schedule_for('{phase}').items()}}\n"
        f"    await Cycle.update(dates).where(Cycle.id == {cycle_id})\n"
        "asyncio.run(main())\nprint('{}')",
    )


def test_propose_review_vote_close_and_find_the_receipt(page, page2, live):
    secret = pyotp.random_base32()
    setup = run_setup(
        live,
        "from portal import accounts\nfrom voting.compute.rules import BallotRules\nfrom voting.testing import build_cycle\n"
        "async def main():\n"
        f"    await accounts.create_user('mina@example.kr', '{PASSWORD}', ['citizen'], district_code='11680', verified=True, language='en', check_password=False)\n"
        f"    official = await accounts.create_user('clerk@example.kr', '{PASSWORD}', ['official'], totp_secret='{secret}', language='en', check_password=False)\n"
        "    built = await build_cycle(official, phase='proposals', rules=BallotRules(ballot_kind='knapsack'))\n"
        "    return {'cycle': built.id, 'pot': built.pots['11680'], 'projects': built.projects[built.pots['11680']]}\n"
        "print(json.dumps(asyncio.run(main())))",
    )
    cycle, pot = setup["cycle"], setup["pot"]

    # 1. A citizen proposes a project for Gangnam-gu.
    log_in(page, live, "mina@example.kr", PASSWORD)
    page.goto(f"{live.url}/pb/cycles/{cycle}/proposals/new")
    page.get_by_label("Pot").select_option(str(pot))
    page.get_by_label("Title").fill("Rain gardens on Teheran-ro")
    page.get_by_label("Summary (one or two sentences)").fill(
        "Planted basins that soak up heavy rain before it floods the street."
    )
    page.get_by_label("Category").select_option("climate")
    page.get_by_label("Estimated cost (KRW)").fill("800000000")
    page.get_by_role("button", name="Submit the proposal").click()
    page.wait_for_url(re.compile(r"/pb/proposals/\d+$"))
    proposal = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#proposal-status").inner_text() == "submitted"

    # 2. Review opens; an official finds it feasible.
    move_to(live, cycle, "review")
    log_in(page2, live, "clerk@example.kr", PASSWORD, secret)
    page2.goto(f"{live.url}/officials/pb/cycles/{cycle}/proposals")
    card = page2.locator(f"#p-{proposal}")
    card.get_by_label("Feasible", exact=True).check()
    card.get_by_label("Reason").first.fill("Checked with the drainage office; cost confirmed.")
    card.get_by_role("button", name="Save the review").click()
    page2.wait_for_load_state()
    assert "feasible" in page2.locator(f"#p-{proposal} .badge").inner_text()

    # 3. Voting opens; the citizen fills a knapsack ballot and gets a receipt.
    move_to(live, cycle, "voting")
    page.goto(f"{live.url}/pb/cycles/{cycle}/pots/{pot}/ballot")
    page.locator(f"#p-{proposal}").check()
    page.locator(f"#p-{setup['projects'][3]}").check()  # the 1 billion won project
    assert "Selected: 1,800,000,000 KRW" in page.locator("#running-total").inner_text()
    page.get_by_role("button", name="Cast my ballot").click()
    page.wait_for_url(re.compile(r"/receipt\?stored=1$"))  # no flash in the session: the URL says it
    receipt = page.locator("#receipt-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", receipt)

    # 4. The official closes voting early, with a reason.
    page2.goto(f"{live.url}/officials/pb/cycles/{cycle}")
    page2.on("dialog", lambda dialog: dialog.accept())
    page2.get_by_label("Reason (recorded in the audit log)").fill(
        "The council closed the vote as announced."
    )
    page2.get_by_role("button", name="Close voting now").click()
    page2.wait_for_load_state()
    expect(page2.get_by_role("link", name="Open the results")).to_be_visible()

    # 5. The results show the winners, and the receipt is in the published list.
    page.goto(f"{live.url}/pb/cycles/{cycle}/results/pots/{pot}")
    assert "Rain gardens on Teheran-ro" in page.locator("table.winners").inner_text()
    assert page.locator("svg.chart rect").count() >= 2
    page.get_by_role("link", name="Check your receipt in the list of counted ballots").click()
    page.get_by_label("Your receipt").fill(receipt)
    page.get_by_role("button", name="Check").click()
    assert receipt in page.locator("#receipt-found").inner_text()
