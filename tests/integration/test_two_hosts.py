"""Two app hosts on one PostgreSQL (issue 10 item 5): files and sessions are the database's, not a host's.

Two real ``hangang serve`` processes, each with its own var folder (as two machines would
have), share the suite's PostgreSQL database. A file uploaded through one is downloaded
through the other, and a session made on one is used on the other.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os

import httpx
import pytest

from judging.services import entries, intake
from judging.tables import Attachment
from tests.helpers import DEFAULT_PASSWORD
from tests.integration.test_challenge_setup import PDF, PNG, entry_form, make_edition, valid_brn
from tests.live import LiveServer

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


async def _signed_in(base_url: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, timeout=30, headers={"accept-language": "en"})
    await client.get("/healthz")
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": DEFAULT_PASSWORD},
        headers={"x-csrftoken": client.cookies["csrftoken"]},
    )
    assert login.status_code == 200, login.text
    return client


async def _upload(client: httpx.AsyncClient, entry_id: int, name: str, content: bytes) -> int:
    sent = await client.post(
        f"/challenge/entries/{entry_id}/attachments",
        data={"_csrf_token": client.cookies["csrftoken"]},
        files={"file": (name, content, "application/octet-stream")},
    )
    assert sent.status_code == 303, sent.text
    return (
        await Attachment.select(Attachment.id)
        .where(Attachment.entry == entry_id)
        .order_by(Attachment.id, ascending=False)
        .first()
    )["id"]


async def test_a_file_and_a_session_made_on_one_host_work_on_the_other(users):
    official = await users.create(["official"])
    startup = await users.create(["startup", "citizen"])
    challenge = await make_edition(official.id)
    org = await intake.create_organization(startup.id, "Hangang Robotics", valid_brn(1), "startup", "2021")
    entry_id = await entries.create_entry(startup.id, org, challenge.edition_id, entry_form("Two hosts"))

    database = os.environ["HANGANG_DATABASE_URL"]
    host_a, host_b = LiveServer(database_url=database), LiveServer(database_url=database)
    with contextlib.ExitStack() as hosts:
        hosts.callback(host_a.cleanup)
        hosts.callback(host_b.cleanup)
        # Started side by side (the schema is migrated already, so neither migrates).
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(LiveServer.start, (host_a, host_b)))
        assert host_a.work_dir != host_b.work_dir  # separate var folders, as on two machines
        on_a = await _signed_in(host_a.url, startup.email)
        # The same browser (its session and CSRF cookies) now reaches host B.
        on_b = httpx.AsyncClient(base_url=host_b.url, timeout=30, cookies=on_a.cookies)
        try:
            page = await on_b.get(f"/challenge/entries/{entry_id}")
            assert page.status_code == 200 and "Two hosts" in page.text

            deck = await _upload(on_a, entry_id, "deck.pdf", PDF)
            download = await on_b.get(f"/challenge/entries/{entry_id}/attachments/{deck}")
            assert download.status_code == 200 and download.content == PDF
            assert download.headers["content-type"].startswith("application/pdf")

            photo = await _upload(on_b, entry_id, "photo.png", PNG)  # a POST on B, CSRF from A
            back = await on_a.get(f"/challenge/entries/{entry_id}/attachments/{photo}")
            assert back.status_code == 200 and back.content == PNG

            assert (await on_b.post(
                "/logout", data={"_csrf_token": on_a.cookies["csrftoken"]}
            )).status_code in (302, 303)
            # Signed out on B means signed out on A too: the session lived in the database.
            after = await on_a.get(f"/challenge/entries/{entry_id}")
            assert after.status_code in (302, 303, 401)
        finally:
            await on_a.aclose()
            await on_b.aclose()
        for host in (host_a, host_b):
            assert not (host.work_dir / "var" / "uploads").exists()
    print(
        f"\ntwo hosts: 2 files ({len(PDF)} + {len(PNG)} bytes) uploaded on one host, "
        "read byte-identical on the other; one session used on both, logout on B ended it on A"
    )
