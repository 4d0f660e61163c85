"""Piccolo app of the city budget connector (the outbox)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from portal.connector.tables import OutboxAttempt, OutboxBatch

APP_CONFIG = AppConfig(
    app_name="connector",
    migrations_folder_path=str(Path(__file__).resolve().parents[2] / "migrations" / "connector"),
    table_classes=[OutboxBatch, OutboxAttempt],
    migration_dependencies=[],
    commands=[],
)
