"""Existing cycles start from what their rows already record.

Frozen rules mean voting was entered, two approvals mean approved; the housekeeping step moves
every cycle on along its schedule from there (each step audited).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T01:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb cycle lifecycle state: backfill"

BACKFILL = (
    "UPDATE pb_cycle SET state = 'voting' WHERE rules_frozen_at IS NOT NULL",
    "UPDATE pb_cycle SET state = 'approved' WHERE id IN "
    "(SELECT cycle FROM pb_result_approval GROUP BY cycle HAVING COUNT(DISTINCT official) >= 2)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)

    async def backfill():
        engine = engine_finder()
        for sql in BACKFILL:
            await engine.run_ddl(sql)

    manager.add_raw(backfill)
    return manager
