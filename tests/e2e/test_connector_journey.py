"""The connector as an official meets it: a batch reaches the city once, validates, exports and
verifies; a refusal shows its reason and a retry delivers it. Real server, real city-sim, Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from portal.connector import exports, signing
from portal.connector.testing import RunningCity, running_city
from tests.e2e.conftest import log_in, run_setup
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "lanterns drifting along the han river"
SECRET = pyotp.random_base32()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCity]:
    with running_city(Path(tmp_path_factory.mktemp("city")) / "city.sqlite3") as running:
        yield running


@pytest.fixture(scope="module")
def live(city: RunningCity) -> Iterator[LiveServer]:
    env = {"HANGANG_CITY_BUDGET_URL": city.url, "HANGANG_CITY_BUDGET_SECRET": city.secret}
    with LiveServer(env=env) as server:
        yield server


def enqueue(live: LiveServer, kind: str, batch_id: str) -> int:
    sample = "sample_allocation" if kind == "allocation" else "sample_award"
    return run_setup(
        live,
        "from portal.db import write_transaction\nfrom portal.connector.services import enqueue_batch\n"
        f"from portal.connector.testing import {sample}\n"
        "async def main():\n"
        "    async with write_transaction():\n"
        f"        return await enqueue_batch('{kind}', {sample}('{batch_id}', revision=None), title='{batch_id} title')\n"
        "print(json.dumps({'id': asyncio.run(main())}))",
    )["id"]


def wait_for(predicate, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def page_says(page, text: str) -> bool:
    """Reload the page and look for a text (the delivery loop works in the background)."""
    page.reload()
    return text in page.content()


def test_official_follows_delivery_validates_exports_and_retries(
    page, live: LiveServer, city: RunningCity, tmp_path: Path
) -> None:
    run_setup(
        live,
        "from portal import accounts\n"
        "async def main():\n"
        f"    return await accounts.create_user('treasurer@example.kr', '{PASSWORD}', ['official'], totp_secret='{SECRET}', language='en', check_password=False)\n"
        "print(json.dumps({'id': asyncio.run(main())}))",
    )
    enqueue(live, "allocation", "journey-pb")
    # The server's own delivery loop takes it to the city.
    wait_for(lambda: len(city.accepted("journey-pb")) == 1, "the PB batch to reach the city")

    log_in(page, live, "treasurer@example.kr", PASSWORD, SECRET)
    page.goto(f"{live.url}/officials/connector/")
    row = page.get_by_role("row", name=re.compile("journey-pb title"))
    assert "Delivered" in row.inner_text()
    row.get_by_role("link", name="journey-pb title").click()
    assert city.accepted("journey-pb")[0]["receipt_id"] in page.content()

    page.get_by_role("button", name="Validate with the city system").click()
    expect(page.get_by_text("The city system validated this batch.").first).to_be_visible()
    assert len(city.accepted("journey-pb")) == 1  # the dry run stored nothing

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed file export").click()
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert (
        exports.verify_bundle(bundle, signing.parse_secrets(city.secret))["batch_id"]
        == "journey-pb"
    )

    # The city answers the next push with a redirect: never followed, the batch fails with the reason.
    city.faults(redirect_next=1)
    award = enqueue(live, "award", "journey-ai50")
    page.goto(f"{live.url}/officials/connector/batches/{award}")
    wait_for(lambda: page_says(page, "redirects are not followed"), "the refusal to show")
    assert "Failed" in page.locator(".facts").inner_text()
    page.get_by_role("button", name="Retry delivery").click()
    wait_for(
        lambda: len(city.accepted("journey-ai50")) == 1, "the retried award batch to reach the city"
    )
    wait_for(
        lambda: page_says(page, city.accepted("journey-ai50")[0]["receipt_id"]),
        "the receipt to show",
    )
