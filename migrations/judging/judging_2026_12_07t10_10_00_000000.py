"""Judges' invitations, bids and discussion; an edition's calibration minimum; organization revocation.

Additive only (SQLite cannot ALTER COLUMN). The unique index on bids is in the next migration (raw
SQL runs before a migration's tables exist).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-07T10:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "judge invitations, bids, review discussion, calibration minimum, organization revocation"


def _stub(name: str, tablename: str) -> type[Table]:
    return type(name, (Table,), {"id": Serial(null=False, primary_key=True)}, tablename=tablename)


User = _stub("User", "portal_user")
Round = _stub("Round", "challenge_round")
Entry = _stub("Entry", "challenge_entry")


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


def _fk(references: type[Table], **extra):
    return _params(
        references=references,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        **extra,
    )


COLUMNS = {
    ("Edition", "challenge_edition"): (("calibration_min_reviews", Integer, _params(default=3)),),
    ("Organization", "challenge_organization"): (
        ("revoked_at", Timestamptz, _params(default=None, null=True)),
        ("revoked_reason", Text, _params(default="")),
    ),
}
TABLES = {
    ("JudgeInvitation", "challenge_judge_invitation"): (
        ("email", Varchar, _params(length=254, default="", index=True)),
        ("name", Varchar, _params(length=80, default="")),
        ("expertise", JSON, _params(default="[]")),
        ("organizations", JSON, _params(default="[]")),
        ("token_hash", Varchar, _params(length=64, default="", unique=True)),
        ("invited_by", ForeignKey, _fk(User)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("accepted_at", Timestamptz, _params(default=None, null=True)),
        ("accepted_by", ForeignKey, _fk(User, null=True, default=None)),
    ),
    ("Bid", "challenge_bid"): (
        ("round", ForeignKey, _fk(Round, index=True)),
        ("entry", ForeignKey, _fk(Entry, index=True)),
        ("judge", ForeignKey, _fk(User, index=True)),
        ("level", Varchar, _params(length=15, default="")),
        ("updated_at", Timestamptz, _params(default=TimestamptzNow())),
    ),
    ("ReviewComment", "challenge_review_comment"): (
        ("round", ForeignKey, _fk(Round, index=True)),
        ("entry", ForeignKey, _fk(Entry, index=True)),
        ("judge", ForeignKey, _fk(User)),
        ("body", Text, _params(default="")),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
    for (class_name, tablename), columns in {**COLUMNS, **TABLES}.items():
        for column, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=column,
                db_column_name=column,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
