"""One support per person and proposal, one report per person and comment, and threads found by target.

A migration of its own because Piccolo runs raw steps before the tables of the same migration exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T10:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb supports and reports: unique per person; comments indexed by target"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS pb_proposal_support_once "
    "ON pb_proposal_support (proposal, supporter)",
    "CREATE UNIQUE INDEX IF NOT EXISTS pb_comment_report_once ON pb_comment_report (comment, reporter)",
    "CREATE INDEX IF NOT EXISTS pb_comment_target ON pb_comment (target_kind, target_id)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="proposals", description=DESCRIPTION)

    async def indexes():
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    manager.add_raw(indexes)
    return manager
