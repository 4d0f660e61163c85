"""Piccolo app for participatory budgeting proposals."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from proposals.community_tables import Comment, CommentReport, ProposalSupport, ShortlistEntry
from proposals.tables import Proposal

APP_CONFIG = AppConfig(
    app_name="proposals",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "proposals"),
    table_classes=[Proposal, ProposalSupport, ShortlistEntry, Comment, CommentReport],
    migration_dependencies=["voting.piccolo_app", "portal.piccolo_app"],
    commands=[],
)
