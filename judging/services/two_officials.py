"""Approval by two different officials (V8), one implementation for the final selection and every stage's
advancement decision.

A proposed record is first checked against what it was computed from: when that changed it is marked
stale (audited) and refused. Otherwise the official's approval is recorded (audited); the same official
twice is refused; the second different official makes it final: the record is approved, stamped and
the caller's ``on_final`` runs in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from piccolo.columns import ForeignKey
from piccolo.table import Table

from portal import audit, clock
from portal.db import write_transaction
from portal.errors import Conflict as ConflictError

Record = dict[str, Any]


async def _nothing(_record: Record) -> None:
    return None


async def _nothing_final(_record: Record, _official_id: int, _now: dt.datetime) -> None:
    return None


@dataclass(frozen=True)
class TwoOfficials:
    """What differs between approving a selection and a stage decision."""

    table: type[Table]  # the approved record (a ``status``, ``approved_at`` and ``edition`` column)
    approval_table: type[Table]  # one row per approval: the record, the official, when
    approval_key: ForeignKey  # the approval table's column naming the record
    subject: str  # audit subjects "<subject>:<id>"
    approved_action: str  # audit action of one approval
    load: Callable[[int], Awaitable[Record]]
    stale_reason: Callable[[Record], Awaitable[str]]  # "" while it still matches its inputs
    stale_message: Callable[[Record], str]
    step: Callable[..., Awaitable[None]]  # (record, new status, actor, **details), audited
    twice_message: str
    not_proposed_message: str
    approved_message: str  # what a second look at an approved record says
    check: Callable[[Record], Awaitable[None]] = _nothing  # inside the transaction, before recording
    on_final: Callable[[Record, int, dt.datetime], Awaitable[None]] = _nothing_final


async def approvals_in(table: type[Table], key: ForeignKey, record_id: int) -> list[Record]:
    """A record's approvals in order, with each official's email."""
    return (
        await table.select(
            table.official,  # type: ignore[attr-defined]
            table.approved_at,  # type: ignore[attr-defined]
            table.official.email.as_alias("email"),  # type: ignore[attr-defined]
        )
        .where(key == record_id)
        .order_by(table.id)
    )


async def approve(flow: TwoOfficials, official_id: int, record_id: int) -> bool:
    """Record one official's approval; True when it was the second, different one (final)."""
    record = await flow.load(record_id)
    lock = f"challenge-edition-{record['edition']}"
    if record["status"] == "proposed":
        reason = await flow.stale_reason(record)
        if reason:
            async with write_transaction(lock_key=lock):
                current = await flow.load(record_id)
                if current["status"] == "proposed":
                    await flow.step(current, "stale", official_id, reason=reason)
    async with write_transaction(lock_key=lock):
        record = await flow.load(record_id)
        if record["status"] == "stale":
            raise ConflictError(flow.stale_message(record))
        if record["status"] == "approved":
            raise ConflictError(flow.approved_message)
        if record["status"] != "proposed":
            raise ConflictError(flow.not_proposed_message)
        await flow.check(record)
        approvals = await approvals_in(flow.approval_table, flow.approval_key, record_id)
        if any(a["official"] == official_id for a in approvals):
            raise ConflictError(flow.twice_message)
        now = clock.now()
        await flow.approval_table.insert(
            flow.approval_table(
                **{flow.approval_key._meta.name: record_id, "official": official_id, "approved_at": now}
            )
        )
        final = len({a["official"] for a in approvals} | {official_id}) >= 2
        await audit.record(
            flow.approved_action,
            actor_id=official_id,
            subject=f"{flow.subject}:{record_id}",
            final=final,
        )
        if final:
            await flow.step(record, "approved", official_id)
            table = flow.table
            await table.update({table.approved_at: now}).where(table.id == record_id)  # type: ignore[attr-defined]
            await flow.on_final(record, official_id, now)
    return final
