"""Piccolo app for participatory budgeting proposals."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from proposals.tables import Proposal

APP_CONFIG = AppConfig(
    app_name="proposals",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "proposals"),
    table_classes=[Proposal],
    migration_dependencies=["voting.piccolo_app", "portal.piccolo_app"],
    commands=[],
)
