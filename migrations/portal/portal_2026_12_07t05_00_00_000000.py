"""Phone identity verification: verified name, birth date, phone and the person key's HMAC on each account.

Additive only (SQLite-safe): nullable columns; the unique index on the person key comes in the next
migration, because Piccolo runs raw steps before the columns of the same migration exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "portal_user: phone identity verification columns"


def _params(**extra):
    return {
        "default": None,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


COLUMNS = (
    ("verified_name", Varchar, _params(length=80)),
    ("birth_date", Date, _params()),
    ("phone_number", Varchar, _params(length=20)),
    ("person_key_hash", Varchar, _params(length=64)),
    ("identity_verified_at", Timestamptz, _params()),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="User",
            tablename="portal_user",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
