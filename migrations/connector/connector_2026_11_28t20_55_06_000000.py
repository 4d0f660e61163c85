"""One outbox row per batch revision (raw SQL runs before table creation, so this comes second)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-28T20:55:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "connector outbox unique revision index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="connector", description=DESCRIPTION)

    async def one_row_per_revision():
        # A raw index works on SQLite and PostgreSQL alike; it stops a revision being enqueued twice.
        from portal.db import raw

        await raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS connector_outbox_batch_revision"
            " ON connector_outbox_batch (kind, batch_id, revision)"
        )

    manager.add_raw(one_row_per_revision)
    return manager
