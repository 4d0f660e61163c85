"""One person, one vote across channels: the database refuses a second participation in a cycle.

A migration of its own because Piccolo runs raw steps before the tables of the same migration exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T04:32:35:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb participation: one row per person and cycle"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)

    async def one_participation_per_person():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS pb_participation_cycle_person "
            "ON pb_participation (cycle, person_key)"
        )

    manager.add_raw(one_participation_per_person)
    return manager
