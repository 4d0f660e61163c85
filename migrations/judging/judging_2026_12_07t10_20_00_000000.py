"""Citizens in a challenge stage (issue #13): stage settings and blend weights, the drawn panel and its
scores, the public vote and its keyed client signals.

Written by hand (Piccolo's --auto re-adds tables of earlier hand-written migrations).
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
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-07T10:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "challenge citizens: stage settings, panel members and scores, public votes and signals"


class Round(Table, tablename="challenge_round", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Entry(Table, tablename="challenge_entry", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class User(Table, tablename="portal_user", schema=None):
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


TIME = (Timestamptz, _params(default=None, null=True))
KEY = (Varchar, _params(length=32, default=""))

TABLES = {
    ("CitizenStage", "challenge_citizen_stage"): {
        "round": _fk(Round, index=True, unique=True),
        "mode": (Varchar, _params(length=20, default="none")),
        "panel_size": (Integer, _params(default=0)),
        "seed": (Integer, _params(default=0)),
        "rubric": (JSON, _params(default="[]")),
        "weight_expert": (Integer, _params(default=100)),
        "weight_panel": (Integer, _params(default=0)),
        "weight_public": (Integer, _params(default=0)),
        "updated_by": _fk(User),
        "updated_at": TIME,
        "drawn_at": TIME,
        "eligible_csv": (Text, _params(default="")),
        "eligible_sha256": (Varchar, _params(length=64, default="")),
        "report_sha256": (Varchar, _params(length=64, default="")),
        "report_acknowledged_by": _fk(User),
        "report_acknowledged_at": TIME,
    },
    ("PanelMember", "challenge_panel_member"): {
        "round": _fk(Round, index=True),
        "user": _fk(User, index=True),
        "seat_key": (Varchar, _params(length=40, default="", unique=True)),
        "position": (Integer, _params(default=0)),
        "resident_key": KEY,
        "district_code": (Varchar, _params(length=5, default="")),
        "age_band": (Varchar, _params(length=10, default="")),
        "entries": (JSON, _params(default="[]")),
        "drawn_at": TIME,
    },
    ("PanelScore", "challenge_panel_score"): {
        "round": _fk(Round, index=True),
        "entry": _fk(Entry, index=True),
        "panelist": _fk(User, index=True),
        "score_key": (Varchar, _params(length=60, default="", unique=True)),
        "scores": (JSON, _params(default="{}")),
        "total_centi": (Integer, _params(default=0)),
        "created_at": TIME,
        "updated_at": TIME,
    },
    ("PublicVote", "challenge_public_vote"): {
        "round": _fk(Round, index=True),
        "entry": _fk(Entry, index=True),
        "voter_key": (Varchar, _params(length=64, default="", unique=True)),
    },
    ("PublicVoteSignal", "challenge_public_vote_signal"): {
        "round": _fk(Round, index=True),
        "address_key": (Varchar, _params(length=32, default="", index=True)),
        "device_key": KEY,
        "minute": TIME,
        "events": (Integer, _params(default=1)),
    },
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)
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
