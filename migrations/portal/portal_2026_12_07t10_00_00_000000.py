"""Follow and notify (issue #14): follows, notification settings, the mail outbox, and the event key and
kind of each notification.

Written by hand (Piccolo's --auto re-adds tables of earlier hand-written migrations). Additive only: the
new notification columns are nullable; the unique indexes come in the next migration, because Piccolo
runs raw steps before the columns of the same migration exist.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    Boolean,
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

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "follows, notification settings, mail outbox; notification kind and event key"


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


def _user(unique=False):
    return ForeignKey, _params(
        references=User,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        default=None,
        index=True,
        unique=unique,
    )


def _text(length, default=""):
    return Varchar, _params(length=length, default=default)


NOW = (Timestamptz, _params(default=TimestamptzNow()))
MAYBE_TIME = (Timestamptz, _params(default=None, null=True))

TABLES = {
    ("Follow", "portal_follow"): {
        "user": _user(),
        "target_kind": _text(20),
        "target_id": (Integer, _params(default=0)),
        "created_at": NOW,
    },
    ("NotificationSetting", "portal_notification_setting"): {
        "user": _user(unique=True),
        "app_off": _text(400),
        "mail_off": _text(400),
        "mail_mode": _text(10, "immediate"),
        "updated_at": NOW,
    },
    ("MailOutboxItem", "portal_mail_outbox"): {
        "user": _user(),
        "event_key": (Varchar, _params(length=200, default=None, null=True)),
        "kind": _text(30),
        "message": (Text, _params(default="")),
        "params": (JSON, _params(default="{}")),
        "link": _text(300),
        "digest": (Boolean, _params(default=False)),
        "due_at": (Timestamptz, _params(default=TimestamptzNow(), index=True)),
        "status": (Varchar, _params(length=10, default="pending", index=True)),
        "claimed_at": MAYBE_TIME,
        "claimed_by": (Varchar, _params(length=64, default=None, null=True)),
        "sent_at": MAYBE_TIME,
        "last_error": (Varchar, _params(length=200, default=None, null=True)),
        "created_at": NOW,
    },
}
NOTIFICATION_COLUMNS = {
    "kind": (Varchar, _params(length=30, default=None, null=True)),
    "event_key": (Varchar, _params(length=200, default=None, null=True)),
}


def _add_columns(manager, class_name, tablename, columns):
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


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="portal", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        _add_columns(manager, class_name, tablename, columns)
    _add_columns(manager, "Notification", "portal_notification", NOTIFICATION_COLUMNS)
    return manager
