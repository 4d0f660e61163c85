"""Explicit states: an edition's decided state and a selection's snapshot of its score sheet.

Additive only (SQLite cannot ALTER COLUMN). Editions that already have an approved selection are
marked decided by the next migration (raw statements run before a migration's columns exist).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "edition state, selection sheet snapshot and stale reason"

COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}
COLUMNS = (
    ("Edition", "challenge_edition", "state", Varchar, {"length": 12, "default": "open", "null": False}),
    ("Edition", "challenge_edition", "decided_at", Timestamptz, {"default": None, "null": True}),
    ("Selection", "challenge_selection", "sheet_csv", Text, {"default": "", "null": False}),
    ("Selection", "challenge_selection", "stale_reason", Varchar, {"length": 20, "default": "", "null": False}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)
    for class_name, tablename, column, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name=column,
            db_column_name=column,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**params, **COMMON},
            schema=None,
        )
    return manager
