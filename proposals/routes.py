"""PB proposal pages, as the manifest mounts them: citizens' intake and browsing, officials' review."""

from proposals.pages.citizens import ProposalPages
from proposals.pages.community import CommunityPages
from proposals.pages.moderation import ModerationPages, SupportPhasePages
from proposals.pages.officials import ProposalReviewPages

ROUTE_HANDLERS = [
    ProposalPages,
    ProposalReviewPages,
    CommunityPages,
    SupportPhasePages,
    ModerationPages,
]
