"""One account per person: the database refuses a second account with the same person key.

A migration of its own because Piccolo runs raw steps before the columns of the same migration exist.
NULLs do not collide, so accounts that never verified are unaffected.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T05:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "portal_user: one account per person key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def one_account_per_person():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS portal_user_person_key_hash ON portal_user (person_key_hash)"
        )

    manager.add_raw(one_account_per_person)
    return manager
