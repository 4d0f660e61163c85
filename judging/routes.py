"""Every AI 50 Challenge route handler, as ``judging/manifest.py`` mounts them."""

from __future__ import annotations

from judging.api.collaboration import JudgeCollaborationApi
from judging.api.feedback import OfficialFeedbackApi, StartupFeedbackApi
from judging.api.intake import EntryApi
from judging.api.judging import JudgeApi, OfficialChallengeApi
from judging.pages.citizens import CitizenPanelPages, PublicVotePages
from judging.pages.feedback import OfficialFeedbackPages, StartupFeedbackPages
from judging.pages.judges import JudgePages
from judging.pages.judges_bids import JudgeBidPages, JudgeInvitationPages
from judging.pages.officials import OfficialChallengePages
from judging.pages.officials_citizens import OfficialCitizenPages
from judging.pages.officials_judges import OfficialJudgePages
from judging.pages.officials_rounds import OfficialRoundPages
from judging.pages.officials_stages import OfficialStagePages
from judging.pages.onboarding import OnboardingPages
from judging.pages.startups import ChallengePages, StartupPages

ROUTE_HANDLERS = [
    ChallengePages,
    StartupPages,
    EntryApi,
    OfficialChallengePages,
    OfficialRoundPages,
    OfficialStagePages,
    JudgePages,
    OfficialFeedbackPages,
    StartupFeedbackPages,
    JudgeApi,
    OfficialChallengeApi,
    OfficialCitizenPages,
    CitizenPanelPages,
    PublicVotePages,
    # Issue 13: judges' bids, invitations and discussion; self-service onboarding; officials' people pages.
    JudgeBidPages,
    JudgeInvitationPages,
    OfficialJudgePages,
    OnboardingPages,
    # /api/v1 over the same services: bids, discussion, feedback.
    JudgeCollaborationApi,
    StartupFeedbackApi,
    OfficialFeedbackApi,
]
