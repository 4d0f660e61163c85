"""Follow and notify: the unique indexes that make every announcement once per event and reader.

A migration of its own because Piccolo runs raw steps before the columns of the previous one exist.
NULL event keys (direct notices) never collide.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T10:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique follows, notifications and outbox mails per event and reader"

INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_follow_once ON portal_follow (\"user\", target_kind, target_id)",
    "CREATE INDEX IF NOT EXISTS portal_follow_target ON portal_follow (target_kind, target_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_notification_once ON portal_notification (event_key, \"user\")",
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_mail_outbox_once ON portal_mail_outbox (event_key, \"user\")",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    async def unique_indexes():
        for statement in INDEXES:
            await engine_finder().run_ddl(statement)

    manager.add_raw(unique_indexes)
    return manager
