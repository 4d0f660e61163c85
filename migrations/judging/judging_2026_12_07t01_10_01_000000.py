"""Editions whose winners two officials already approved start in the decided state."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T01:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "edition state: backfill"

BACKFILL = (
    "UPDATE challenge_edition SET state = 'decided', decided_at = "
    "(SELECT MAX(approved_at) FROM challenge_selection s WHERE s.edition = challenge_edition.id "
    "AND s.status = 'approved') "
    "WHERE id IN (SELECT edition FROM challenge_selection WHERE status = 'approved')",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)

    async def backfill():
        engine = engine_finder()
        for sql in BACKFILL:
            await engine.run_ddl(sql)

    manager.add_raw(backfill)
    return manager
