"""Approval of a selection by two different officials (V8): the second decides the edition and hands
the award batch to the connector in the same transaction."""

from __future__ import annotations

from judging.services import awards, public_vote
from judging.services.common import require_undecided, selection_step
from judging.services.selection import STALE_MESSAGES, approvals_of, get_selection, stale_reason
from judging.tables import Edition, Selection, SelectionApproval
from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError


async def approve_selection(official_id: int, selection_id: int) -> bool:
    """Record one official's approval; the second different official makes it final (V8).

    A selection whose edition rules or score sheet changed since it was computed is marked stale
    and refused. The final approval decides the edition and writes the award batch to the
    connector's outbox in the same transaction (A5). Returns True when the selection became approved.
    """
    selection = await get_selection(selection_id)
    if selection["status"] == "proposed":
        reason = await stale_reason(selection)
        if reason:
            async with write_transaction(lock_key=f"challenge-edition-{selection['edition']}"):
                current = await get_selection(selection_id)
                if current["status"] == "proposed":
                    await selection_step(current, "stale", official_id, reason=reason)
    async with write_transaction(lock_key=f"challenge-edition-{selection['edition']}"):
        selection = await get_selection(selection_id)
        if selection["status"] == "stale":
            raise ConflictError(
                STALE_MESSAGES.get(selection["stale_reason"], STALE_MESSAGES["rules"])
            )
        if selection["status"] == "approved":
            raise ConflictError("The winners are already approved.")
        if selection["status"] != "proposed":
            raise ConflictError("Only a proposed selection can be approved.")
        await require_undecided(selection["edition"], "The winners are already approved.")
        approvals = await approvals_of(selection_id)
        if any(a["official"] == official_id for a in approvals):
            raise ConflictError(
                "You already approved this selection; a second, different official must approve it."
            )
        now = clock.now()
        await SelectionApproval.insert(
            SelectionApproval(selection=selection_id, official=official_id, approved_at=now)
        )
        final = len({a["official"] for a in approvals} | {official_id}) >= 2
        await audit.record(
            "challenge.selection.approved",
            actor_id=official_id,
            subject=f"selection:{selection_id}",
            final=final,
        )
        if final:
            await selection_step(selection, "approved", official_id)
            await Selection.update({Selection.approved_at: now}).where(
                Selection.id == selection_id
            )
            await Edition.update({Edition.state: "decided", Edition.decided_at: now}).where(
                Edition.id == selection["edition"]
            )
            await audit.record(
                "challenge.edition.state",
                actor_id=official_id,
                subject=f"edition:{selection['edition']}",
                old="open",
                new="decided",
                selection=selection_id,
            )
            await awards.enqueue_award_batch(selection_id, official_id)
            await public_vote.forget_signals(selection["edition"], official_id)
    if final:
        await awards.notify_outcome(selection_id)
    return final
