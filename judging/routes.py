"""Every AI 50 Challenge route handler, as ``judging/manifest.py`` mounts them."""

from __future__ import annotations

from judging.api.judging import JudgeApi, OfficialChallengeApi
from judging.pages.judges import JudgePages
from judging.pages.officials import OfficialChallengePages
from judging.pages.officials_rounds import OfficialRoundPages
from proposals.entry_routes import ROUTE_HANDLERS as ENTRY_ROUTE_HANDLERS

ROUTE_HANDLERS = [
    *ENTRY_ROUTE_HANDLERS,
    OfficialChallengePages,
    OfficialRoundPages,
    JudgePages,
    JudgeApi,
    OfficialChallengeApi,
]
