"""Fraud screening: keyed client signals, the cast links quarantine needs, quarantines, acknowledgements.

Written by hand (Piccolo's --auto re-adds tables of earlier hand-written migrations).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-07T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PB fraud screening: signals, cast links, quarantines, acknowledgements"


class Cycle(Table, tablename="pb_cycle", schema=None):
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


def _fk(references, index=False, null=True):
    return ForeignKey, _params(
        references=references,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        null=null,
        index=index,
    )


KEY = (Varchar, _params(length=32, default=""))
MINUTE = (Timestamptz, _params(default=None, null=True))

TABLES = {
    ("ScreenSignal", "pb_screen_signal"): {
        "cycle": _fk(Cycle, index=True),
        "kind": (Varchar, _params(length=12, default="")),
        "address_key": KEY,
        "device_key": KEY,
        "minute": MINUTE,
        "events": (Integer, _params(default=0)),
    },
    ("ScreenCast", "pb_screen_cast"): {
        "cycle": _fk(Cycle, index=True),
        "address_key": KEY,
        "device_key": KEY,
        "minute": MINUTE,
        "ballot_tag": (Varchar, _params(length=64, default="")),
    },
    ("Quarantine", "pb_quarantine"): {
        "cycle": _fk(Cycle, index=True),
        "group_id": (Varchar, _params(length=64, default="")),
        "reason": (Text, _params(default="")),
        "ballot_tags": (Text, _params(default="")),
        "ballots": (Integer, _params(default=0)),
        "official": _fk(User),
        "quarantined_at": MINUTE,
    },
    ("ScreeningAck", "pb_screening_ack"): {
        "cycle": _fk(Cycle, index=True),
        "official": _fk(User),
        "flags": (Integer, _params(default=0)),
        "report_sha256": (Varchar, _params(length=64, default="")),
        "acknowledged_at": MINUTE,
    },
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)
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
