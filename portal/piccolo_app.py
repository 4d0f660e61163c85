"""Piccolo app for accounts, sessions, audit and notifications."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from portal.tables import (
    AuditEvent,
    Follow,
    LoginThrottle,
    MailOutboxItem,
    Notification,
    NotificationSetting,
    PasswordResetRequest,
    PasswordResetToken,
    ResidentHash,
    SessionRecord,
    StoredFile,
    User,
)

APP_CONFIG = AppConfig(
    app_name="portal",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "portal"),
    table_classes=[
        User, SessionRecord, AuditEvent, PasswordResetToken, PasswordResetRequest,
        LoginThrottle, Notification, ResidentHash, StoredFile,
        Follow, NotificationSetting, MailOutboxItem,
    ],
    migration_dependencies=[],
    commands=[],
)
