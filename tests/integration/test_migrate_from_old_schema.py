"""A database made before the rooms restructuring (issue #11) migrates to today's schema and keeps its rows.

The old database is built in a child process on a fresh database of this run's engine: each Piccolo app is
migrated only up to its last migration as of commit c8bfba9 (``OLD_SCHEMA``), and rows are written with
plain SQL in that schema's columns. Then the real ``hangang migrate`` runs forwards to head, and a third
process reads the rows back through today's table classes. Table names never change (docs/architecture.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import fresh_database_url

REPO = Path(__file__).resolve().parents[2]
# The last migration of every Piccolo app at c8bfba9, in the order ``hangang migrate`` runs the apps.
OLD_SCHEMA = {
    "portal": "2026-12-07T00:40:00:000000",
    "voting": "2026-12-07T01:00:01:000000",
    "proposals": "2026-11-28T20:54:07:792368",
    "judging": "2026-12-07T01:10:01:000000",
    "connector": "2026-11-28T20:55:06:000000",
}

# Runs in the child process: migrate up to OLD_SCHEMA, then write rows as the old code would have.
BUILD_OLD_DATABASE = """
import asyncio, datetime as dt, json, sys

from piccolo.apps.migrations.commands.forwards import run_forwards

from portal.db import prepare_sqlite, raw

OLD_SCHEMA = json.loads(sys.argv[1])
NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


async def insert(sql, *args):
    return (await raw(sql + ' RETURNING "id"', *args))[0]["id"]


async def main():
    await prepare_sqlite()
    for app, last in OLD_SCHEMA.items():
        result = await run_forwards(app, migration_id=last)
        if not result.success:
            raise SystemExit(f"{app}: {result.message}")
    user = await insert(
        'INSERT INTO "portal_user" ("email", "display_name", "password_hash", "language", "roles",'
        ' "district_code", "residency_verified", "created_at") VALUES ({}, {}, {}, {}, {}, {}, {}, {})',
        "old@example.kr", "김옛날", "argon2-hash-of-the-old-days", "ko", "citizen,startup", "11680", True, NOW,
    )
    cycle = await insert(
        'INSERT INTO "pb_cycle" ("name", "fiscal_year", "total_budget", "proposals_open_at",'
        ' "proposals_close_at", "voting_open_at", "voting_close_at", "publish_at")'
        ' VALUES ({}, {}, {}, {}, {}, {}, {}, {})',
        "Seoul PB 2026", 2026, 60_000_000_000, NOW, NOW + dt.timedelta(days=30),
        NOW + dt.timedelta(days=60), NOW + dt.timedelta(days=90), NOW + dt.timedelta(days=100),
    )
    pot = await insert(
        'INSERT INTO "pb_pot" ("cycle", "district_code", "amount") VALUES ({}, {}, {})',
        cycle, "11680", 1_500_000_000,
    )
    await insert(
        'INSERT INTO "pb_proposal" ("cycle", "pot", "author", "title", "summary", "category",'
        ' "estimated_cost", "created_at", "updated_at") VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})',
        cycle, pot, user, "양재천 산책로 조명", "Lights on the Yangjaecheon path", "safety",
        120_000_000, NOW, NOW,
    )
    edition = await insert(
        'INSERT INTO "challenge_edition" ("name", "intake_opens_at", "intake_closes_at", "created_by",'
        ' "created_at") VALUES ({}, {}, {}, {}, {})',
        "AI 50 Challenge 2026", NOW, NOW + dt.timedelta(days=45), user, NOW,
    )
    organization = await insert(
        'INSERT INTO "challenge_organization" ("name", "registration_number", "size", "founding_year",'
        ' "created_by", "created_at") VALUES ({}, {}, {}, {}, {}, {})',
        "Hangang Robotics", "1208147521", "startup", 2021, user, NOW,
    )
    await insert(
        'INSERT INTO "challenge_entry" ("edition", "organization", "created_by", "title", "category",'
        ' "sector", "status", "created_at", "updated_at", "submitted_at")'
        ' VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})',
        edition, organization, user, "Flood sensors on the Hangang", "disaster-response", "public",
        "submitted", NOW, NOW, NOW,
    )


asyncio.run(main())
"""

# Runs in the child process after ``hangang migrate``: read the rows through today's table classes.
READ_THROUGH_TODAYS_TABLES = """
import asyncio, json

from judging.tables import Edition, Entry, Organization
from portal.tables import User
from proposals.tables import Proposal
from voting.tables import Cycle, Pot


async def main():
    user = await User.select(User.id, User.display_name, User.roles).where(User.email == "old@example.kr").first()
    cycle = await Cycle.select(Cycle.id, Cycle.name, Cycle.total_budget).first()
    pot = await Pot.select(Pot.amount, Pot.district_code).where(Pot.cycle == cycle["id"]).first()
    proposal = await Proposal.select(Proposal.title, Proposal.status, Proposal.author).first()
    edition = await Edition.select(Edition.id, Edition.name).first()
    entry = await Entry.select(Entry.title, Entry.status, Entry.organization.name).where(
        Entry.edition == edition["id"]
    ).first()
    print(json.dumps({"user": user, "cycle": cycle, "pot": pot, "proposal": proposal, "edition": edition,
                      "entry": entry}, default=str))


asyncio.run(main())
"""


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_database_from_before_the_rooms_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HANGANG_DATABASE_URL": fresh_database_url(tmp_path),
        "HANGANG_VAR_DIR": str(tmp_path / "var"),
    }
    _run(env, "-c", BUILD_OLD_DATABASE, json.dumps(OLD_SCHEMA))
    _run(env, "-m", "portal.cli", "migrate")
    rows = json.loads(_run(env, "-c", READ_THROUGH_TODAYS_TABLES).strip().splitlines()[-1])

    assert rows["user"]["display_name"] == "김옛날"
    assert rows["user"]["roles"] == "citizen,startup"
    assert rows["cycle"] == {"id": rows["cycle"]["id"], "name": "Seoul PB 2026", "total_budget": 60_000_000_000}
    assert rows["pot"] == {"amount": 1_500_000_000, "district_code": "11680"}
    assert rows["proposal"]["title"] == "양재천 산책로 조명"
    assert rows["proposal"]["status"] == "submitted"
    assert rows["proposal"]["author"] == rows["user"]["id"]
    assert rows["edition"]["name"] == "AI 50 Challenge 2026"
    assert rows["entry"]["title"] == "Flood sensors on the Hangang"
    assert rows["entry"]["status"] == "submitted"
    assert rows["entry"]["organization.name"] == "Hangang Robotics"
