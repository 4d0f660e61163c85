"""Result approval by two different officials, and the allocation batch it sends to the city (V8)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from portal import audit, clock
from portal.canonical import canonical_json
from portal.connector.batches import AllocationLine, BatchHeader, allocation_batch
from portal.connector.services import enqueue_batch
from portal.db import write_transaction
from portal.districts import district_name
from portal.errors import Conflict
from voting.compute.rules import CITY_WIDE_CODE, ballots_sha256
from voting.projects import cycle_projects
from voting.services import screening
from voting.services.cycles import get_cycle, pots_of
from voting.services.lifecycle import advance_cycle, enter_state
from voting.services.results import current_runs, require_closed, results_of
from voting.tables import Cycle, ResultApproval


@dataclass(frozen=True)
class Approval:
    """One official's approval of a cycle's results."""

    official_id: int
    display_name: str
    approved_at: dt.datetime


async def approvals_of(cycle_id: int) -> list[Approval]:
    """The approvals of a cycle's results, in the order they were given."""
    rows = (
        await ResultApproval.select(
            ResultApproval.official,
            ResultApproval.approved_at,
            ResultApproval.official.display_name,
        )
        .where(ResultApproval.cycle == cycle_id)
        .order_by(ResultApproval.id)
    )
    return [
        Approval(r["official"], r["official.display_name"], r["approved_at"]) for r in rows
    ]


async def approve_results(cycle_id: int, official_id: int) -> int:
    """Record an official's approval; the second different official's approval enqueues the city push (V8).

    Returns the number of approvals. The outbox row is written in the same transaction (A5).
    """
    await advance_cycle(cycle_id, official_id)
    cycle, _, _ = await results_of(cycle_id)
    await screening.require_acknowledged(cycle_id)
    async with write_transaction(lock_key=f"pb-cycle-{cycle_id}"):
        existing = await ResultApproval.select(ResultApproval.official).where(
            ResultApproval.cycle == cycle_id
        )
        if any(r["official"] == official_id for r in existing):
            raise Conflict(
                "You have already approved these results; a different official must approve them too."
            )
        cycle = await Cycle.select().where(Cycle.id == cycle_id).first()
        if cycle["state"] != "closed":
            raise Conflict("These results are already approved.")
        await ResultApproval.insert(
            ResultApproval(cycle=cycle_id, official=official_id, approved_at=clock.now())
        )
        count = len(existing) + 1
        await audit.record(
            "pb.results.approved",
            actor_id=official_id,
            subject=f"pb-cycle:{cycle_id}",
            approvals=count,
        )
        if count == 2:
            cycle = await enter_state(cycle, "approved", official_id, clock.now(), by="official")
            await screening.forget_signals(official_id, cycle_id)  # addresses are kept only until now
            payload = await allocation_batch_payload(cycle_id)
            if payload is not None:
                await enqueue_batch(
                    "allocation",
                    payload,
                    title=cycle["name"],
                    source=f"pb-cycle:{cycle_id}",
                    actor_id=official_id,
                )
    return count


def batch_id_of(cycle: dict[str, Any]) -> str:
    return f"seoul-pb-{cycle['fiscal_year']}-c{cycle['id']}"


async def allocation_batch_payload(cycle_id: int) -> dict[str, Any] | None:
    """The contract v1 allocation batch of a closed, approved cycle (None if nothing was funded).

    Shared with the connector so both build the same body. ``revision`` is left to the outbox.
    """
    cycle = await get_cycle(cycle_id)
    require_closed(cycle)
    approvals = (
        await ResultApproval.select()
        .where(ResultApproval.cycle == cycle_id)
        .order_by(ResultApproval.id)
    )
    if len(approvals) < 2:
        raise Conflict("Two different officials must approve the results first.")
    runs = [r for r in await current_runs(cycle_id) if r["official"]]
    pots = {p["id"]: p for p in await pots_of(cycle_id)}
    titles = {p.id: p for p in await cycle_projects(cycle_id)}
    lines = []
    for run in runs:
        pot = pots[run["pot"]]
        code = pot["district_code"] or CITY_WIDE_CODE
        name = district_name(code, "en") or "Seoul Metropolitan Government (city-wide)"
        votes = {p["id"]: p["votes"] for p in run["outcome"]["projects"]}
        costs = {p["id"]: p["cost"] for p in run["outcome"]["projects"]}
        for rank, pid in enumerate(run["outcome"]["selected"], start=1):
            lines.append(
                AllocationLine(
                    line_id=f"{cycle['fiscal_year']}-{pid:05d}",
                    project_code=f"PB-{pid:05d}",
                    title=titles[pid].title[:300] if pid in titles else f"PB-{pid}",
                    district_code=code,
                    district_name=name,
                    category=titles[pid].category if pid in titles else "other",
                    amount=costs[pid],
                    votes=votes[pid],
                    rank=rank,
                    rule=run["rule"],
                )
            )
    if not lines:
        return None
    digest = ballots_sha256([canonical_json(r["outcome"]) for r in runs])
    header = BatchHeader(
        batch_id=batch_id_of(cycle),
        revision=1,
        fiscal_year=cycle["fiscal_year"],
        cycle=cycle["name"][:300],
        approvals=[(f"u-{a['official']}", a["approved_at"]) for a in approvals],
        generated_at=clock.now(),
        closed_at=cycle["closed_early_at"] or cycle["voting_close_at"],
        results_sha256=digest,
        audit_head=await audit.head(),
    )
    payload = allocation_batch(header, lines)
    payload["revision"] = None
    return payload


