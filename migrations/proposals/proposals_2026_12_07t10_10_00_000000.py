"""Proposals: a neighbourhood (dong) from the district's list, image alt text and a server-made thumbnail.

Written by hand; only adds columns, so older rows keep working (empty dong and alt text, no thumbnail).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T10:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PB proposals: dong, image alt text, thumbnail"


def _params(**extra):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(extra)
    return params


COLUMNS = {
    "dong": (Varchar, _params(length=60, default="")),
    "image_alt": (Varchar, _params(length=300, default="")),
    "thumb_name": (Varchar, _params(length=64, default=None, null=True)),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="proposals", description=DESCRIPTION)
    for name, (column_class, params) in COLUMNS.items():
        manager.add_column(
            table_class_name="Proposal",
            tablename="pb_proposal",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
