"""Piccolo app for the AI 50 Challenge (editions, entries, judges, reviews, selections)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from judging.citizen_tables import (
    CitizenStage,
    PanelMember,
    PanelScore,
    PublicVote,
    PublicVoteSignal,
)
from judging.tables import (
    Assignment,
    Attachment,
    Bid,
    Conflict,
    Edition,
    Entry,
    FeedbackFigures,
    FeedbackModeration,
    FeedbackRelease,
    JudgeInvitation,
    JudgeProfile,
    Organization,
    OrganizationInvitation,
    OrganizationMember,
    Review,
    ReviewComment,
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
        CitizenStage,
        PanelMember,
        PanelScore,
        PublicVote,
        PublicVoteSignal,
        JudgeInvitation,
        Bid,
        ReviewComment,
        FeedbackModeration,
        FeedbackRelease,
        FeedbackFigures,
    ],
    migration_dependencies=["portal.piccolo_app"],
    commands=[],
)
