"""Backups (issue 10 item 6): ``hangang backup`` then ``hangang restore`` into an empty database.

A database with ballots (one replaced) in two pots and an uploaded deck is backed up while
the portal could keep serving, restored by the real command into a new database on the
same engine, and served by a real ``hangang serve``: the audit chain verifies, the counts
match, the results computed from the restored ballots equal the results computed from the
original ones, and the deck downloads byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from judging.services import attachments, entries, intake
from portal import backup
from portal.settings import get_settings
from portal.tables import User
from tests.helpers import DEFAULT_PASSWORD, PortalClient
from tests.integration.test_challenge_setup import PDF, entry_form, make_edition, valid_brn
from tests.live import LiveServer, fresh_database_url
from voting.services import lifecycle
from voting.testing import build_cycle

pytestmark = pytest.mark.slow
BALLOT = "/api/v1/pb/cycles/{c}/pots/{p}/ballot"


async def _cast(app, account, cycle_id: int, pot_id: int, project_ids: list[int]) -> None:
    async with PortalClient.for_app(app) as c:
        await c.login(account)
        sent = await c.send_json(
            "PUT", BALLOT.format(c=cycle_id, p=pot_id), {"project_ids": project_ids}
        )
        assert sent.status_code == 200, sent.text


def _comparable(results: dict) -> list:
    """Everything a reader of the results sees, except when they were computed."""
    return [
        (pot["pot"], [{k: v for k, v in run.items() if k != "computed_at"} for run in pot["results"]])
        for pot in results["pots"]
    ]


async def test_backup_and_restore_keep_ballots_files_and_results(app, client, users, tmp_path):
    official = await users.create(["official"])
    built = await build_cycle(official.id)
    city, district = built.city_pot, built.pots["11680"]
    p = built.projects
    voters = [await users.create(district="11680", verified=True) for _ in range(6)]
    for i, voter in enumerate(voters):
        await _cast(app, voter, built.id, city, [p[city][i % 5], p[city][(i + 2) % 5]])
        if i < 3:
            await _cast(app, voter, built.id, district, [p[district][i]])
    await _cast(app, voters[0], built.id, city, [p[city][4]])  # a replaced ballot
    await lifecycle.close_early(official.id, built.id, "Closing for the backup test")
    startup = await users.create(["startup", "citizen"])
    challenge = await make_edition(official.id)
    org = await intake.create_organization(startup.id, "Hangang Robotics", valid_brn(1), "startup", "2021")
    entry_id = await entries.create_entry(startup.id, org, challenge.edition_id, entry_form("Kept"))
    attachment_id = await attachments.add_attachment(startup.id, entry_id, "deck.pdf", PDF)

    dest = tmp_path / "hangang.backup"
    print(backup.backup_database(get_settings().database_url, dest))
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.backup_database(get_settings().database_url, dest)
    with pytest.raises(backup.BackupError, match="not empty"):
        await backup.restore_database(get_settings().database_url, dest)
    # Computed after the backup, so the restored database has only the ballots to go on.
    before = (await client.get(f"/api/v1/pb/cycles/{built.id}/results")).json()
    users_before = await User.count()

    target = fresh_database_url(tmp_path)
    env = {**os.environ, "HANGANG_DATABASE_URL": target, "HANGANG_VAR_DIR": str(tmp_path / "var")}
    restored = subprocess.run(
        [sys.executable, "-m", "portal.cli", "restore", str(dest)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    report = restored.stdout
    assert "audit verify: ok" in report
    for line in (
        f"users: {users_before}",
        "ballots: 9",
        f"ballots in pot {city}: 6",
        f"ballots in pot {district}: 3",
        "challenge entries: 1",
        "files: 1",
    ):
        assert f"\n{line}\n" in report, report

    with LiveServer(database_url=target) as host, httpx.Client(
        base_url=host.url, timeout=30, headers={"accept-language": "en"}
    ) as web:
        after = web.get(f"/api/v1/pb/cycles/{built.id}/results").json()
        web.get("/healthz")
        login = web.post(
            "/api/v1/auth/login",
            json={"email": startup.email, "password": DEFAULT_PASSWORD},
            headers={"x-csrftoken": web.cookies["csrftoken"]},
        )
        assert login.status_code == 200, login.text
        deck = web.get(f"/challenge/entries/{entry_id}/attachments/{attachment_id}")
    assert deck.status_code == 200 and deck.content == PDF
    assert _comparable(after) == _comparable(before)
    runs = sum(len(pot["results"]) for pot in before["pots"])
    print(
        f"\nround trip: {dest.stat().st_size} bytes; {users_before} users, 9 ballots in 2 pots, "
        f"1 file; {runs} result runs identical before and after"
    )
