"""Participation statistics (issue #12): each participation's district, age band and station, and the
statistics frozen at close.

Written by hand (Piccolo's --auto re-adds earlier hand-written steps); additive only.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Cycle(Table, tablename="pb_cycle", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-12-07T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb participation statistics: district, age band and station of a participation; frozen statistics"


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
    manager.add_table(class_name="ParticipationStats", tablename="pb_participation_stats", schema=None, columns=None)
    cycle = _params(
        references=Cycle, on_delete=OnDelete.cascade, on_update=OnUpdate.cascade, target_column=None,
        null=True, unique=True,
    )
    columns = [
        ("Participation", "pb_participation", "district_code", Varchar, _params(length=5, default=None, null=True)),
        ("Participation", "pb_participation", "age_band", Varchar, _params(length=10, default=None, null=True)),
        ("Participation", "pb_participation", "station", Integer, _params(default=None, null=True)),
        ("ParticipationStats", "pb_participation_stats", "cycle", ForeignKey, cycle),
        ("ParticipationStats", "pb_participation_stats", "snapshot", Text, _params(default="")),
        ("ParticipationStats", "pb_participation_stats", "frozen_at", Timestamptz, _params(default=TimestamptzNow())),
    ]
    for class_name, tablename, name, column_class, params in columns:
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
