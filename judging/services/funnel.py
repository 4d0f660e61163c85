"""Which entries a stage holds: the screened-in entries that advanced from every earlier stage.

Read-only, no transactions: assignment, coverage and the stage pages ask it; the state machine that
moves stages and approves their advancement is ``judging/services/stages.py``. A stage whose advance
rule is empty lets everyone through (the editions created before stages existed work so).
"""

from __future__ import annotations

from typing import Any

from judging.services.editions import SCORING_KINDS, entries_of, get_round, rounds_of
from judging.tables import StageDecision
from portal.errors import Conflict as ConflictError


async def approved_decision(round_id: int) -> dict[str, Any] | None:
    """The stage's approved advancement decision, if two officials approved one."""
    return (
        await StageDecision.select()
        .output(load_json=True)
        .where((StageDecision.round == round_id) & (StageDecision.status == "approved"))
        .first()
    )


async def previous_stage(rnd: dict[str, Any]) -> dict[str, Any] | None:
    """The scoring stage just before ``rnd`` in its edition (None for the first)."""
    earlier = [
        r
        for r in await rounds_of(rnd["edition"])
        if r["kind"] in SCORING_KINDS and r["position"] < rnd["position"]
    ]
    return earlier[-1] if earlier else None


async def advanced_ids(round_id: int) -> set[int] | None:
    """Entry ids allowed into the stage: None for every screened-in entry.

    Raises ``Conflict`` while an earlier stage with an advance rule has no approved decision.
    """
    rnd = await get_round(round_id)
    allowed: set[int] | None = None
    stage = await previous_stage(rnd)
    while stage is not None:  # nearest first: the nearest rule already holds the earlier ones
        if stage["advance_rule"]:
            decision = await approved_decision(stage["id"])
            if decision is None:
                raise ConflictError(
                    "The previous stage's advancement is not approved yet; no entry can enter this stage."
                )
            allowed = set(decision["result"]["advancing_ids"])
            break
        stage = await previous_stage(stage)
    return allowed


async def stage_entries(round_id: int, *, strict: bool = True) -> list[dict[str, Any]]:
    """The screened-in entries of the stage (those that advanced into it), in id order.

    With ``strict=False`` a stage still waiting for its predecessor's decision holds no entries
    instead of raising.
    """
    rnd = await get_round(round_id)
    try:
        allowed = await advanced_ids(round_id)
    except ConflictError:
        if strict:
            raise
        return []
    entries = await entries_of(rnd["edition"], ("screened-in",))
    return entries if allowed is None else [e for e in entries if e["id"] in allowed]


async def require_stage_open(round_id: int) -> None:
    """Refuse a change to a stage whose advancement two officials approved (inside the transaction)."""
    rnd = await get_round(round_id)
    if rnd["stage_state"] == "decided":
        raise ConflictError("This stage's advancement is approved; the stage can no longer change.")
