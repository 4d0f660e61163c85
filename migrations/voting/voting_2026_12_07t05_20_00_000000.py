"""Stations at work (issue #12): one-time tablet ballots and each station's counts of ballots issued.

Written by hand (Piccolo's --auto re-adds earlier hand-written steps); additive only.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Station(Table, tablename="pb_station", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, index_method=IndexMethod.btree,
                choices=None, db_column_name="id", secret=False)


ID = "2026-12-07T05:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pb kiosk ballots (one-time tablet ballots) and station counts"


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


def _station(**extra):
    return _params(
        references=Station, on_delete=OnDelete.cascade, on_update=OnUpdate.cascade, target_column=None,
        **{"null": True, **extra},
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)
    manager.add_table(class_name="KioskBallot", tablename="pb_kiosk_ballot", schema=None, columns=None)
    manager.add_table(class_name="StationCount", tablename="pb_station_count", schema=None, columns=None)
    columns = [
        ("KioskBallot", "pb_kiosk_ballot", "token_hash", Varchar, _params(length=64, default="", unique=True)),
        ("KioskBallot", "pb_kiosk_ballot", "station", ForeignKey, _station(index=True)),
        ("KioskBallot", "pb_kiosk_ballot", "district_code", Varchar, _params(length=5, default="")),
        ("KioskBallot", "pb_kiosk_ballot", "expires_at", Timestamptz, _params(default=TimestamptzNow())),
        ("StationCount", "pb_station_count", "station", ForeignKey, _station(unique=True)),
        ("StationCount", "pb_station_count", "tablet_ballots", Integer, _params(default=0)),
        ("StationCount", "pb_station_count", "paper_ballots", Integer, _params(default=0)),
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
