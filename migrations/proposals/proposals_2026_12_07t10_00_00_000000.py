"""Citizens around proposals (issue #14): supports, the support phase's shortlist, comments and reports.

Written by hand (Piccolo's --auto re-adds earlier hand-written steps); additive only. The unique and
lookup indexes are raw SQL in the next migration (Piccolo runs raw steps before the tables exist).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb proposal supports, shortlist, comments and comment reports"


class Cycle(Table, tablename="pb_cycle", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Pot(Table, tablename="pb_pot", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class User(Table, tablename="portal_user", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Proposal(Table, tablename="pb_proposal", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Comment(Table, tablename="pb_comment", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


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


def _fk(references, index=False, null=True, unique=False):
    return ForeignKey, _params(
        references=references,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        null=null,
        index=index,
        unique=unique,
    )


WHEN = (Timestamptz, _params(default=None, null=True))

TABLES = {
    ("ProposalSupport", "pb_proposal_support"): {
        "proposal": _fk(Proposal, index=True),
        "supporter": _fk(User, index=True),
        "created_at": WHEN,
    },
    ("ShortlistEntry", "pb_shortlist"): {
        "proposal": _fk(Proposal, unique=True),
        "cycle": _fk(Cycle, index=True),
        "pot": _fk(Pot),
        "supports": (Integer, _params(default=0)),
        "shortlisted": (Boolean, _params(default=False)),
        "decided_at": WHEN,
    },
    ("Comment", "pb_comment"): {
        "target_kind": (Varchar, _params(length=20, default="")),
        "target_id": (Integer, _params(default=0)),
        "parent": (Integer, _params(default=None, null=True)),
        "author": _fk(User, index=True),
        "body": (Text, _params(default="")),
        "status": (Varchar, _params(length=10, default="visible")),
        "hidden_reason": (Text, _params(default="")),
        "moderated_by": _fk(User),
        "moderated_at": WHEN,
        "created_at": (Timestamptz, _params(default=None, null=True, index=True)),
    },
    ("CommentReport", "pb_comment_report"): {
        "comment": _fk(Comment, index=True),
        "reporter": _fk(User),
        "reason": (Varchar, _params(length=300, default="")),
        "created_at": WHEN,
        "resolved_at": WHEN,
    },
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="proposals", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, (column_class, params) in columns.items():
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
