"""The support (공감) phase of a PB cycle (issue #14): its closing date and its shortlist rule.

Written by hand (Piccolo's --auto re-adds earlier hand-written steps); additive only.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T10:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb cycle: support phase closing date, shortlist rule and cutoff"


def _params(**extra):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)
    columns = [
        ("support_close_at", Timestamptz, _params(default=None, null=True)),
        ("support_rule", Varchar, _params(length=10, default="")),
        ("support_cutoff", Integer, _params(default=None, null=True)),
    ]
    for name, column_class, params in columns:
        manager.add_column(
            table_class_name="Cycle",
            tablename="pb_cycle",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
