"""An index on the resident register's ``claimed_by``: every PB cast looks up the voter's register entry.

One person, one vote across channels (issue #12) keys a person by their claimed register entry.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T05:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index portal_resident_hash.claimed_by"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def index_claimed_by():
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS portal_resident_hash_claimed_by ON portal_resident_hash (claimed_by)"
        )

    manager.add_raw(index_claimed_by)
    return manager
