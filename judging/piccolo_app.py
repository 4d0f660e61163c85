"""Piccolo app for the AI 50 Challenge (editions, entries, judges, reviews, selections)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from judging.tables import (
    Assignment,
    Attachment,
    Conflict,
    Edition,
    Entry,
    FeedbackModeration,
    FeedbackRelease,
    JudgeProfile,
    Organization,
    OrganizationInvitation,
    OrganizationMember,
    Review,
    Round,
    ScreeningDecision,
    Selection,
    SelectionApproval,
    StageDecision,
    StageDecisionApproval,
)

APP_CONFIG = AppConfig(
    app_name="judging",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations" / "judging"),
    table_classes=[
        Edition,
        Round,
        Organization,
        OrganizationMember,
        OrganizationInvitation,
        Entry,
        Attachment,
        ScreeningDecision,
        JudgeProfile,
        Conflict,
        Assignment,
        Review,
        Selection,
        SelectionApproval,
        StageDecision,
        StageDecisionApproval,
        FeedbackModeration,
        FeedbackRelease,
    ],
    migration_dependencies=["portal.piccolo_app"],
    commands=[],
)
