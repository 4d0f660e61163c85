"""Delivery tracking of funded projects: status, milestones, photos and spending (issue 14, part 6).

Written by hand (Piccolo's --auto re-adds tables of earlier hand-written migrations).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    BigInt,
    Boolean,
    Date,
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
DESCRIPTION = "PB delivery tracking: deliveries, milestones, photos, payments"


class Cycle(Table, tablename="pb_cycle", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Pot(Table, tablename="pb_pot", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class User(Table, tablename="portal_user", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


class Delivery(Table, tablename="pb_delivery", schema=None):
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


MOMENT = (Timestamptz, _params(default=None, null=True))
SOURCE = (Varchar, _params(length=20, default="official"))
EXTERNAL_KEY = (Varchar, _params(length=64, default=""))

TABLES = {
    ("Delivery", "pb_delivery"): {
        "cycle": _fk(Cycle, index=True),
        "pot": _fk(Pot),
        "project": (Integer, _params(default=0, unique=True)),
        "project_code": (Varchar, _params(length=20, default="")),
        "status": (Varchar, _params(length=20, default="planned")),
        "status_reason": (Text, _params(default="")),
        "status_changed_at": MOMENT,
        "updated_at": MOMENT,
        "created_at": MOMENT,
    },
    ("DeliveryMilestone", "pb_delivery_milestone"): {
        "delivery": _fk(Delivery, index=True),
        "title": (Varchar, _params(length=200, default="")),
        "due_on": (Date, _params(default=None, null=True)),
        "done": (Boolean, _params(default=False)),
        "source": SOURCE,
        "external_key": EXTERNAL_KEY,
        "updated_at": MOMENT,
        "created_at": MOMENT,
    },
    ("DeliveryPhoto", "pb_delivery_photo"): {
        "delivery": _fk(Delivery, index=True),
        "file_id": (Varchar, _params(length=64, default="")),
        "alt_text": (Varchar, _params(length=300, default="")),
        "added_by": _fk(User),
        "added_at": MOMENT,
    },
    ("DeliveryPayment", "pb_delivery_payment"): {
        "delivery": _fk(Delivery, index=True),
        "amount": (BigInt, _params(default=0)),
        "paid_on": (Date, _params(default=None, null=True)),
        "note": (Varchar, _params(length=200, default="")),
        "source": SOURCE,
        "external_key": EXTERNAL_KEY,
        "entered_by": _fk(User),
        "created_at": MOMENT,
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
