"""Approval of a selection by two different officials (V8, ``two_officials``): the second decides the
edition and hands the award batch to the connector in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from judging.services import awards, public_vote
from judging.services.common import require_undecided, selection_step
from judging.services.final_ranking import is_blend
from judging.services.selection import get_selection, stale_message, stale_reason
from judging.services.stages import require_public_vote_acknowledged
from judging.services.two_officials import TwoOfficials, approve
from judging.tables import Edition, Selection, SelectionApproval
from portal import audit

DECIDED = "The winners are already approved."
ANOMALY_MESSAGE = (
    "Acknowledge the public vote's anomaly report on the blend page before approving these winners."
)


async def _before_approval(selection: dict[str, Any]) -> None:
    """A selection on the blend waits for the public vote's acknowledged anomaly report, as a stage does."""
    if is_blend(selection):
        await require_public_vote_acknowledged(selection["round"], ANOMALY_MESSAGE)
    await require_undecided(selection["edition"], DECIDED)


async def _decide_edition(selection: dict[str, Any], official_id: int, now: dt.datetime) -> None:
    """The final approval decides the edition and queues the award batch (A5), in its transaction."""
    await Edition.update({Edition.state: "decided", Edition.decided_at: now}).where(
        Edition.id == selection["edition"]
    )
    await audit.record(
        "challenge.edition.state",
        actor_id=official_id,
        subject=f"edition:{selection['edition']}",
        old="open",
        new="decided",
        selection=selection["id"],
    )
    await awards.enqueue_award_batch(selection["id"], official_id)
    await public_vote.forget_signals(selection["edition"], official_id)


SELECTION_APPROVAL = TwoOfficials(
    table=Selection,
    approval_table=SelectionApproval,
    approval_key=SelectionApproval.selection,
    subject="selection",
    approved_action="challenge.selection.approved",
    load=get_selection,
    stale_reason=stale_reason,
    stale_message=stale_message,
    step=selection_step,
    twice_message="You already approved this selection; a second, different official must approve it.",
    not_proposed_message="Only a proposed selection can be approved.",
    approved_message=DECIDED,
    check=_before_approval,
    on_final=_decide_edition,
)


async def approve_selection(official_id: int, selection_id: int) -> bool:
    """Record one official's approval; the second different official makes it final (V8).

    A selection whose edition rules or ranked sheet changed since it was computed is marked stale
    and refused. The final approval decides the edition and writes the award batch to the
    connector's outbox in the same transaction (A5). Returns True when the selection became approved.
    """
    final = await approve(SELECTION_APPROVAL, official_id, selection_id)
    if final:
        await awards.notify_outcome(selection_id)
    return final
