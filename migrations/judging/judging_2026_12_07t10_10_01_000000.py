"""One bid per judge, entry and round: a unique index (SQLite rejects ADD CONSTRAINT)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T10:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "bids: one per judge, entry and round"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_bid_one_per_pair "
    "ON challenge_bid (round, entry, judge)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)

    async def create_index():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(create_index)
    return manager
