"""What the followers of a proposal hear when officials decide on it (``portal.notifications``).

The author hears through their own notice (``review._record_decision``), so is left out here. Event key:
``pb-proposal-{id}:{status}:{reviewed at}``, one per decision (a proposal may be reviewed again before
voting opens; each decision is told once).
"""

from __future__ import annotations

import datetime as dt

from portal.notifications import FollowTarget, announce
from proposals.services.browsing import ProposalRecord
from proposals.tables import Proposal

MESSAGES = {
    "feasible": 'A proposal you follow, "%(title)s", was found feasible and will be on the ballot.',
    "infeasible": 'A proposal you follow, "%(title)s", was found not feasible. Reason: %(reason)s',
    "merged": 'A proposal you follow, "%(title)s", was merged with a similar proposal, "%(other)s".',
}


async def decision_made(found: ProposalRecord, status: str, reason: str, at: dt.datetime, merged_into: int | None) -> None:
    """Tell the proposal's followers about an official's decision, in the decision's transaction."""
    if status not in MESSAGES:
        return
    params = {"title": found.title, "reason": reason}
    link = f"/pb/proposals/{found.id}"
    if merged_into is not None:
        other = await Proposal.select(Proposal.title).where(Proposal.id == merged_into).first()
        params["other"] = other["title"] if other else ""
        link = f"/pb/proposals/{merged_into}"
    await announce(
        f"pb-proposal-{found.id}:{status}:{at:%Y%m%dT%H%M%S%f}",
        "proposal-merged" if status == "merged" else "proposal-reviewed",
        MESSAGES[status],
        targets=[("proposal", found.id)],
        exclude=[found.author] if found.author else [],
        params=params,
        link=link,
    )


async def describe_proposal(proposal_id: int) -> FollowTarget | None:
    """The ``follow.proposal`` service: a proposal's title and page (withdrawn ones cannot be followed)."""
    row = await Proposal.select(Proposal.title, Proposal.status).where(Proposal.id == proposal_id).first()
    if row is None or row["status"] == "withdrawn":
        return None
    return FollowTarget(row["title"], f"/pb/proposals/{proposal_id}")
