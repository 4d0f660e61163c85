"""A cycle's stored lifecycle state (proposals -> review -> voting -> closed -> approved).

Additive only (SQLite cannot ALTER COLUMN). The backfill of existing rows is the next migration
(raw statements run before a migration's columns are added).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb cycle lifecycle state"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)
    common = {
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    manager.add_column(
        table_class_name="Cycle",
        tablename="pb_cycle",
        column_name="state",
        db_column_name="state",
        column_class_name="Varchar",
        column_class=Varchar,
        params={"length": 20, "default": "proposals", "null": False, **common},
        schema=None,
    )
    manager.add_column(
        table_class_name="Cycle",
        tablename="pb_cycle",
        column_name="state_changed_at",
        db_column_name="state_changed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={"default": None, "null": True, **common},
        schema=None,
    )
    return manager
