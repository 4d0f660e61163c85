"""One feedback figures row per stage and entry: a unique index (SQLite rejects ADD CONSTRAINT)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T12:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "feedback figures: one per stage and entry"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_feedback_figures_one_per_entry "
    "ON challenge_feedback_figures (round, entry)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)

    async def create_index():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(create_index)
    return manager
