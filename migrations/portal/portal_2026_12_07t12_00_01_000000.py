"""The account a session belongs to, beside its data: one statement reads both on every request.

Additive only (SQLite-safe): one nullable column. Sessions written before it have NULL and are read the
old way (two statements) until their next write.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T12:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "portal_session.uid"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    manager.add_column(
        table_class_name="SessionRecord",
        tablename="portal_session",
        column_name="uid",
        db_column_name="uid",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
