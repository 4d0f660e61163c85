"""Keyed audit chain (chain_version per event) and the password-reset request queue.

Additive only (SQLite-safe): one new column with a default, one new table.
Existing audit events keep chain_version 1 (unkeyed SHA-256); ``hangang migrate`` then seals them
with a first keyed event (``portal.audit.seal_legacy_chain``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T00:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit chain_version; password reset request queue"


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
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)

    manager.add_column(
        table_class_name="AuditEvent",
        tablename="portal_audit_event",
        column_name="chain_version",
        db_column_name="chain_version",
        column_class_name="Integer",
        column_class=Integer,
        params=_params(default=1),
        schema=None,
    )

    manager.add_table(
        class_name="PasswordResetRequest",
        tablename="portal_password_reset_request",
        schema=None,
        columns=None,
    )
    manager.add_column(
        table_class_name="PasswordResetRequest",
        tablename="portal_password_reset_request",
        column_name="email",
        db_column_name="email",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=254, default=""),
        schema=None,
    )
    manager.add_column(
        table_class_name="PasswordResetRequest",
        tablename="portal_password_reset_request",
        column_name="requested_at",
        db_column_name="requested_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params=_params(default=TimestamptzNow()),
        schema=None,
    )

    return manager
