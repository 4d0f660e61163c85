"""Secret ballots a database reader cannot link to voters (issue 10, deliverable 1).

* ``pb_ballot.id`` becomes a random 63-bit number (PostgreSQL: BIGINT, its sequence dropped;
  SQLite's INTEGER PRIMARY KEY is 64-bit already). The application supplies the ids.
* ``pb_voter_record`` is rebuilt from one row per voter (``user``) into aggregate turnout counts
  ``(cycle, pot, district_code, voters)``; the counts are taken from the old rows, so turnout
  stays what it was.
* ``pb_ballot_mix`` remembers what each pot looked like when the mixer last rewrote it.
* Every existing ballot is rewritten once in shuffled order with a new random id and its
  ``cast_at`` cut to the start of its Seoul day (content, receipt, version and voter key kept,
  so every existing ballot keeps counting and can still be replaced).

Hand-written raw SQL that runs on both engines (SQLite has no ALTER COLUMN; the voter record
table is rebuilt with CREATE / INSERT ... SELECT / DROP / RENAME). Piccolo's auto-migration
snapshot does not see these changes; write later migrations by hand too.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import zoneinfo

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

ID = "2026-12-07T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "random ballot ids, day-only ballot times, turnout counts instead of voter rows, mix state"

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")


def _day(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seoul = moment.astimezone(SEOUL)
    return dt.datetime(seoul.year, seoul.month, seoul.day, tzinfo=SEOUL).astimezone(dt.UTC)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)

    async def secret_ballots():
        engine = engine_finder()
        postgres = isinstance(engine, PostgresEngine)
        serial = "SERIAL" if postgres else "INTEGER"

        async def run(sql: str, *args: object) -> list[dict]:
            return await engine.run_querystring(QueryString(sql, *args)) or []

        if postgres:
            await run("ALTER TABLE pb_ballot ALTER COLUMN id DROP DEFAULT")
            await run("ALTER TABLE pb_ballot ALTER COLUMN id TYPE BIGINT")
            await run("DROP SEQUENCE IF EXISTS pb_ballot_id_seq")

        await run(
            f"CREATE TABLE pb_voter_record_new (id {serial} PRIMARY KEY NOT NULL, "
            'cycle INTEGER REFERENCES "pb_cycle" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
            'pot INTEGER REFERENCES "pb_pot" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
            "district_code VARCHAR(5) NOT NULL DEFAULT '', voters INTEGER NOT NULL DEFAULT 0)"
        )
        await run(
            "INSERT INTO pb_voter_record_new (cycle, pot, district_code, voters) "
            "SELECT cycle, pot, district_code, COUNT(*) FROM pb_voter_record "
            "GROUP BY cycle, pot, district_code ORDER BY pot, district_code"
        )
        await run("DROP TABLE pb_voter_record")
        await run("ALTER TABLE pb_voter_record_new RENAME TO pb_voter_record")
        await run("CREATE INDEX pb_voter_record_cycle ON pb_voter_record (cycle)")
        await run(
            "CREATE UNIQUE INDEX pb_voter_record_pot_district ON pb_voter_record (pot, district_code)"
        )

        await run(
            f"CREATE TABLE pb_ballot_mix (id {serial} PRIMARY KEY NOT NULL, "
            'pot INTEGER UNIQUE REFERENCES "pb_pot" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
            "ballots INTEGER NOT NULL DEFAULT 0, versions BIGINT NOT NULL DEFAULT 0)"
        )

        # Mix what is already there: shuffled order, new random ids, day-only times.
        rows = await run(
            "SELECT pot, voter_key, receipt, content, version, cast_at FROM pb_ballot"
        )
        if rows:
            random.SystemRandom().shuffle(rows)
            await run("DELETE FROM pb_ballot")
            for start in range(0, len(rows), 200):
                chunk = rows[start : start + 200]
                values = ", ".join("({}, {}, {}, {}, {}, {}, {})" for _ in chunk)
                args: list[object] = []
                for row in chunk:
                    cast_at = row["cast_at"]
                    if isinstance(cast_at, str):
                        cast_at = dt.datetime.fromisoformat(cast_at)
                    args += [
                        secrets.randbits(63) or 1,
                        row["pot"],
                        row["voter_key"],
                        row["receipt"],
                        row["content"],
                        row["version"],
                        _day(cast_at),
                    ]
                await run(
                    "INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, version, cast_at) "
                    f"VALUES {values}",
                    *args,
                )

    manager.add_raw(secret_ballots)
    return manager
