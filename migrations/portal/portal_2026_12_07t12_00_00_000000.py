"""Audit events waiting for the sealer (``chain_version = 3``) found without scanning the whole chain.

A partial index: it holds only the few rows recorded in the last second or so, and every worker's
sealer asks for them every second (portal/audit.py, ``seal_pending``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index of unlinked audit events waiting for the sealer"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def unlinked_index():
        await engine_finder().run_ddl(
            "CREATE INDEX IF NOT EXISTS portal_audit_event_unlinked ON portal_audit_event (id) WHERE chain_version = 3"
        )

    manager.add_raw(unlinked_index)
    return manager
